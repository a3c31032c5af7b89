//! The audit log: appended to, filtered, never changed.

use async_trait::async_trait;

use super::{Engine, SqlStore};
use crate::store::{AuditEntry, AuditFilter, AuditStore, StoreResult};

const AUDIT_COLUMNS: &str = "seq, at, actor, action, target, before, after";

#[async_trait]
impl<DB: Engine> AuditStore for SqlStore<DB> {
    async fn append_audit(&self, e: &AuditEntry) -> StoreResult<()> {
        self.run(
            "INSERT INTO audit_log (at, actor, action, target, before, after) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                e.at.into(),
                (&e.actor).into(),
                (&e.action).into(),
                (&e.target).into(),
                e.before.as_deref().into(),
                e.after.as_deref().into(),
            ],
        )
        .await
    }

    async fn list_audit(&self, f: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log \
             WHERE ($1 IS NULL OR action = $1) AND ($2 IS NULL OR target = $2) \
             AND ($3 IS NULL OR actor = $3) AND at >= $4 AND at < $5 AND ($6 IS NULL OR seq < $6) \
             ORDER BY seq DESC LIMIT $7"
        );
        self.rows(
            &sql,
            &[
                f.action.as_deref().into(),
                f.target.as_deref().into(),
                f.actor.as_deref().into(),
                f.from.into(),
                f.to.into(),
                f.before_seq.into(),
                f.limit.into(),
            ],
        )
        .await
    }
}
