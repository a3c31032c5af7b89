//! The costs page: spend per day stacked by model or team, totals with cache
//! savings, top prompts and keys, budget use; the same reports as
//! `GET /v1/costs` (one store aggregation each), and their CSV.

use std::fmt::Write as _;

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

use super::chart::{stacked_by_day, Point};
use super::html::{esc, given, table, table_or, text_input, url};
use super::session::{error_page, Viewer};
use crate::api::{ApiError, ApiResult};
use crate::costs::report::CostsQuery;
use crate::http::costs::{csv_response, report_csv, report_query};
use crate::http::extract::AppQuery;
use crate::state::AppState;
use crate::store::{ReportQuery, ReportRow};

/// The page's query: the cost API's range and team, and what the chart stacks by.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CostsForm {
    from: Option<String>,
    to: Option<String>,
    /// `model` (default) or `team`.
    by: Option<String>,
    team: Option<String>,
}

impl CostsForm {
    fn by(&self) -> Result<&str, ApiError> {
        match self.by.as_deref().unwrap_or("model") {
            "" | "model" => Ok("model"),
            "team" => Ok("team"),
            other => Err(ApiError::invalid(
                format!("'by' must be model or team, got {other:?}"),
                Some("by"),
            )),
        }
    }

    /// The cost API's query for grouping by `group_by`.
    fn query(&self, group_by: &str) -> CostsQuery {
        CostsQuery {
            from: given(&self.from),
            to: given(&self.to),
            group_by: Some(group_by.to_owned()),
            format: None,
            team: given(&self.team),
        }
    }

    /// This form as a query string (for the CSV link).
    fn pairs(&self) -> String {
        [
            ("from", &self.from),
            ("to", &self.to),
            ("by", &self.by),
            ("team", &self.team),
        ]
        .iter()
        .filter_map(|(k, v)| given(v).map(|v| format!("{k}={}", url(&v))))
        .collect::<Vec<_>>()
        .join("&")
    }
}

async fn report(
    state: &AppState,
    viewer: &Viewer,
    q: &CostsQuery,
) -> ApiResult<(ReportQuery, Vec<ReportRow>)> {
    let query = report_query(&viewer.caller, q)?;
    let rows = state.store.cost_report(&query).await?;
    Ok((query, rows))
}

fn usd(pusd: i128) -> String {
    crate::costs::format_usd(crate::costs::pico::from_pico(pusd))
}

pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    AppQuery(form): AppQuery<CostsForm>,
) -> Response {
    match body(&state, &viewer, &form).await {
        Ok(body) => super::session::page(&viewer, "/ui/costs", "Costs", &body),
        Err(e) => error_page(&viewer, "/ui/costs", "Costs", e),
    }
}

/// The day-by-series report as CSV (the cost API's CSV, `group_by=day,<by>`).
pub async fn csv(
    State(state): State<AppState>,
    viewer: Viewer,
    AppQuery(form): AppQuery<CostsForm>,
) -> Response {
    let run = async {
        let by = form.by()?;
        let (query, rows) = report(&state, &viewer, &form.query(&format!("day,{by}"))).await?;
        report_csv(&query.group_by, &rows)
    };
    match run.await {
        Ok(bytes) => csv_response(bytes),
        Err(e) => error_page(&viewer, "/ui/costs", "Costs", e),
    }
}

async fn body(state: &AppState, viewer: &Viewer, form: &CostsForm) -> ApiResult<String> {
    let by = form.by()?;
    let (range, daily) = report(state, viewer, &form.query(&format!("day,{by}"))).await?;
    let (_, totals) = report(state, viewer, &form.query("")).await?;
    let (_, prompts) = report(state, viewer, &form.query("prompt")).await?;
    let (_, keys) = report(state, viewer, &form.query("key")).await?;
    let mut out = filters(viewer, form, by, &range);

    let total = totals.first().cloned().unwrap_or_default();
    let _ = write!(
        out,
        "<div class=\"cards\">{}{}{}{}{}</div>",
        card("Spend", &format!("{} USD", usd(total.cost_pusd))),
        card("Requests", &total.requests.to_string()),
        card("Cache hits", &total.cache_hits.to_string()),
        card(
            "Saved by the cache",
            &format!("{} USD", usd(total.saved_pusd))
        ),
        card("Unpriced requests", &total.unpriced_requests.to_string()),
    );

    out.push_str("<h2>Spend per day</h2>");
    let points: Vec<Point> = daily
        .iter()
        .map(|r| Point {
            day: r.keys.first().cloned().flatten().unwrap_or_default(),
            series: r
                .keys
                .get(1)
                .cloned()
                .flatten()
                .unwrap_or_else(|| "(none)".into()),
            pusd: r.cost_pusd,
        })
        .collect();
    match stacked_by_day(&points, by) {
        Some(svg) => out.push_str(&svg),
        None => out.push_str("<p class=\"hint\" id=\"no-spend\">No spend in this range.</p>"),
    }
    let _ = write!(
        out,
        "<p><a href=\"/ui/costs.csv?{}\" download>Download CSV (per day and {by})</a></p>",
        esc(&form.pairs())
    );

    out.push_str(&top("Top prompts", "prompt", &prompts));
    out.push_str(&top("Top keys", "key", &keys));
    out.push_str(&budgets(state, viewer).await?);
    Ok(out)
}

