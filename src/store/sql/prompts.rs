//! The prompt registry: versions (numbered per prompt, never rewritten),
//! labels pointing at them with their history, and the change counter
//! replicas poll.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Transaction, Type};

use super::{Dialect, Param, SqlStore};
use crate::store::{
    LabelMove, PromptLabelRow, PromptStore, PromptVersionRow, StoreResult, VersionWrite,
};

/// The columns of a [`PromptVersionRow`], in its field order.
const VERSION_COLUMNS: &str =
    "name, version, content, sha256, commit_message, author, source, created_at";

/// Tries of a version write that lost a race (or found the database busy).
const WRITE_ATTEMPTS: u64 = 5;

#[async_trait]
impl<DB: Dialect> PromptStore for SqlStore<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    String: Param<DB>,
    Option<String>: Param<DB>,
    i64: Param<DB>,
    for<'r> PromptVersionRow: FromRow<'r, DB::Row>,
    for<'r> PromptLabelRow: FromRow<'r, DB::Row>,
    for<'r> LabelMove: FromRow<'r, DB::Row>,
    for<'r> (String,): FromRow<'r, DB::Row>,
    for<'r> (Option<i64>,): FromRow<'r, DB::Row>,
{
    async fn write_version(
        &self,
        row: &PromptVersionRow,
        labels: &[String],
        actor: Option<&str>,
    ) -> StoreResult<VersionWrite> {
        // Two writers may race for the same next number; the primary
        // key refuses the second, which then retries on fresh data.
        let _one_writer = self.registry_writes.lock().await;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_write_version(row, labels, actor).await {
                Err(sqlx::Error::Database(e)) if attempt < WRITE_ATTEMPTS && lost_race(&*e) => {
                    tokio::time::sleep(Duration::from_millis(10 * attempt)).await;
                }
                other => return other,
            }
        }
    }

    async fn prompt_versions(&self, name: &str) -> StoreResult<Vec<PromptVersionRow>> {
        sqlx::query_as(&format!(
            "SELECT {VERSION_COLUMNS} FROM prompt_versions WHERE name = $1 ORDER BY version DESC"
        ))
        .bind(name)
        .fetch_all(&self.pool)
        .await
    }

    async fn all_prompt_versions(&self) -> StoreResult<Vec<PromptVersionRow>> {
        sqlx::query_as(&format!(
            "SELECT {VERSION_COLUMNS} FROM prompt_versions ORDER BY name, version"
        ))
        .fetch_all(&self.pool)
        .await
    }

    async fn all_prompt_labels(&self) -> StoreResult<Vec<PromptLabelRow>> {
        sqlx::query_as(
            "SELECT name, label, target, updated_at, updated_by FROM prompt_labels \
             ORDER BY name, label",
        )
        .fetch_all(&self.pool)
        .await
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
        move_label_in(&mut tx, name, label, target, actor, at).await?;
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

/// A write that failed because another writer got there first, or the
/// database was busy: worth trying again.
fn lost_race(e: &dyn sqlx::error::DatabaseError) -> bool {
    e.is_unique_violation() || e.message().contains("locked") || e.message().contains("busy")
}

impl<DB: Database> SqlStore<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    String: Param<DB>,
    Option<String>: Param<DB>,
    i64: Param<DB>,
    for<'r> PromptVersionRow: FromRow<'r, DB::Row>,
    for<'r> (String,): FromRow<'r, DB::Row>,
{
    /// One attempt of [`PromptStore::write_version`], in one transaction.
    async fn try_write_version(
        &self,
        row: &PromptVersionRow,
        labels: &[String],
        actor: Option<&str>,
    ) -> StoreResult<VersionWrite> {
        let mut tx = self.pool.begin().await?;
        let latest: Option<PromptVersionRow> = sqlx::query_as(&format!(
            "SELECT {VERSION_COLUMNS} FROM prompt_versions WHERE name = $1 \
             ORDER BY version DESC LIMIT 1"
        ))
        .bind(&row.name)
        .fetch_optional(&mut *tx)
        .await?;
        let (stored, created) = match latest {
            Some(latest) if latest.sha256 == row.sha256 => (latest, false),
            latest => {
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
                .execute(&mut *tx)
                .await?;
                (stored, true)
            }
        };
        let target = format!("{{\"version\":{}}}", stored.version);
        for label in labels {
            move_label_in(&mut tx, &stored.name, label, &target, actor, row.created_at).await?;
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
    }
}

/// Moves a label inside an open transaction, recording the move.
async fn move_label_in<DB: Database>(
    tx: &mut Transaction<'_, DB>,
    name: &str,
    label: &str,
    target: &str,
    actor: Option<&str>,
    at: i64,
) -> StoreResult<()>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    Option<String>: Param<DB>,
    i64: Param<DB>,
    for<'r> (String,): FromRow<'r, DB::Row>,
{
    let from: Option<String> =
        sqlx::query_scalar("SELECT target FROM prompt_labels WHERE name = $1 AND label = $2")
            .bind(name)
            .bind(label)
            .fetch_optional(&mut **tx)
            .await?;
    if from.as_deref() == Some(target) {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO prompt_labels (name, label, target, updated_at, updated_by) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (name, label) DO UPDATE SET target = excluded.target, \
         updated_at = excluded.updated_at, updated_by = excluded.updated_by",
    )
    .bind(name)
    .bind(label)
    .bind(target)
    .bind(at)
    .bind(actor)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO prompt_label_history (name, label, from_target, to_target, actor, at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(name)
    .bind(label)
    .bind(from)
    .bind(target)
    .bind(actor)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Bumps the registry revision replicas poll.
async fn note_change<DB: Database>(tx: &mut Transaction<'_, DB>, at: i64) -> StoreResult<()>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    i64: Param<DB>,
{
    sqlx::query("INSERT INTO registry_changes (at) VALUES ($1)")
        .bind(at)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}
