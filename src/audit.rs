//! The audit log of admin writes: who (key id), what, when, before / after.
//!
//! Handlers call [`record`] after a write has succeeded. It is awaited, so
//! the entry is in the store when the client sees the answer; a failure to
//! write it is logged and counted (`promptgate_audit_write_errors_total`)
//! rather than reported as a failed change, because the change itself was made.

use serde::Serialize;

use crate::auth::Caller;
use crate::store::{AuditEntry, Store};

/// Who the audit log names for `caller`: the key id, or `admin`.
pub fn actor(caller: &Caller) -> String {
    match caller {
        Caller::Admin => "admin".to_owned(),
        Caller::Team { key_id, .. } => key_id.to_string(),
    }
}

/// One change: the action, its target and the object before and after
/// (`None`: it did not exist, or was removed).
pub struct Change<'a, B: Serialize, A: Serialize> {
    pub action: &'a str,
    pub target: &'a str,
    pub before: Option<&'a B>,
    pub after: Option<&'a A>,
}

/// Appends `change`, made by `actor`, to the audit log.
pub async fn record<B: Serialize, A: Serialize>(
    store: &dyn Store,
    actor: &str,
    change: Change<'_, B, A>,
) {
    let entry = AuditEntry {
        seq: 0,
        at: crate::time::now_ms(),
        actor: actor.to_owned(),
        action: change.action.to_owned(),
        target: change.target.to_owned(),
        before: change.before.and_then(|b| serde_json::to_string(b).ok()),
        after: change.after.and_then(|a| serde_json::to_string(a).ok()),
    };
    if let Err(err) = store.append_audit(&entry).await {
        metrics::counter!("promptgate_audit_write_errors_total").increment(1);
        tracing::error!(error = %err, action = change.action, target = change.target, "could not write the audit entry");
    }
}
