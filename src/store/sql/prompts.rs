//! The prompt registry: versions (numbered per prompt, never rewritten),
//! labels pointing at them with their history, and the change counter
//! replicas poll.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::{Any, Transaction};

use super::SqlStore;
use crate::store::{
    LabelMove, PromptLabelRow, PromptStore, PromptVersionRow, StoreResult, VersionWrite,
};

/// The columns of a [`PromptVersionRow`], in its field order.
const VERSION_COLUMNS: &str =
    "name, version, content, sha256, commit_message, author, source, created_at";

/// Tries of a version write that lost a race (or found the database busy).
const WRITE_ATTEMPTS: u64 = 5;

/// One label move, as the statements inside a transaction need it.
struct LabelTarget<'a> {
    name: &'a str,
    label: &'a str,
    /// The label's JSON.
    target: &'a str,
    actor: Option<&'a str>,
    at: i64,
}

#[async_trait]
impl PromptStore for SqlStore {
    async fn write_version(
        &self,
        row: &PromptVersionRow,
        labels: &[String],
        actor: Option<&str>,
    ) -> StoreResult<VersionWrite> {
        let _one_writer = self.registry_writes.lock().await;
        retry_lost_races(|| async {
            let mut tx = self.pool.begin().await?;
            let (stored, created) = store_next_version(&mut tx, row).await?;
            let target = format!("{{\"version\":{}}}", stored.version);
            let mut movement = LabelTarget {
                name: &stored.name,
                label: "",
                target: &target,
                actor,
                at: row.created_at,
            };
            for label in labels {
                movement.label = label;
                move_label_in(&mut tx, &movement).await?;
            }
            if created || !labels.is_empty() {
                note_change(&mut tx, row.created_at).await?;
            }
            tx.commit().await?;
            Ok(if created {
                VersionWrite::Created(stored)
            } else {
                VersionWrite::Unchanged(stored)
            })
        })
        .await
    }

    async fn prompt_versions(&self, name: &str) -> StoreResult<Vec<PromptVersionRow>> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM prompt_versions WHERE name = $1 ORDER BY version DESC"
        );
        self.all(&sql, Some(name)).await
    }

    async fn all_prompt_versions(&self) -> StoreResult<Vec<PromptVersionRow>> {
        let sql = format!("SELECT {VERSION_COLUMNS} FROM prompt_versions ORDER BY name, version");
        self.all(&sql, None).await
    }

    async fn all_prompt_labels(&self) -> StoreResult<Vec<PromptLabelRow>> {
        let sql = "SELECT name, label, target, updated_at, updated_by FROM prompt_labels \
                   ORDER BY name, label";
        self.all(sql, None).await
    }

    async fn move_label(
        &self,
        name: &str,
        label: &str,
        target: &str,
        actor: Option<&str>,
        at: i64,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let movement = LabelTarget {
            name,
            label,
            target,
            actor,
            at,
        };
        move_label_in(&mut tx, &movement).await?;
        note_change(&mut tx, at).await?;
        tx.commit().await
    }

    async fn label_history(&self, name: &str, label: &str) -> StoreResult<Vec<LabelMove>> {
        sqlx::query_as(
            "SELECT name, label, from_target, to_target, actor, at FROM prompt_label_history \
             WHERE name = $1 AND label = $2 ORDER BY seq DESC",
        )
        .bind(name)
        .bind(label)
        .fetch_all(&self.pool)
        .await
    }

    async fn registry_revision(&self) -> StoreResult<i64> {
        self.max_seq("SELECT MAX(seq) FROM registry_changes").await
    }
}

/// Runs `attempt` (one transaction) again while it loses a race: two
/// writers may take the same next version number; the primary key refuses
/// the second, which then retries on fresh data.
async fn retry_lost_races<T, F, Fut>(mut attempt: F) -> StoreResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = StoreResult<T>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt().await {
            Err(sqlx::Error::Database(e)) if tries < WRITE_ATTEMPTS && lost_race(&*e) => {
                tokio::time::sleep(Duration::from_millis(10 * tries)).await;
            }
            other => return other,
        }
    }
}

/// A write that failed because another writer got there first, or the
/// database was busy: worth trying again.
fn lost_race(e: &dyn sqlx::error::DatabaseError) -> bool {
    e.is_unique_violation() || e.message().contains("locked") || e.message().contains("busy")
}

/// Stores `row` as the next version of its prompt unless its hash equals the
/// latest version's; returns the stored (or latest) version and whether it
/// is new.
async fn store_next_version(
    tx: &mut Transaction<'_, Any>,
    row: &PromptVersionRow,
) -> StoreResult<(PromptVersionRow, bool)> {
    let latest: Option<PromptVersionRow> = sqlx::query_as(&format!(
        "SELECT {VERSION_COLUMNS} FROM prompt_versions WHERE name = $1 \
         ORDER BY version DESC LIMIT 1"
    ))
    .bind(&row.name)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(latest) = latest.as_ref().filter(|l| l.sha256 == row.sha256) {
        return Ok((latest.clone(), false));
    }
    let stored = PromptVersionRow {
        version: latest.map_or(1, |l| l.version + 1),
        ..row.clone()
    };
    sqlx::query(&format!(
        "INSERT INTO prompt_versions ({VERSION_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(&stored.name)
    .bind(stored.version)
    .bind(&stored.content)
    .bind(&stored.sha256)
    .bind(&stored.commit_message)
    .bind(&stored.author)
    .bind(&stored.source)
    .bind(stored.created_at)
    .execute(&mut **tx)
    .await?;
    Ok((stored, true))
}

/// Moves a label inside an open transaction, recording the move.
async fn move_label_in(tx: &mut Transaction<'_, Any>, m: &LabelTarget<'_>) -> StoreResult<()> {
    let from: Option<String> =
        sqlx::query_scalar("SELECT target FROM prompt_labels WHERE name = $1 AND label = $2")
            .bind(m.name)
            .bind(m.label)
            .fetch_optional(&mut **tx)
            .await?;
    if from.as_deref() == Some(m.target) {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO prompt_labels (name, label, target, updated_at, updated_by) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (name, label) DO UPDATE SET target = excluded.target, \
         updated_at = excluded.updated_at, updated_by = excluded.updated_by",
    )
    .bind(m.name)
    .bind(m.label)
    .bind(m.target)
    .bind(m.at)
    .bind(m.actor)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO prompt_label_history (name, label, from_target, to_target, actor, at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(m.name)
    .bind(m.label)
    .bind(from)
    .bind(m.target)
    .bind(m.actor)
    .bind(m.at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Bumps the registry revision replicas poll.
async fn note_change(tx: &mut Transaction<'_, Any>, at: i64) -> StoreResult<()> {
    sqlx::query("INSERT INTO registry_changes (at) VALUES ($1)")
        .bind(at)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}
