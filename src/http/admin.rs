//! Teams and keys (admin key only).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::extract::{Admin, AppJson, Auth};
use super::openapi::responses;
use super::openapi::schemas as doc;
use crate::api::{ApiError, ApiResult};
use crate::audit::{self, Change};
use crate::auth::{generate_key, hash_key};
use crate::state::AppState;
use crate::store::{ApiKeyRow, Team};
use crate::time::now_ms;

pub use super::admin_types::{
    BudgetDeleted, CreatedKey, KeyDeleted, NewBudget, NewKey, NewTeam, Rotation,
};

/// Team names appear in paths, reports and cache keys: keep them plain.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
}

/// 404 unless `team` exists: keys and budgets are only made for known teams.
async fn require_existing_team(state: &AppState, team: &str) -> ApiResult<()> {
    if state.store.get_team(team).await?.is_none() {
        return Err(ApiError::NotFound(format!("team `{team}` not found")));
    }
    Ok(())
}

/// Create a team
///
/// Admin key only: a team key gets 403 `permission_denied`.
#[utoipa::path(
    post, path = "/v1/teams", tag = "admin", operation_id = "createTeam",
    request_body(content = NewTeam, content_type = "application/json", example = json!({"name": "search"})),
    responses(
        (status = 201, description = "Created.", content((Team = "application/json", example = json!({"name": "search", "created_at": "2026-11-27T10:09:09.065Z"})))),
        (status = 400, response = responses::BadRequest), (status = 401, response = responses::Unauthorized), (status = 403, response = responses::Forbidden), (status = 409, response = responses::Conflict), (status = 413, response = responses::PayloadTooLarge),
    ),
)]
pub async fn create_team(
    State(state): State<AppState>,
    Admin(AppJson(body)): Admin<AppJson<NewTeam>>,
) -> ApiResult<(StatusCode, Json<Team>)> {
    if !valid_name(&body.name) {
        return Err(ApiError::invalid(
            "team name must match [a-z0-9][a-z0-9._-]* and be at most 64 characters",
            Some("name"),
        ));
    }
    let team = Team {
        name: body.name,
        created_at: now_ms(),
    };
    if !state.store.create_team(&team).await? {
        return Err(ApiError::Conflict(format!(
            "team `{}` already exists",
            team.name
        )));
    }
    log(
        &state,
        "team.create",
        &team.name,
        None::<&Team>,
        Some(&team),
    )
    .await;
    Ok((StatusCode::CREATED, Json(team)))
}

/// List teams
///
/// Admin key only: a team key gets 403 `permission_denied`.
#[utoipa::path(
    get, path = "/v1/teams", tag = "admin", operation_id = "listTeams",
    responses(
        (status = 200, description = "All teams, sorted by name.", content((doc::TeamList = "application/json"))),
        (status = 401, response = responses::Unauthorized), (status = 403, response = responses::Forbidden),
    ),
)]
pub async fn list_teams(State(state): State<AppState>, _: Admin) -> ApiResult<Json<Value>> {
    let teams = state.store.list_teams().await?;
    Ok(Json(json!({"object": "list", "data": teams})))
}

/// A JSON body that may be left out: empty (or blank) means every field's default.
fn optional_json<T: Default + serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    crate::api::parse_json(body)
}

/// The part of a key shown to the client: 9 characters (`pg-2e10d8`).
fn hint_of(key: &str) -> String {
    key[..crate::auth::KEY_PREFIX.len() + 6].to_owned()
}

