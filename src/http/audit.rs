//! `GET /v1/audit`: the audit log of admin writes (admin key only; read-only:
//! no route changes or deletes an entry).

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::costs::parse_time;
use super::extract::{Admin, AppQuery};
use super::openapi::responses;
use super::openapi::schemas as doc;
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

/// The audit log of admin writes
///
/// Admin key only (a team key gets 403). Newest first. Every admin write (team, key, rotation, revocation, budget, prompt version, label move or rollout, cache clear) appears once, after it succeeded, with the object before and after. Read-only: no route changes or deletes an entry.
#[utoipa::path(
    get, path = "/v1/audit", tag = "admin", operation_id = "listAudit",
    params(
        ("action" = Option<String>, Query, description = "Only this action (`team.create`, `key.create`, `key.rotate`, `key.revoke`, `budget.put`, `budget.delete`, `prompt.version`, `label.move`, `cache.clear`)."),
        ("target" = Option<String>, Query, description = "Only this target (team, key id, prompt name, `prompt:label`, cache prompt or `*`)."),
        ("actor" = Option<String>, Query, description = "Only this actor (`admin`, `guard`)."),
        ("from" = Option<String>, Query, description = "RFC 3339 time or YYYY-MM-DD (inclusive)."),
        ("to" = Option<String>, Query, description = "RFC 3339 time or YYYY-MM-DD (exclusive)."),
        ("before" = Option<i64>, Query, description = "Entries with a smaller `id` (paging)."),
        ("limit" = Option<i64>, Query, description = "Most entries returned. Default: `100`.", minimum = 1, maximum = 1000),
    ),
    responses(
        (status = 200, description = "The entries.", content((doc::AuditList = "application/json"))),
        (status = 400, response = responses::BadRequest), (status = 401, response = responses::Unauthorized), (status = 403, response = responses::Forbidden),
    ),
)]
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
