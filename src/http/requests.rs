//! Request records, team-scoped: a team key sees only its own team's.

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{AppQuery, Auth};
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