/// Create a team key
///
/// Admin key only: a team key gets 403 `permission_denied`. The body is optional (empty = a key with no name, no expiry and every model). The response is the only time the key is shown; only its SHA-256 hash is stored. The new key works at once on every replica (an unknown key is looked up in the store on first use).
#[utoipa::path(
    post, path = "/v1/teams/{team}/keys", tag = "admin", operation_id = "createKey",
    params(("team" = String, Path)),
    request_body(content = Option<NewKey>, content_type = "application/json"),
    responses(
        (status = 201, description = "Created.", content((CreatedKey = "application/json", example = json!({"id": "key_cb356a79592a4efdba1cb6d5f0dac458", "team": "search", "hint": "pg-2e10d8", "created_at": "2026-11-27T10:09:09.082Z", "revoked_at": null, "key": "pg-2e10d8c691ffa5badf5615b68076ccf0dcdb368bf515a875"})))),
        (status = 401, response = responses::Unauthorized), (status = 403, response = responses::Forbidden), (status = 404, response = responses::NotFound), (status = 400, response = responses::BadRequest),
    ),
)]
pub async fn create_key(
    State(state): State<AppState>,
    Admin((Path(team), body)): Admin<(Path<String>, axum::body::Bytes)>,
) -> ApiResult<(StatusCode, Json<CreatedKey>)> {
    let new = optional_json::<NewKey>(&body)?;
    let now = now_ms();
    if new
        .name
        .as_ref()
        .is_some_and(|n| n.is_empty() || n.len() > 100)
    {
        return Err(ApiError::invalid(
            "name must be 1 to 100 characters",
            Some("name"),
        ));
    }
    let expires_at = match &new.expires_at {
        None => None,
        Some(text) => {
            let at = chrono::DateTime::parse_from_rfc3339(text).map_err(|e| {
                ApiError::invalid(
                    format!("expires_at must be an RFC 3339 time: {e}"),
                    Some("expires_at"),
                )
            })?;
            let ms = at.timestamp_millis();
            if ms <= now {
                return Err(ApiError::invalid(
                    "expires_at is in the past",
                    Some("expires_at"),
                ));
            }
            Some(ms)
        }
    };
    if let Some(models) = &new.models {
        if models.is_empty() || models.iter().any(|m| m.is_empty()) {
            return Err(ApiError::invalid(
                "models must list at least one model name (leave it out for every model)",
                Some("models"),
            ));
        }
    }
    require_existing_team(&state, &team).await?;
    let key = generate_key();
    let row = ApiKeyRow {
        id: format!("key_{}", uuid::Uuid::new_v4().simple()),
        team,
        key_hash: hash_key(&key),
        hint: hint_of(&key),
        created_at: now,
        revoked_at: None,
        name: new.name,
        expires_at,
        allowed_models: new
            .models
            .map(|m| serde_json::to_string(&m))
            .transpose()
            .map_err(ApiError::internal)?,
        previous_hash: None,
        previous_hint: None,
        previous_expires_at: None,
    };
    state.store.insert_key(&row).await?;
    state.keys.insert(&row);
    log(
        &state,
        "key.create",
        &row.id,
        None::<&ApiKeyRow>,
        Some(&row),
    )
    .await;
    // The only time the key itself is shown.
    Ok((StatusCode::CREATED, Json(CreatedKey { row, key })))
}

/// Most a rotation's grace may be: a month.
const MAX_GRACE_S: i64 = 31 * 24 * 3600;

// A new secret for key `id`, same id; the old secret works for `grace_s` more.
/// Rotate a key
///
/// Admin key only. Gives the key a new secret under the same id (its name, expiry and models stay). The old secret keeps working for `grace_s` seconds (default 0: it stops at once, on every replica with PostgreSQL notifications, else within `keys.refresh_ms`). Request records name the secret used in `key_hint`.
#[utoipa::path(
    post, path = "/v1/keys/{id}/rotate", tag = "admin", operation_id = "rotateKey",
    params(("id" = String, Path)),
    request_body(content = Option<Rotation>, content_type = "application/json"),
    responses(
        (status = 200, description = "The key with its new secret in `key` (shown only now).", content((CreatedKey = "application/json"))),
        (status = 400, response = responses::BadRequest), (status = 401, response = responses::Unauthorized), (status = 403, response = responses::Forbidden), (status = 404, response = responses::NotFound),
    ),
)]
pub async fn rotate_key(
    State(state): State<AppState>,
    Admin((Path(id), body)): Admin<(Path<String>, axum::body::Bytes)>,
) -> ApiResult<Json<CreatedKey>> {
    let rotation: Rotation = optional_json(&body)?;
    let grace_s = rotation.grace_s.unwrap_or(0);
    if !(0..=MAX_GRACE_S).contains(&grace_s) {
        return Err(ApiError::invalid(
            format!("grace_s must be between 0 and {MAX_GRACE_S}"),
            Some("grace_s"),
        ));
    }
    let key = generate_key();
    let (hash, hint) = (hash_key(&key), hint_of(&key));
    let old_valid_until = now_ms() + grace_s * 1000;
    let rotation = crate::store::KeyRotation {
        id: &id,
        new_hash: &hash,
        new_hint: &hint,
        old_valid_until,
    };
    let before = state.store.get_key(&id).await?;
    if !state.store.rotate_key(&rotation).await? {
        return Err(ApiError::NotFound(format!("key `{id}` not found")));
    }
    let row = state
        .store
        .get_key(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("key `{id}` not found")))?;
    // both secrets as the store now has them (the old one until its grace ends)
    state.keys.remove_id(&id);
    state.keys.insert(&row);
    log(&state, "key.rotate", &id, before.as_ref(), Some(&row)).await;
    Ok(Json(CreatedKey { row, key }))
}

