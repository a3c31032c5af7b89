//! `DELETE /v1/cache`: drop cached answers (all, or one prompt's), admin only.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{Admin, AppQuery};
use super::openapi::responses;
use super::openapi::schemas as doc;
use crate::api::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClearQuery {
    prompt: Option<String>,
}

/// Drop cached answers (all, or those made with one prompt)
///
/// Admin key only: a team key gets 403 `permission_denied`. Clears the in-process tier of the replica that handles the call and, when configured, the Redis tier; the other replicas drop their in-process copies within `registry_refresh_ms` (they poll clear counters kept in Redis, or without Redis the clears noted in the store they share). With `prompt`, only entries whose request used that registry prompt are dropped.
#[utoipa::path(
    delete, path = "/v1/cache", tag = "cache", operation_id = "clearCache",
    params(("prompt" = Option<String>, Query, description = "A prompt name, e.g. `support/rag-answer`.")),
    responses(
        (status = 200, description = "Cleared.", content((doc::CacheCleared = "application/json", example = json!({"object": "cache", "cleared": true, "prompt": "support/rag-answer"})))),
        (status = 400, response = responses::BadRequest), (status = 401, response = responses::Unauthorized), (status = 403, response = responses::Forbidden),
        (status = 503, description = "Redis could not be cleared completely (e.g. unreachable).", content((doc::Error = "application/json", examples(("redis" = (value = json!({"error": {"message": "service unavailable: cache could not be cleared completely: redis is unreachable", "type": "server_error", "param": null, "code": null}}))))))),
    ),
)]
pub async fn clear(
    State(state): State<AppState>,
    Admin(AppQuery(q)): Admin<AppQuery<ClearQuery>>,
) -> ApiResult<Json<Value>> {
    state.cache.clear(q.prompt.as_deref()).await.map_err(|e| {
        ApiError::Unavailable(format!("cache could not be cleared completely: {e}"))
    })?;
    let target = q.prompt.as_deref().unwrap_or("*");
    let after = json!({"prompt": q.prompt});
    let change = crate::audit::Change {
        action: "cache.clear",
        target,
        before: None::<&Value>,
        after: Some(&after),
    };
    crate::audit::record(state.store.as_ref(), "admin", change).await;
    Ok(Json(
        json!({"object": "cache", "cleared": true, "prompt": q.prompt}),
    ))
}
