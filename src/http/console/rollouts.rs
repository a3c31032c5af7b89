//! The rollouts page: a label's report version by version (each metric
//! with its 95 % interval, each candidate's difference from the baseline
//! with its interval and verdict), the label's guard and what it did, and
//! the drift monitor's findings. The same reports as
//! `GET /v1/prompts/{name}/report` and `GET /v1/monitoring/drift`.

use std::fmt::Write as _;

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::html::{esc, given, prompt_link, table, table_or, text_input, url};
use super::labels::{guard_text, target_text};
use super::session::{error_page, page, Viewer};
use crate::api::ApiResult;
use crate::http::experiments::{drift_json, report_json, DriftQuery, ReportParams};
use crate::http::extract::AppQuery;
use crate::registry::guard::read_label_text;
use crate::state::AppState;

const ACTIVE: &str = "/ui/rollouts";

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RolloutForm {
    prompt: Option<String>,
    label: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

pub async fn page_handler(
    State(state): State<AppState>,
    viewer: Viewer,
    AppQuery(form): AppQuery<RolloutForm>,
) -> Response {
    let run = async {
        let mut out = match given(&form.prompt) {
            Some(prompt) => report(&state, &viewer, &prompt, &form).await?,
            None => labels_list(&state),
        };
        out.push_str(&drift(&state, &viewer).await?);
        Ok(out)
    };
    match run.await {
        Ok(body) => page(&viewer, ACTIVE, "Rollouts", &body),
        Err(e) => error_page(&viewer, ACTIVE, "Rollouts", e),
    }
}

/// Every label of every prompt, linking to its report.
fn labels_list(state: &AppState) -> String {
    let snap = state.registry.snapshot();
    let rows: Vec<Vec<String>> = snap
        .prompts
        .iter()
        .flat_map(|(name, p)| {
            p.labels.iter().map(move |(label, t)| {
                vec![
                    prompt_link(name),
                    format!(
                        "<a href=\"{ACTIVE}?prompt={}&amp;label={}\">{}</a>",
                        esc(&url(name)),
                        esc(&url(label)),
                        esc(label)
                    ),
                    esc(&target_text(t)),
                ]
            })
        })
        .collect();
    format!(
        "<h2>Labels</h2>{}",
        table(
            "Labels (open one for its report)",
            &["prompt", "label", "points at"],
            &rows
        )
    )
}

fn number(v: &Value) -> String {
    match v.as_f64() {
        Some(x) if x.abs() >= 100.0 => format!("{x:.1}"),
        // costs per request are fractions of a cent
        Some(x) if x != 0.0 && x.abs() < 0.01 => format!("{x:.6}"),
        Some(x) => format!("{x:.4}"),
        None => "–".into(),
    }
}

fn interval(v: &Value) -> String {
    match v.as_array().map(|a| (a.first(), a.get(1))) {
        Some((Some(lo), Some(hi))) => format!("[{}, {}]", number(lo), number(hi)),
        _ => "–".into(),
    }
}

async fn report(
    state: &AppState,
    viewer: &Viewer,
    prompt: &str,
    form: &RolloutForm,
) -> ApiResult<String> {
    let label = given(&form.label).unwrap_or_else(|| crate::registry::DEFAULT_LABEL.to_owned());
    let params = ReportParams {
        label: Some(label.clone()),
        from: given(&form.from),
        to: given(&form.to),
        baseline: None,
        team: None,
    };
    let r = report_json(state, &viewer.caller, prompt, params).await?;
    let mut out = format!(
        "<p><a href=\"{ACTIVE}\">All labels</a> · {}</p>\
         <form method=\"get\" action=\"{ACTIVE}\" class=\"filters\" aria-label=\"Report window\">\
         <input type=\"hidden\" name=\"prompt\" value=\"{p}\"><input type=\"hidden\" name=\"label\" value=\"{l}\">\
         {from}{to}<button type=\"submit\">Show</button></form>\
         <h2>Report of {p}:{l}</h2><p>From {f} to {t}; baseline v{b}; verdicts need {m} requests a side.</p>",
        prompt_link(prompt),
        p = esc(prompt),
        l = esc(&label),
        from = text_input("from", "From", form.from.as_deref(), "since the label moved"),
        to = text_input("to", "To", form.to.as_deref(), "now"),
        f = esc(r["from"].as_str().unwrap_or("")),
        t = esc(r["to"].as_str().unwrap_or("")),
        b = r["baseline"],
        m = r["min_samples"],
    );
    out.push_str(&guard_state(state, prompt, &label).await?);
    for v in r["versions"].as_array().cloned().unwrap_or_default() {
        let weight = v["weight"]
            .as_u64()
            .map(|w| format!("weight {w}"))
            .unwrap_or_else(|| "not in the rollout".into());
        let role = if v["baseline"].as_bool() == Some(true) {
            "baseline"
        } else {
            "candidate"
        };
        let mut rows = Vec::new();
        if let Value::Object(metrics) = &v["metrics"] {
            for (metric, est) in metrics {
                let cmp = &v["comparison"][metric];
                let verdict = cmp["verdict"].as_str().unwrap_or("");
                rows.push(vec![
                    esc(metric),
                    number(&est["value"]),
                    interval(&est["ci"]),
                    est["n"].to_string(),
                    if cmp.is_null() {
                        "–".into()
                    } else {
                        number(&cmp["difference"])
                    },
                    if cmp.is_null() {
                        "–".into()
                    } else {
                        interval(&cmp["ci"])
                    },
                    if verdict.is_empty() {
                        String::new()
                    } else {
                        format!("<span class=\"verdict-{0}\">{0}</span>", esc(verdict))
                    },
                ]);
            }
        }
        let _ = write!(
            out,
            "<h3>v{} ({role}, {weight}, {} requests)</h3>{}",
            v["version"],
            v["requests"],
            table(
                &format!("Metrics of v{}", v["version"]),
                &[
                    "metric",
                    "value",
                    "95 % interval",
                    "n",
                    "difference from baseline",
                    "95 % interval",
                    "verdict"
                ],
                &rows
            )
        );
    }
    Ok(out)
}

/// The label's guard (from its stored JSON) and the moves it made.
async fn guard_state(state: &AppState, prompt: &str, label: &str) -> ApiResult<String> {
    let stored = state
        .store
        .all_prompt_labels()
        .await?
        .into_iter()
        .find(|r| r.name == prompt && r.label == label);
    let guard = stored
        .as_ref()
        .and_then(|r| read_label_text(&r.target).ok())
        .and_then(|(_, g)| g);
    let Some(g) = guard else {
        return Ok("<p>Guard: none on this label.</p>".into());
    };
    let fired: Vec<String> = state
        .store
        .label_history(prompt, label)
        .await?
        .into_iter()
        .filter(|m| m.actor.as_deref() == Some(crate::experiments::guard::GUARD_ACTOR))
        .map(|m| {
            format!(
                "<li>{}: {}</li>",
                esc(&crate::time::rfc3339(m.at)),
                esc(m.reason.as_deref().unwrap_or(""))
            )
        })
        .collect();
    Ok(format!(
        "<p>Guard: {}. {}</p>{}",
        esc(&guard_text(&g)),
        if fired.is_empty() {
            "It has not fired."
        } else {
            "It fired:"
        },
        if fired.is_empty() {
            String::new()
        } else {
            format!("<ul>{}</ul>", fired.join(""))
        }
    ))
}

async fn drift(state: &AppState, viewer: &Viewer) -> ApiResult<String> {
    let d = drift_json(state, &viewer.caller, DriftQuery::default()).await?;
    let rows: Vec<Vec<String>> = d["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|x| {
            let group = match (x["prompt"].as_str(), x["model"].as_str()) {
                (Some(p), _) => format!("{p}@{}", x["version"]),
                (None, Some(m)) => format!("model {m}"),
                _ => String::new(),
            };
            vec![
                esc(&group),
                esc(x["metric"].as_str().unwrap_or("")),
                format!("{} (n={})", number(&x["reference"]), x["reference_n"]),
                format!("{} (n={})", number(&x["recent"]), x["recent_n"]),
                number(&x["difference"]),
                esc(x["test"].as_str().unwrap_or("")),
            ]
        })
        .collect();
    Ok(format!(
        "<h2>Drift</h2><p>Recent window from {} to {}, against {} to {}.</p>{}",
        esc(d["recent_window"]["from"].as_str().unwrap_or("")),
        esc(d["recent_window"]["to"].as_str().unwrap_or("")),
        esc(d["reference_window"]["from"].as_str().unwrap_or("")),
        esc(d["reference_window"]["to"].as_str().unwrap_or("")),
        table_or(
            "Metrics that moved",
            &[
                "group",
                "metric",
                "reference",
                "recent",
                "difference",
                "test"
            ],
            &rows,
            "no metric moved",
        )
    ))
}
