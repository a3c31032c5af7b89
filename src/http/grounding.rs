//! `POST /v1/grounding/score`: the proxy's grounding scorer, for answers
//! produced elsewhere.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;

use super::extract::{AppJson, Auth};
use crate::api::{ApiError, ApiResult};
use crate::grounding::GroundingReport;
use crate::state::AppState;

/// `context` may be one passage or a list of passages.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum Context {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreRequest {
    context: Context,
    answer: String,
    /// Flag threshold for this call (else the configured one).
    #[serde(default)]
    threshold: Option<f64>,
}

pub async fn score(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    AppJson(req): AppJson<ScoreRequest>,
) -> ApiResult<Json<GroundingReport>> {
    let context = match req.context {
        Context::One(p) => vec![p],
        Context::Many(ps) => ps,
    };
    if context.iter().all(|p| p.trim().is_empty()) {
        return Err(ApiError::invalid(
            "'context' must contain at least one non-empty passage",
            Some("context"),
        ));
    }
    let threshold = crate::gateway::grounding_threshold(req.threshold, "threshold")?
        .unwrap_or_else(|| state.grounding.threshold());
    Ok(Json(state.grounding.score_at(
        &context,
        &req.answer,
        threshold,
    )))
}