/// List a team's keys (without the keys themselves)
///
/// Admin key only: a team key gets 403 `permission_denied`.
#[utoipa::path(
    get, path = "/v1/teams/{team}/keys", tag = "admin", operation_id = "listKeys",
    params(("team" = String, Path)),
    responses(
        (status = 200, description = "The team's keys.", content((doc::ApiKeyList = "application/json"))),
        (status = 401, response = responses::Unauthorized), (status = 403, response = responses::Forbidden),
    ),
)]
pub async fn list_keys(
    State(state): State<AppState>,
    Admin(Path(team)): Admin<Path<String>>,
) -> ApiResult<Json<Value>> {
    let keys = state.store.list_keys(&team).await?;
    Ok(Json(json!({"object": "list", "data": keys})))
}

/// Revoke a team key
///
/// Admin key only: a team key gets 403 `permission_denied`. Takes effect at once on the replica that handled the call and on every other replica within `keys.refresh_ms` (default 1000 ms), after which the key gets 401. Revoking an already revoked key answers 200 again.
#[utoipa::path(
    delete, path = "/v1/keys/{id}", tag = "admin", operation_id = "revokeKey",
    params(("id" = String, Path, example = json!("key_cb356a79592a4efdba1cb6d5f0dac458"))),
    responses(
        (status = 200, description = "Revoked.", content((KeyDeleted = "application/json", example = json!({"id": "key_cb356a79592a4efdba1cb6d5f0dac458", "object": "key", "deleted": true})))),
        (status = 401, response = responses::Unauthorized), (status = 403, response = responses::Forbidden), (status = 404, response = responses::NotFound),
    ),
)]
pub async fn revoke_key(
    State(state): State<AppState>,
    Admin(Path(id)): Admin<Path<String>>,
) -> ApiResult<Json<KeyDeleted>> {
    let existing = state.store.get_key(&id).await?;
    let Some(existing) = existing else {
        return Err(ApiError::NotFound(format!("key `{id}` not found")));
    };
    let at = now_ms();
    if state.store.revoke_key(&id, at).await? {
        let after = ApiKeyRow {
            revoked_at: Some(at),
            ..existing.clone()
        };
        log(&state, "key.revoke", &id, Some(&existing), Some(&after)).await;
    }
    state.keys.remove_id(&id);
    Ok(Json(KeyDeleted {
        id: existing.id,
        object: "key",
        deleted: true,
    }))
}

pub fn budget_json(team: &str, state_limit: Option<(crate::costs::Limit, i64, i64)>) -> Value {
    match state_limit {
        None => json!({"object": "budget", "team": team, "usd": null}),
        Some((limit, spent, reserved)) => {
            let usd = |m: i64| crate::costs::format_usd(rust_decimal::Decimal::new(m, 6));
            json!({
                "object": "budget", "team": team,
                "usd": usd(limit.micro_usd), "period": limit.period.to_string(),
                "spent_usd": usd(spent), "reserved_usd": usd(reserved),
                "remaining_usd": usd((limit.micro_usd - spent - reserved).max(0)),
            })
        }
    }
}

/// The team's budget as it stands now: limit, spent and reserved.
async fn budget_now(state: &AppState, team: &str) -> ApiResult<Json<Value>> {
    let usage = state
        .budgets
        .usage(team)
        .await
        .map_err(|e| ApiError::from_dependency("the budget counter", e))?;
    Ok(Json(budget_json(team, usage)))
}

