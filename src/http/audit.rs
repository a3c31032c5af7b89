//! `GET /v1/audit`: the audit log of admin writes (admin key only; read-only:
//! no route changes or deletes an entry).

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::costs::parse_time;
use super::extract::{Admin, AppQuery};
use crate::api::ApiResult;
use crate::state::AppState;
use crate::store::AuditFilter;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    action: Option<String>,
    target: Option<String>,
    actor: Option<String>,
    from: Option<String>,
    to: Option<String>,
    /// Entries older than this id (the last page's smallest `id`).
    before: Option<i64>,
    limit: Option<i64>,
}

pub async fn list(
    State(state): State<AppState>,
    Admin(AppQuery(q)): Admin<AppQuery<AuditQuery>>,
) -> ApiResult<Json<Value>> {
    let limit = super::requests::page_limit(q.limit)?;
    let from = q
        .from
        .as_deref()
        .map(|t| parse_time(t, "from"))
        .transpose()?;
    let to = q.to.as_deref().map(|t| parse_time(t, "to")).transpose()?;
    let filter = AuditFilter {
        action: q.action,
        target: q.target,
        actor: q.actor,
        from: from.unwrap_or(0),
        to: to.unwrap_or(i64::MAX),
        before_seq: q.before,
        limit,
    };
    let entries = state.store.list_audit(&filter).await?;
    Ok(Json(json!({"object": "list", "data": entries})))
}
