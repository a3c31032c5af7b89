//! The requests page: request records searched by time, model, prompt,
//! status and tag, a page at a time (the store filters and pages), and one
//! record in full. A team key sees its own team's records only.

use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::claims::grounding_html;
use super::html::{esc, given, table, text_input, url};
use super::session::{error_page, page, Viewer};
use crate::api::{ApiError, ApiResult};
use crate::http::costs::parse_time;
use crate::http::extract::AppQuery;
use crate::http::requests::record_json;
use crate::http::team_scope::scoped_team;
use crate::state::AppState;
use crate::store::{RecordSearch, RequestRecord};

const ACTIVE: &str = "/ui/requests";
/// Records per page.
pub const PAGE: i64 = 50;

/// The search form's fields (all optional; empty means "any").
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct SearchForm {
    pub from: Option<String>,
    pub to: Option<String>,
    pub model: Option<String>,
    pub prompt: Option<String>,
    pub status: Option<String>,
    pub tag: Option<String>,
    pub team: Option<String>,
    /// The paging cursor: `<created_at ms>.<id>` of the last record shown.
    pub before: Option<String>,
}

impl SearchForm {
    /// The store search this form asks for, scoped to the viewer's team.
    pub fn search(&self, viewer: &Viewer, flagged: Option<bool>) -> ApiResult<RecordSearch> {
        let time =
            |v: &Option<String>, field: &str| given(v).map(|t| parse_time(&t, field)).transpose();
        let status = given(&self.status)
            .map(|s| {
                s.parse::<i64>().map_err(|_| {
                    ApiError::invalid(
                        "'status' must be an HTTP status such as 200",
                        Some("status"),
                    )
                })
            })
            .transpose()?;
        let before = given(&self.before)
            .map(|b| {
                b.split_once('.')
                    .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_owned())))
                    .ok_or_else(|| {
                        ApiError::invalid("'before' is not a page cursor", Some("before"))
                    })
            })
            .transpose()?;
        Ok(RecordSearch {
            team: scoped_team(&viewer.caller, given(&self.team))?,
            flagged,
            from_ms: time(&self.from, "from")?,
            to_ms: time(&self.to, "to")?,
            model: given(&self.model),
            prompt: given(&self.prompt),
            status,
            tag: given(&self.tag),
            before,
            limit: PAGE,
        })
    }

    /// This search as a query string, with another cursor.
    pub fn query_with(&self, before: &str) -> String {
        let mut pairs: Vec<String> = [
            ("from", &self.from),
            ("to", &self.to),
            ("model", &self.model),
            ("prompt", &self.prompt),
            ("status", &self.status),
            ("tag", &self.tag),
            ("team", &self.team),
        ]
        .iter()
        .filter_map(|(k, v)| given(v).map(|v| format!("{k}={}", url(&v))))
        .collect();
        pairs.push(format!("before={}", url(before)));
        pairs.join("&")
    }
}

/// The link to the page after one ending with `last` (none when the page
/// was not full).
pub fn next_link(path: &str, form: &SearchForm, records: &[RequestRecord]) -> String {
    match records.last() {
        Some(last) if records.len() as i64 == PAGE => format!(
            "<nav class=\"pager\" aria-label=\"Pages\"><a href=\"{path}?{}\" rel=\"next\">Older records</a></nav>",
            esc(&form.query_with(&format!("{}.{}", last.created_at, last.id)))
        ),
        _ => String::new(),
    }
}

pub fn record_link(r: &RequestRecord) -> String {
    format!(
        "<a href=\"/ui/requests/{}\">{}</a>",
        esc(&url(&r.id)),
        esc(&r.id)
    )
}

fn usd(p: Option<i64>) -> String {
    p.map(|p| crate::costs::format_usd(crate::costs::pico::from_pico(p.into())))
        .map(|s| format!("{s} USD"))
        .unwrap_or_else(|| "unpriced".into())
}

pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    AppQuery(form): AppQuery<SearchForm>,
) -> Response {
    let run = async {
        let search = form.search(&viewer, None)?;
        Ok::<_, ApiError>(state.store.search_records(&search).await?)
    };
    let mut body = filters(&viewer, &form);
    match run.await {
        Ok(records) => {
            let rows: Vec<Vec<String>> = records
                .iter()
                .map(|r| {
                    vec![
                        esc(&crate::time::rfc3339(r.created_at)),
                        record_link(r),
                        esc(&r.team),
                        esc(r.model.as_deref().unwrap_or("")),
                        esc(&r
                            .prompt_name
                            .as_ref()
                            .map(|n| format!("{n}@{}", r.prompt_version.unwrap_or_default()))
                            .unwrap_or_default()),
                        r.status.to_string(),
                        format!("{:.1} ms", r.latency_us as f64 / 1000.0),
                        esc(&usd(r.cost_pusd)),
                        esc(r.cache.as_deref().unwrap_or("")),
                        match r.flagged {
                            Some(true) => "<span class=\"bad\">flagged</span>".into(),
                            Some(false) => "ok".into(),
                            None => String::new(),
                        },
                    ]
                })
                .collect();
            body.push_str(&table(
                "Request records, newest first",
                &[
                    "time",
                    "id",
                    "team",
                    "model",
                    "prompt",
                    "status",
                    "latency",
                    "cost",
                    "cache",
                    "grounding",
                ],
                &rows,
            ));
            body.push_str(&next_link(ACTIVE, &form, &records));
            page(&viewer, ACTIVE, "Requests", &body)
        }
        Err(e) => error_page(&viewer, ACTIVE, "Requests", e),
    }
}

fn filters(viewer: &Viewer, f: &SearchForm) -> String {
    let team = if viewer.is_admin() {
        text_input("team", "Team", f.team.as_deref(), "any")
    } else {
        String::new()
    };
    format!(
        "<form method=\"get\" action=\"{ACTIVE}\" class=\"filters\" aria-label=\"Search records\">\
         {}{}{}{}{}{}{team}<button type=\"submit\">Search</button></form>",
        text_input("from", "From", f.from.as_deref(), "YYYY-MM-DD"),
        text_input("to", "To", f.to.as_deref(), "YYYY-MM-DD"),
        text_input("model", "Model", f.model.as_deref(), "any"),
        text_input("prompt", "Prompt", f.prompt.as_deref(), "any"),
        text_input("status", "Status", f.status.as_deref(), "any"),
        text_input("tag", "Tag", f.tag.as_deref(), "any"),
    )
}

/// One record, every field of `GET /v1/requests/{id}`.
pub async fn one(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    let title = format!("Request {id}");
    let run = async {
        state
            .store
            .get_record(&id, viewer.caller.team())
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("request `{id}` not found")))
    };
    match run.await {
        Ok(r) => {
            let json = record_json(&r);
            let mut body = String::from("<table><caption>Fields</caption><tbody>");
            if let Value::Object(map) = &json {
                for (k, v) in map {
                    if k == "grounding" {
                        continue;
                    }
                    let text = match v {
                        Value::String(s) => s.clone(),
                        Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    let _ = write!(
                        body,
                        "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
                        esc(k),
                        esc(&text)
                    );
                }
            }
            body.push_str("</tbody></table>");
            if let Some(g) = json.get("grounding").filter(|g| !g.is_null()) {
                body.push_str("<h2>Grounding</h2>");
                body.push_str(&grounding_html(g));
            }
            page(&viewer, ACTIVE, &title, &body)
        }
        Err(e) => error_page(&viewer, ACTIVE, &title, e),
    }
}
