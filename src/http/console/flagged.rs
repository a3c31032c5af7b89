//! Flagged answers: the newest records the grounding check flagged, each
//! answer with its unsupported claims highlighted and the best evidence
//! sentence beside each claim. Filter by prompt and model.

use std::fmt::Write as _;

use axum::extract::State;
use axum::response::Response;
use serde_json::Value;

use super::claims::grounding_html;
use super::html::{esc, text_input};
use super::requests::{next_link, record_link, SearchForm};
use super::session::{error_page, page, Viewer};
use crate::api::ApiError;
use crate::http::extract::AppQuery;
use crate::state::AppState;

const ACTIVE: &str = "/ui/flagged";

async fn page_of_flagged(
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
