//! Flagged answers: the newest records the grounding check flagged, each
//! answer with its unsupported claims highlighted and the best evidence
//! sentence beside each claim. Filter by prompt and model.

use std::fmt::Write as _;

use axum::extract::State;
use axum::response::Response;
use serde_json::Value;

use super::html::{error_page, esc, page, text_input};
use super::requests::{next_link, record_link, SearchForm};
use super::session::Viewer;
use crate::api::ApiError;
use crate::http::extract::AppQuery;
use crate::state::AppState;

const ACTIVE: &str = "/ui/flagged";

/// A stored grounding report as HTML: the answer (its claims in order) with
/// the claims below the threshold marked, then each claim with its support,
/// evidence and reasons.
pub fn grounding_html(g: &Value) -> String {
    let threshold = g["threshold"].as_f64().unwrap_or(0.5);
    let claims = g["claims"].as_array().cloned().unwrap_or_default();
    let unsupported = |c: &Value| c["support"].as_f64().is_some_and(|s| s < threshold);
    let mut out = format!(
        "<p>Score <strong>{:.4}</strong> (threshold {:.3}){}</p><p class=\"hint\">The answer, claim by claim; unsupported claims are marked.</p><div class=\"answer\">",
        g["score"].as_f64().unwrap_or(0.0),
        threshold,
        if g["flagged"].as_bool() == Some(true) {
            ": <span class=\"bad\">flagged</span>"
        } else {
            ""
        },
    );
    for c in &claims {
        let text = esc(c["text"].as_str().unwrap_or(""));
        if unsupported(c) {
            let _ = write!(out, "<mark class=\"claim\">{text}</mark> ");
        } else {
            let _ = write!(out, "<span>{text}</span> ");
        }
    }
    out.push_str("</div><table><caption>Claims and their evidence</caption><thead><tr><th scope=\"col\">claim</th><th scope=\"col\">support</th><th scope=\"col\">best evidence in the context</th><th scope=\"col\">reasons</th></tr></thead><tbody>");
    for c in &claims {
        let reasons: Vec<String> = c["reasons"]
            .as_array()
            .map(|r| r.iter().filter_map(|x| x.as_str()).map(esc).collect())
            .unwrap_or_default();
        let evidence = c["evidence"].as_str().unwrap_or("");
        let claim = esc(c["text"].as_str().unwrap_or(""));
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"num\">{:.3}</td><td class=\"evidence\">{}</td><td>{}</td></tr>",
            if unsupported(c) {
                format!("<mark class=\"claim\">{claim}</mark>")
            } else {
                claim
            },
            c["support"].as_f64().unwrap_or(0.0),
            if evidence.is_empty() {
                "(nothing matches)".to_owned()
            } else {
                esc(evidence)
            },
            reasons.join("; "),
        );
    }
    out.push_str("</tbody></table>");
    out
}

pub async fn page_of_flagged(
    state: &AppState,
    viewer: &Viewer,
    form: &SearchForm,
) -> Result<String, ApiError> {
    let search = form.search(viewer, Some(true))?;
    let records = state.store.search_records(&search).await?;
    let mut out = format!(
        "<form method=\"get\" action=\"{ACTIVE}\" class=\"filters\" aria-label=\"Filter flagged answers\">{}{}<button type=\"submit\">Filter</button></form>",
        text_input("prompt", "Prompt", form.prompt.as_deref(), "any"),
        text_input("model", "Model", form.model.as_deref(), "any"),
    );
    if records.is_empty() {
        out.push_str("<p class=\"hint\">No flagged answers.</p>");
    }
    for r in &records {
        let g: Value = r
            .grounding
            .as_deref()
            .and_then(|g| serde_json::from_str(g).ok())
            .unwrap_or(Value::Null);
        let _ = write!(
            out,
            "<article class=\"flagged-item\"><h2>{} · {} · {}</h2><p>Request {}{}</p>{}</article>",
            esc(&crate::time::rfc3339(r.created_at)),
            esc(r.model.as_deref().unwrap_or("")),
            esc(&r
                .prompt_name
                .as_ref()
                .map(|n| format!("{n}@{}", r.prompt_version.unwrap_or_default()))
                .unwrap_or_else(|| "no prompt".into())),
            record_link(r),
            if viewer.is_admin() {
                format!(", team {}", esc(&r.team))
            } else {
                String::new()
            },
            if g.is_null() {
                "<p class=\"hint\">No grounding report kept.</p>".to_owned()
            } else {
                grounding_html(&g)
            },
        );
    }
    out.push_str(&next_link(ACTIVE, form, &records));
    Ok(out)
}

pub async fn page_handler(
    State(state): State<AppState>,
    viewer: Viewer,
    AppQuery(form): AppQuery<SearchForm>,
) -> Response {
    match page_of_flagged(&state, &viewer, &form).await {
        Ok(body) => page(&viewer, ACTIVE, "Flagged answers", &body),
        Err(e) => error_page(&viewer, ACTIVE, "Flagged answers", e),
    }
}