fn card(what: &str, value: &str) -> String {
    format!(
        "<div class=\"card\"><div class=\"what\">{}</div><div class=\"value\">{}</div></div>",
        esc(what),
        esc(value)
    )
}

fn filters(viewer: &Viewer, form: &CostsForm, by: &str, range: &ReportQuery) -> String {
    let option = |v: &str| {
        let sel = if v == by { " selected" } else { "" };
        format!("<option value=\"{v}\"{sel}>{v}</option>")
    };
    let team = if viewer.is_admin() {
        text_input("team", "Team", form.team.as_deref(), "every team")
    } else {
        String::new()
    };
    format!(
        "<form method=\"get\" action=\"/ui/costs\" class=\"filters\" aria-label=\"Date range and grouping\">\
         {from}{to}<label>Stack by<select name=\"by\">{m}{t}</select></label>{team}\
         <button type=\"submit\">Show</button></form>\
         <p class=\"hint\">From {f} to {u} (UTC). Dates as YYYY-MM-DD or RFC 3339.</p>",
        from = text_input("from", "From", form.from.as_deref(), "30 days ago"),
        to = text_input("to", "To", form.to.as_deref(), "now"),
        m = option("model"),
        t = option("team"),
        f = esc(&crate::time::rfc3339(range.from_ms)),
        u = esc(&crate::time::rfc3339(range.to_ms)),
    )
}

/// The ten biggest groups by spend.
fn top(title: &str, what: &str, rows: &[ReportRow]) -> String {
    let mut rows: Vec<&ReportRow> = rows.iter().collect();
    rows.sort_by(|a, b| {
        b.cost_pusd
            .cmp(&a.cost_pusd)
            .then(b.requests.cmp(&a.requests))
    });
    let cells: Vec<Vec<String>> = rows
        .iter()
        .take(10)
        .map(|r| {
            let name = r.keys.first().cloned().flatten();
            vec![
                esc(name.as_deref().unwrap_or("(none)")),
                r.requests.to_string(),
                format!("{} USD", usd(r.cost_pusd)),
                format!("{} USD", usd(r.saved_pusd)),
            ]
        })
        .collect();
    format!(
        "<h2>{}</h2>{}",
        esc(title),
        table(
            title,
            &[what, "requests", "spend", "saved by cache"],
            &cells
        )
    )
}

/// Budget use: the viewer's team, or (admin) every team with a budget.
async fn budgets(state: &AppState, viewer: &Viewer) -> ApiResult<String> {
    let teams = match viewer.caller.team() {
        Some(team) => vec![team.to_owned()],
        None => state.budgets.teams(),
    };
    let mut rows = Vec::new();
    for team in teams {
        let usage = state
            .budgets
            .usage(&team)
            .await
            .map_err(|e| ApiError::from_dependency("the budget counter", e))?;
        let b = crate::http::admin::budget_json(&team, usage);
        let s = |k: &str| b[k].as_str().map(str::to_owned);
        let Some(limit) = s("usd") else {
            continue;
        };
        rows.push(vec![
            esc(&team),
            format!(
                "{} USD / {}",
                esc(&limit),
                esc(&s("period").unwrap_or_default())
            ),
            format!("{} USD", esc(&s("spent_usd").unwrap_or_default())),
            format!("{} USD", esc(&s("reserved_usd").unwrap_or_default())),
            format!("{} USD", esc(&s("remaining_usd").unwrap_or_default())),
        ]);
    }
    Ok(format!(
        "<h2>Budgets</h2>{}",
        table_or(
            "Budget use this period",
            &["team", "budget", "spent", "reserved", "remaining"],
            &rows,
            "no budget set",
        )
    ))
}
