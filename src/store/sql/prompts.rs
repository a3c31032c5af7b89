//! The prompt registry: versions (numbered per prompt, never rewritten),
//! labels pointing at them with their history, and the change counter
//! replicas poll.

use std::time::Duration;

use async_trait::async_trait;

use super::{rows_on, Engine, SqlStore};
use crate::store::{
    LabelMove, LabelWrite, PromptLabelRow, PromptStore, PromptVersionRow, StoreResult, VersionWrite,
};

/// The columns of a [`PromptVersionRow`], in its field order.
const VERSION_COLUMNS: &str =
    "name, version, content, sha256, commit_message, author, source, created_at";

/// Tries of a version write that lost a race (or found the database busy).
const WRITE_ATTEMPTS: u64 = 5;

#[async_trait]
impl<DB: Engine> PromptStore for SqlStore<DB> {
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
            let written: StoreResult<VersionWrite> = async {
                let mut tx = self.pool.begin().await?;
                let written = write_in::<DB>(&mut tx, row, labels, actor).await?;
                tx.commit().await?;
                Ok(written)
            }
            .await;
            match written {
                Err(sqlx::Error::Database(e)) if attempt < WRITE_ATTEMPTS && lost_race(&*e) => {
                    tokio::time::sleep(Duration::from_millis(10 * attempt)).await;
                }
                other => return other,
            }
        }
    }

    async fn prompt_versions(&self, name: &str) -> StoreResult<Vec<PromptVersionRow>> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM prompt_versions WHERE name = $1 ORDER BY version DESC"
        );
        self.rows(&sql, &[name.into()]).await
    }

    async fn all_prompt_versions(&self) -> StoreResult<Vec<PromptVersionRow>> {
        let sql = format!("SELECT {VERSION_COLUMNS} FROM prompt_versions ORDER BY name, version");
        self.rows(&sql, &[]).await
    }

    async fn all_prompt_labels(&self) -> StoreResult<Vec<PromptLabelRow>> {
        self.rows(
            "SELECT name, label, target, updated_at, updated_by FROM prompt_labels \
             ORDER BY name, label",
            &[],
        )
        .await
    }

    async fn move_label(&self, m: &LabelWrite<'_>) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        move_label_in::<DB>(&mut tx, m).await?;
        note_change::<DB>(&mut tx, m.at).await?;
        tx.commit().await
    }

    async fn move_label_if(
        &self,
        m: &LabelWrite<'_>,
        expected: &str,
        reason: &str,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        // The `WHERE target = …` is the compare-and-set: of two replicas
        // racing, PostgreSQL re-checks it for the second after the first
        // commits, and that one updates nothing.
        let updated: Vec<(String,)> = rows_on::<DB, _>(
            &mut tx,
            "UPDATE prompt_labels SET target = $1, updated_at = $2, updated_by = $3 \
             WHERE name = $4 AND label = $5 AND target = $6 RETURNING name",
            &[
                m.target.into(),
                m.at.into(),
                m.actor.into(),
                m.name.into(),
                m.label.into(),
                expected.into(),
            ],
        )
        .await?;
        if updated.is_empty() {
            return Ok(false);
        }
        note_move::<DB>(&mut tx, m, Some(expected), Some(reason)).await?;
        note_change::<DB>(&mut tx, m.at).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn label_history(&self, name: &str, label: &str) -> StoreResult<Vec<LabelMove>> {
        self.rows(
            "SELECT name, label, from_target, to_target, actor, at, reason FROM prompt_label_history \
             WHERE name = $1 AND label = $2 ORDER BY seq DESC",
            &[name.into(), label.into()],
        )
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

/// One attempt of [`PromptStore::write_version`], inside its transaction.
async fn write_in<DB: Engine>(
    tx: &mut DB::Connection,
    row: &PromptVersionRow,
    labels: &[String],
    actor: Option<&str>,
) -> StoreResult<VersionWrite> {
    let latest = format!(
        "SELECT {VERSION_COLUMNS} FROM prompt_versions WHERE name = $1 \
         ORDER BY version DESC LIMIT 1"
    );
    let latest: Option<PromptVersionRow> = rows_on::<DB, _>(tx, &latest, &[(&row.name).into()])
        .await?
        .into_iter()
        .next();
    let (stored, created) = match latest {
        Some(latest) if latest.sha256 == row.sha256 => (latest, false),
        latest => {
            let stored = PromptVersionRow {
                version: latest.map_or(1, |l| l.version + 1),
                ..row.clone()
            };
            let insert = format!(
                "INSERT INTO prompt_versions ({VERSION_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            );
            DB::execute(tx, &insert, &version_values(&stored)).await?;
            (stored, true)
        }
    };
    let target = format!("{{\"version\":{}}}", stored.version);
    for label in labels {
        let m = LabelWrite {
            name: &stored.name,
            label,
            target: &target,
            actor,
            at: row.created_at,
        };
        move_label_in::<DB>(tx, &m).await?;
    }
    if created || !labels.is_empty() {
        note_change::<DB>(tx, row.created_at).await?;
    }
    Ok(if created {
        VersionWrite::Created(stored)
    } else {
        VersionWrite::Unchanged(stored)
    })
}

/// A version's values in [`VERSION_COLUMNS`] order.
fn version_values(v: &PromptVersionRow) -> [super::Value<'_>; 8] {
    [
        (&v.name).into(),
        v.version.into(),
        (&v.content).into(),
        (&v.sha256).into(),
        v.commit_message.as_deref().into(),
        v.author.as_deref().into(),
        (&v.source).into(),
        v.created_at.into(),
    ]
}

/// Moves a label inside an open transaction, recording the move.
async fn move_label_in<DB: Engine>(
    conn: &mut DB::Connection,
    m: &LabelWrite<'_>,
) -> StoreResult<()> {
    let LabelWrite {
        name,
        label,
        target,
        actor,
        at,
    } = *m;
    let from: Option<(String,)> = rows_on::<DB, _>(
        conn,
        "SELECT target FROM prompt_labels WHERE name = $1 AND label = $2",
        &[name.into(), label.into()],
    )
    .await?
    .into_iter()
    .next();
    let from = from.map(|(t,)| t);
    if from.as_deref() == Some(target) {
        return Ok(());
    }
    DB::execute(
        conn,
        "INSERT INTO prompt_labels (name, label, target, updated_at, updated_by) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (name, label) DO UPDATE SET target = excluded.target, \
         updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        &[
            name.into(),
            label.into(),
            target.into(),
            at.into(),
            actor.into(),
        ],
    )
    .await?;
    note_move::<DB>(conn, m, from.as_deref(), None).await
}

/// Writes one line of a label's history.
async fn note_move<DB: Engine>(
    conn: &mut DB::Connection,
    m: &LabelWrite<'_>,
    from: Option<&str>,
    reason: Option<&str>,
) -> StoreResult<()> {
    DB::execute(
        conn,
        "INSERT INTO prompt_label_history (name, label, from_target, to_target, actor, at, reason) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            m.name.into(),
            m.label.into(),
            from.into(),
            m.target.into(),
            m.actor.into(),
            m.at.into(),
            reason.into(),
        ],
    )
    .await
}

/// Bumps the registry revision replicas poll.
async fn note_change<DB: Engine>(conn: &mut DB::Connection, at: i64) -> StoreResult<()> {
    DB::execute(
        conn,
        "INSERT INTO registry_changes (at) VALUES ($1)",
        &[at.into()],
    )
    .await
}
