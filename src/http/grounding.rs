//! `POST /v1/grounding/score`: the proxy's grounding tiers, for answers
//! produced elsewhere. `tiers` (default `["fast"]`) picks the fast scorer,
//! the judge (`[grounding.judge]`; its call is the caller's, priced and
//! recorded), or both; the answer has each tier's result and the combined flag.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{AppJson, Auth};
use super::openapi::responses;
use super::openapi::schemas as doc;
use crate::api::{ApiError, ApiResult};
use crate::gateway::judge_call::{self, Question};
use crate::grounding::judge::{self, Tiers};
use crate::state::AppState;

/// `context` may be one passage or a list of passages.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Context {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = GroundingScoreRequest)]
pub struct ScoreRequest {
    /// One passage or a list of passages; at least one must be non-empty.
    #[schema(inline)]
    context: Context,
    answer: String,
    /// Which grounding tiers to run. Invalid values, or `judge` without `[grounding.judge]` → 400 with `param: "tiers"`.
    #[serde(default)]
    #[schema(inline, nullable = false, min_items = 1, default = json!(["fast"]), value_type = Option<Vec<doc::GroundingScoreRequestTiersItem>>)]
    tiers: Option<Value>,
    /// Flag threshold for this call (default: the configured `grounding.threshold`). Not a number in [0, 1] → 400 with `param: "threshold"`.
    #[serde(default)]
    #[schema(nullable = false, minimum = 0, maximum = 1)]
    threshold: Option<f64>,
}

/// Score an answer against context passages
///
/// Any valid key. The same tiers the proxy runs on live answers, for answers produced elsewhere. `tiers` (default `["fast"]`) picks the fast scorer, the judge (needs `[grounding.judge]`), or both. The answer has the fast report's fields when the fast tier ran, `judge` or `judge_error` when the judge ran, `tiers`, and `combined`. Nothing is recorded for the fast tier; a judge call is the caller's own request (priced, budgeted, recorded with tag `grounding-judge`).
#[utoipa::path(
    post, path = "/v1/grounding/score", tag = "grounding", operation_id = "scoreGrounding",
    request_body(content = ScoreRequest, content_type = "application/json", example = json!({"context": ["Refunds are issued within 5 business days."], "answer": "Refunds take 30 days. They are issued quickly."})),
    responses(
        (status = 200, description = "The report.", content((doc::GroundingScoreResponse = "application/json", example = json!({"score": 0.18496190040579824, "flagged": true, "threshold": 0.553542, "claims": [{"text": "Refunds take 30 days.", "start": 0, "end": 21, "support": 0.30821300050521255, "evidence": "Refunds are issued within 5 business days.", "reasons": ["number 30 not in context"]}, {"text": "They are issued quickly.", "start": 22, "end": 46, "support": 0.5227285754784786, "evidence": "Refunds are issued within 5 business days.", "reasons": ["words not in context (50% of content words): quickly"]}], "tiers": ["fast"], "combined": {"flagged": true, "rule": "fast"}})))),
        (status = 400, description = "Invalid body, or no non-empty passage.", content((doc::Error = "application/json", examples(("empty" = (value = json!({"error": {"message": "'context' must contain at least one non-empty passage", "type": "invalid_request_error", "param": "context", "code": null}}))))))),
        (status = 401, response = responses::Unauthorized), (status = 413, response = responses::PayloadTooLarge),
    ),
)]
pub async fn score(
    Auth(caller): Auth,
    State(state): State<AppState>,
    AppJson(req): AppJson<ScoreRequest>,
) -> ApiResult<Json<Value>> {
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
    let tiers = match req.tiers {
        None | Some(Value::Null) => Tiers::default(),
        Some(v) => Tiers::parse(&v)
            .map_err(|m| ApiError::invalid(format!("'tiers' {m}"), Some("tiers")))?,
    };
    let judge_config = match (tiers.judge, state.config.grounding.judge.as_ref()) {
        (true, None) => {
            return Err(ApiError::invalid(
                "'tiers': the judge tier is not configured ([grounding.judge])",
                Some("tiers"),
            ))
        }
        (true, Some(c)) => Some(c),
        (false, _) => None,
    };
    let threshold = crate::gateway::grounding_threshold(req.threshold, "threshold")?
        .unwrap_or_else(|| state.grounding.threshold());
    // The fast scorer also splits the answer into the claims the judge checks.
    let fast = state.grounding.score_at(&context, &req.answer, threshold);
    let mut out = if tiers.fast {
        serde_json::to_value(&fast).map_err(ApiError::internal)?
    } else {
        json!({})
    };
    out["tiers"] = json!(tiers.names());
    let fast_flag = tiers.fast.then_some(fast.flagged);
    match judge_config {
        Some(config) => {
            let claims: Vec<String> = fast.claims.iter().map(|c| c.text.clone()).collect();
            let question = Question {
                pipeline: crate::gateway::judge_pipeline,
                caller: &caller,
                parent: None,
                traceparent: None,
                context: &context,
                claims: &claims,
            };
            let outcome = judge_call::run(&state, config, question).await;
            judge::annotate(&mut out, &outcome, config.flag, fast_flag);
        }
        None => out["combined"] = json!({"flagged": fast_flag, "rule": "fast"}),
    }
    Ok(Json(out))
}
