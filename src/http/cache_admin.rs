//! `DELETE /v1/cache`: drop cached answers (all, or one prompt's), admin only.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{Admin, AppQuery};
use crate::api::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClearQuery {
    prompt: Option<String>,
}

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
