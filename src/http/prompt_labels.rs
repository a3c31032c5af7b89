//! Moving a prompt's label (`PUT /v1/prompts/{name}/labels/{label}`), for
//! the API and the web console alike: validated, stored with history, audited.

use serde_json::{json, Value};

use crate::api::{ApiError, ApiResult};
use crate::auth::Caller;
use crate::registry::service::{self, WriteError};
use crate::state::AppState;

/// The API error of a failed registry write.
pub fn write_error(e: WriteError) -> ApiError {
    match e {
        WriteError::Invalid(m) => ApiError::invalid(m.message.clone(), Some(&m.field)),
        WriteError::FileSourced(_) => ApiError::Conflict(e.to_string()),
        WriteError::UnknownPrompt(_) => ApiError::NotFound(e.to_string()),
        WriteError::UnknownVersion(..) => ApiError::invalid(e.to_string(), Some("version")),
        WriteError::Store(err) => ApiError::Internal(err),
    }
}

/// Who the registry's history names for a write by `caller`.
pub fn actor_of(caller: &Caller) -> Option<&'static str> {
    match caller {
        Caller::Admin => Some("admin"),
        Caller::Team { .. } => None,
    }
}

/// Points `label` of `name` at the target in `body` (`{"version": n}` or
/// `{"rollout": […]}`, with an optional guard), audited: the label route's
/// work, also done by the web console. Admin only.
pub async fn set_label(
    state: &AppState,
    caller: &Caller,
    name: &str,
    label: &str,
    body: Value,
) -> ApiResult<Value> {
    caller.require_admin()?;
    let (target, guard) = crate::registry::guard::read_label(body)
        .map_err(|e| ApiError::invalid(e.message, Some(&e.field)))?;
    let before = state
        .registry
        .snapshot()
        .prompts
        .get(name)
        .and_then(|e| e.labels.get(label).cloned());
    service::move_label(
        state.store.as_ref(),
        &state.registry,
        name,
        label,
        &target,
        guard.as_ref(),
        actor_of(caller),
    )
    .await
    .map_err(write_error)?;
    let mut out = json!({"object": "prompt.label", "name": name, "label": label, "target": target});
    if let Some(g) = guard {
        out["guard"] = json!(g);
    }
    let change = crate::audit::Change {
        action: "label.move",
        target: &format!("{name}:{label}"),
        before: before.as_ref(),
        after: Some(&out),
    };
    crate::audit::record(state.store.as_ref(), "admin", change).await;
    Ok(out)
}
