//! Request records, team-scoped: a team key sees only its own team's.

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{AppQuery, Auth};
use super::openapi::responses;
use super::openapi::schemas as doc;
use super::team_scope::scoped_team;
use crate::api::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::{RecordFilter, RequestRecord};

/// The JSON form of a record, as `GET /v1/requests` shows it.
pub fn record_json(r: &RequestRecord) -> Value {
    json!({
        "id": r.id,
        "object": "request",
        "team": r.team,
        "key_id": r.key_id,
        "key_hint": r.key_hint,
        "endpoint": r.endpoint,
        "model": r.model,
        "upstream": r.upstream,
        "attempts": r.attempts,
        "stream": r.stream,
        "status": r.status,
        "outcome": r.outcome,
        "prompt_tokens": r.prompt_tokens,
        "completion_tokens": r.completion_tokens,
        "cached_tokens": r.cached_tokens,
        "reasoning_tokens": r.reasoning_tokens,
        "latency_ms": r.latency_us as f64 / 1000.0,
        "ttft_ms": r.ttft_us.map(|t| t as f64 / 1000.0),
        "client_closed": r.client_closed,
        "cache": r.cache,
        "cost_usd": r.cost_pusd.map(|p| crate::costs::format_usd(crate::costs::pico::from_pico(p.into()))),
        "saved_usd": r.saved_pusd.map(|p| crate::costs::format_usd(crate::costs::pico::from_pico(p.into()))),
        "usage_source": r.usage_source,
        "grounding": r.grounding.as_deref().and_then(|g| serde_json::from_str::<Value>(g).ok()),
        "flagged": r.flagged,
        "tags": r.tags.as_deref().and_then(|t| serde_json::from_str::<Value>(t).ok()),
        "prompt": r.prompt_name.as_ref().map(|n| format!("{n}@{}", r.prompt_version.unwrap_or_default())),
        "prompt_sha256": r.prompt_sha256,
        "error": r.error,
        "metadata": r.metadata.as_deref().and_then(|m| serde_json::from_str::<Value>(m).ok()),
        "created_at": crate::time::rfc3339(r.created_at),
    })
}

/// One request record
///
/// A team key gets 404 for another team's record.
#[utoipa::path(
    get, path = "/v1/requests/{id}", tag = "records", operation_id = "getRequest",
    params(("id" = String, Path, description = "The call's `x-request-id`. If a client reused an id, the newest record with it is returned.")),
    responses(
        (status = 200, description = "The record.", content((doc::RequestRecord = "application/json", example = json!({"id": "01a21ca3-90be-74bc-8dad-61fa35ac5f39", "object": "request", "team": "support", "key_id": "key_5b42ef133ac44cb499039ca36dda07af", "endpoint": "chat.completions", "model": "mock-repeat", "upstream": "mock", "stream": false, "status": 200, "outcome": "ok", "prompt_tokens": 18, "completion_tokens": 11, "cached_tokens": 0, "reasoning_tokens": 0, "latency_ms": 0.834, "ttft_ms": null, "client_closed": false, "cache": "bypass", "cost_usd": "0.00004", "saved_usd": null, "usage_source": "upstream", "grounding": {"score": 0.15342966938552596, "flagged": true, "threshold": 0.553542, "claims": [{"text": "Refunds take 30 days and are paid in cash.", "start": 0, "end": 42, "support": 0.15342966938552596, "evidence": "Refunds are issued within 5 business days.", "reasons": ["number 30 not in context", "words not in context (50% of content words): paid, cash"]}]}, "flagged": true, "tags": ["refunds"], "prompt": null, "prompt_sha256": null, "error": null, "metadata": {"user": "u-17", "tags": ["refunds"]}, "created_at": "2026-11-27T10:53:31.198Z"})))),
        (status = 401, response = responses::Unauthorized), (status = 404, response = responses::NotFound),
    ),
)]
pub async fn get_one(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let record = state.store.get_record(&id, caller.team()).await?;
    record
        .map(|r| Json(record_json(&r)))
        .ok_or_else(|| ApiError::NotFound(format!("request `{id}` not found")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    team: Option<String>,
    limit: Option<i64>,
    flagged: Option<bool>,
}

/// `limit` of a listing: 1 to 1000, default 100.
pub fn page_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    let limit = limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid(
            "limit must be between 1 and 1000",
            Some("limit"),
        ));
    }
    Ok(limit)
}

/// Recent request records
///
/// A team key sees only its own team's records (asking for another `team` → 404). The admin key sees every team's, or one team's with `team`. Unknown query parameters → 400.
#[utoipa::path(
    get, path = "/v1/requests", tag = "records", operation_id = "listRequests",
    params(
        ("team" = Option<String>, Query, description = "Restrict to one team (`_admin` for admin-key calls)."),
        ("limit" = Option<i64>, Query, description = "Default: `100`.", minimum = 1, maximum = 1000),
        ("flagged" = Option<bool>, Query, description = "`true`: only answers the grounding check flagged; `false`: only scored answers that were not flagged. Unscored calls match neither."),
    ),
    responses(
        (status = 200, description = "Newest first.", content((doc::RequestRecordList = "application/json"))),
        (status = 400, response = responses::BadRequest), (status = 401, response = responses::Unauthorized), (status = 404, response = responses::NotFound),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppQuery(q): AppQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    let team = scoped_team(&caller, q.team)?;
    let limit = page_limit(q.limit)?;
    let records = state
        .store
        .list_records(&RecordFilter {
            team,
            flagged: q.flagged,
            limit,
        })
        .await?;
    let data: Vec<Value> = records.iter().map(record_json).collect();
    Ok(Json(json!({"object": "list", "data": data})))
}