/// Set a team's budget
///
/// Admin key only: a team key gets 403 `permission_denied`. Replaces any earlier budget of the team. Before each model call of the team the gateway reserves the call's worst-case cost (see the `costs` tag); a call that does not fit gets 429 `budget_exceeded`. The period's spending so far is read from the ledger, so a budget set mid-month counts the month's earlier calls.
#[utoipa::path(
    put, path = "/v1/teams/{team}/budget", tag = "costs", operation_id = "putBudget",
    params(("team" = String, Path)),
    request_body(content = NewBudget, content_type = "application/json", example = json!({"usd": "100", "period": "month"})),
    responses(
        (status = 200, description = "The budget and its use.", content((doc::Budget = "application/json", example = json!({"object": "budget", "team": "support", "usd": "0.01", "period": "month", "spent_usd": "0.000324", "reserved_usd": "0", "remaining_usd": "0.009676"})))),
        (status = 400, description = "Invalid `usd` or `period`, or an unknown field.", content((doc::Error = "application/json", examples(("period" = (value = json!({"error": {"message": "'period' must be \"day\" or \"month\"", "type": "invalid_request_error", "param": "period", "code": null}}))))))),
        (status = 401, response = responses::Unauthorized), (status = 403, response = responses::Forbidden), (status = 404, response = responses::NotFound),
    ),
)]
pub async fn put_budget(
    State(state): State<AppState>,
    Admin((Path(team), AppJson(body))): Admin<(Path<String>, AppJson<NewBudget>)>,
) -> ApiResult<Json<Value>> {
    require_existing_team(&state, &team).await?;
    // A JSON number's text is kept as written, so 100.10 stays exact.
    let text = match &body.usd {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => {
            return Err(ApiError::invalid(
                "'usd' must be a decimal number",
                Some("usd"),
            ))
        }
    };
    let usd = crate::costs::parse_usd(&text)
        .map_err(|e| ApiError::invalid(format!("'usd': {e}"), Some("usd")))?;
    let period: crate::costs::Period = body
        .period
        .parse()
        .map_err(|_| ApiError::invalid("'period' must be \"day\" or \"month\"", Some("period")))?;
    let row = crate::store::BudgetRow {
        team: team.clone(),
        usd: crate::costs::format_usd(usd),
        period: period.to_string(),
        updated_at: now_ms(),
    };
    let before = team_budget(&state, &team).await?;
    state.store.put_budget(&row).await?;
    log(&state, "budget.put", &team, before.as_ref(), Some(&row)).await;
    state
        .budgets
        .reload()
        .await
        .map_err(|e| ApiError::from_dependency("the store", e))?;
    // Budgeted requests count prompt tokens; load the tokenizer now.
    tokio::task::spawn_blocking(crate::costs::warm_up);
    budget_now(&state, &team).await
}

/// A team's budget and its use in the current period
///
/// The admin key, or a key of that team (another team → 404).
#[utoipa::path(
    get, path = "/v1/teams/{team}/budget", tag = "costs", operation_id = "getBudget",
    params(("team" = String, Path)),
    responses(
        (status = 200, description = "The budget (`usd: null` when the team has none).", content((doc::Budget = "application/json"))),
        (status = 401, response = responses::Unauthorized), (status = 404, response = responses::NotFound),
    ),
)]
pub async fn get_budget(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(team): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require_team(&team)?;
    require_existing_team(&state, &team).await?;
    budget_now(&state, &team).await
}

/// Remove a team's budget
///
/// Admin key only: a team key gets 403 `permission_denied`.
#[utoipa::path(
    delete, path = "/v1/teams/{team}/budget", tag = "costs", operation_id = "deleteBudget",
    params(("team" = String, Path)),
    responses(
        (status = 200, description = "Removed.", content((BudgetDeleted = "application/json", example = json!({"object": "budget", "team": "support", "deleted": true})))),
        (status = 401, response = responses::Unauthorized), (status = 403, response = responses::Forbidden),
        (status = 404, description = "The team has no budget.", content((doc::Error = "application/json", examples(("none" = (value = json!({"error": {"message": "team `support` has no budget", "type": "invalid_request_error", "param": null, "code": "not_found"}}))))))),
    ),
)]
pub async fn delete_budget(
    State(state): State<AppState>,
    Admin(Path(team)): Admin<Path<String>>,
) -> ApiResult<Json<BudgetDeleted>> {
    let before = team_budget(&state, &team).await?;
    if !state.store.delete_budget(&team).await? {
        return Err(ApiError::NotFound(format!("team `{team}` has no budget")));
    }
    log(
        &state,
        "budget.delete",
        &team,
        before.as_ref(),
        None::<&crate::store::BudgetRow>,
    )
    .await;
    state
        .budgets
        .reload()
        .await
        .map_err(|e| ApiError::from_dependency("the store", e))?;
    Ok(Json(BudgetDeleted {
        object: "budget",
        team,
        deleted: true,
    }))
}

/// The team's budget row, if it has one (the audit log's "before").
async fn team_budget(state: &AppState, team: &str) -> ApiResult<Option<crate::store::BudgetRow>> {
    Ok(state
        .store
        .budgets()
        .await?
        .into_iter()
        .find(|b| b.team == team))
}

/// An admin write for the audit log (these endpoints take the admin key only).
async fn log<B: serde::Serialize, A: serde::Serialize>(
    state: &AppState,
    action: &str,
    target: &str,
    before: Option<&B>,
    after: Option<&A>,
) {
    let change = Change {
        action,
        target,
        before,
        after,
    };
    audit::record(state.store.as_ref(), "admin", change).await;
}
