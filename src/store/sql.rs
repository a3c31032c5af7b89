//! The SQL both backends run. The statements keep to what SQLite and
//! PostgreSQL both accept (`$n` placeholders in ascending order, epoch-ms
//! integers), so one macro implements every store trait for either pool type.

macro_rules! impl_store {
    ($store:ty, $db:ty, $backend:literal) => {
        use async_trait::async_trait;
        use $crate::store::{
            ApiKeyRow, KeyStore, LabelMove, PromptLabelRow, PromptStore, PromptVersionRow,
            RecordFilter, RecordStore, RequestRecord, SettingStore, Store, StoreResult, Team,
            TeamStore, VersionWrite,
        };

        const RECORD_COLUMNS: &str = "id, team, key_id, endpoint, model, upstream, stream, status, outcome, \
            prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, latency_us, ttft_us, \
            client_closed, error, metadata, created_at, prompt_name, prompt_version, prompt_sha256, cache";
        const VERSION_COLUMNS: &str =
            "name, version, content, sha256, commit_message, author, source, created_at";

        #[async_trait]
        impl TeamStore for $store {
            async fn create_team(&self, team: &Team) -> StoreResult<bool> {
                let done = sqlx::query(
                    "INSERT INTO teams (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                )
                .bind(&team.name)
                .bind(team.created_at)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn get_team(&self, name: &str) -> StoreResult<Option<Team>> {
                sqlx::query_as("SELECT name, created_at FROM teams WHERE name = $1")
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await
            }

            async fn list_teams(&self) -> StoreResult<Vec<Team>> {
                sqlx::query_as("SELECT name, created_at FROM teams ORDER BY name")
                    .fetch_all(&self.pool)
                    .await
            }
        }

        #[async_trait]
        impl KeyStore for $store {
            async fn insert_key(&self, key: &ApiKeyRow) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO api_keys (id, team, key_hash, hint, created_at, revoked_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&key.id)
                .bind(&key.team)
                .bind(&key.key_hash)
                .bind(&key.hint)
                .bind(key.created_at)
                .bind(key.revoked_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn get_key(&self, id: &str) -> StoreResult<Option<ApiKeyRow>> {
                sqlx::query_as(
                    "SELECT id, team, key_hash, hint, created_at, revoked_at FROM api_keys WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await
            }

            async fn find_key_by_hash(&self, hash: &str) -> StoreResult<Option<ApiKeyRow>> {
                sqlx::query_as(
                    "SELECT id, team, key_hash, hint, created_at, revoked_at FROM api_keys WHERE key_hash = $1",
                )
                .bind(hash)
                .fetch_optional(&self.pool)
                .await
            }

            async fn active_keys(&self) -> StoreResult<Vec<ApiKeyRow>> {
                sqlx::query_as(
                    "SELECT id, team, key_hash, hint, created_at, revoked_at FROM api_keys \
                     WHERE revoked_at IS NULL",
                )
                .fetch_all(&self.pool)
                .await
            }

            async fn list_keys(&self, team: &str) -> StoreResult<Vec<ApiKeyRow>> {
                sqlx::query_as(
                    "SELECT id, team, key_hash, hint, created_at, revoked_at FROM api_keys \
                     WHERE team = $1 ORDER BY created_at, id",
                )
                .bind(team)
                .fetch_all(&self.pool)
                .await
            }

            async fn revoke_key(&self, id: &str, at: i64) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
                )
                .bind(at)
                .bind(id)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }
        }

        #[async_trait]
        impl SettingStore for $store {
            async fn get_setting(&self, name: &str) -> StoreResult<Option<String>> {
                sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await
            }

            async fn put_setting_if_absent(&self, name: &str, value: &str) -> StoreResult<String> {
                sqlx::query(
                    "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                )
                .bind(name)
                .bind(value)
                .execute(&self.pool)
                .await?;
                sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
                    .bind(name)
                    .fetch_one(&self.pool)
                    .await
            }
        }

        #[async_trait]
        impl RecordStore for $store {
            async fn insert_records(&self, records: &[RequestRecord]) -> StoreResult<()> {
                if records.is_empty() {
                    return Ok(());
                }
                let mut tx = self.pool.begin().await?;
                let mut builder: sqlx::QueryBuilder<$db> =
                    sqlx::QueryBuilder::new(format!("INSERT INTO requests ({RECORD_COLUMNS}) "));
                builder.push_values(records, |mut row, r| {
                    row.push_bind(&r.id)
                        .push_bind(&r.team)
                        .push_bind(&r.key_id)
                        .push_bind(&r.endpoint)
                        .push_bind(&r.model)
                        .push_bind(&r.upstream)
                        .push_bind(r.stream)
                        .push_bind(r.status)
                        .push_bind(&r.outcome)
                        .push_bind(r.prompt_tokens)
                        .push_bind(r.completion_tokens)
                        .push_bind(r.cached_tokens)
                        .push_bind(r.reasoning_tokens)
                        .push_bind(r.latency_us)
                        .push_bind(r.ttft_us)
                        .push_bind(r.client_closed)
                        .push_bind(&r.error)
                        .push_bind(&r.metadata)
                        .push_bind(r.created_at)
                        .push_bind(&r.prompt_name)
                        .push_bind(r.prompt_version)
                        .push_bind(&r.prompt_sha256)
                        .push_bind(&r.cache);
                });
                builder.build().execute(&mut *tx).await?;
                tx.commit().await
            }

            async fn get_record(
                &self,
                id: &str,
                team: Option<&str>,
            ) -> StoreResult<Option<RequestRecord>> {
                let sql = format!(
                    "SELECT {RECORD_COLUMNS} FROM requests WHERE id = $1 AND ($2 IS NULL OR team = $3) \
                     ORDER BY seq DESC LIMIT 1"
                );
                sqlx::query_as(&sql)
                    .bind(id)
                    .bind(team)
                    .bind(team)
                    .fetch_optional(&self.pool)
                    .await
            }

            async fn list_records(&self, filter: &RecordFilter) -> StoreResult<Vec<RequestRecord>> {
                let sql = format!(
                    "SELECT {RECORD_COLUMNS} FROM requests WHERE ($1 IS NULL OR team = $2) \
                     ORDER BY seq DESC LIMIT $3"
                );
                sqlx::query_as(&sql)
                    .bind(filter.team.as_deref())
                    .bind(filter.team.as_deref())
                    .bind(filter.limit)
                    .fetch_all(&self.pool)
                    .await
            }
        }

        /// Moves a label inside an open transaction, recording the move.
        async fn move_label_in(
            tx: &mut sqlx::Transaction<'_, $db>,
            name: &str,
            label: &str,
            target: &str,
            actor: Option<&str>,
            at: i64,
        ) -> StoreResult<()> {
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

        async fn note_change(tx: &mut sqlx::Transaction<'_, $db>, at: i64) -> StoreResult<()> {
            sqlx::query("INSERT INTO registry_changes (at) VALUES ($1)")
                .bind(at)
                .execute(&mut **tx)
                .await
                .map(|_| ())
        }

        #[async_trait]
        impl PromptStore for $store {
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
                        Err(sqlx::Error::Database(e)) if attempt < 5 && (e.is_unique_violation() || e.message().contains("locked") || e.message().contains("busy")) => {
                            tokio::time::sleep(std::time::Duration::from_millis(10 * attempt)).await;
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
                    "SELECT name, label, target, updated_at, updated_by FROM prompt_labels ORDER BY name, label",
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
                let rev: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM registry_changes")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(rev.unwrap_or(0))
            }
        }

        impl $store {
            async fn try_write_version(
                &self,
                row: &PromptVersionRow,
                labels: &[String],
                actor: Option<&str>,
            ) -> StoreResult<VersionWrite> {
                let mut tx = self.pool.begin().await?;
                let latest: Option<PromptVersionRow> = sqlx::query_as(&format!(
                    "SELECT {VERSION_COLUMNS} FROM prompt_versions WHERE name = $1 ORDER BY version DESC LIMIT 1"
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
                            "INSERT INTO prompt_versions ({VERSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
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
                Ok(if created { VersionWrite::Created(stored) } else { VersionWrite::Unchanged(stored) })
            }
        }

        #[async_trait]
        impl Store for $store {
            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ())
            }

            fn backend(&self) -> &'static str {
                $backend
            }
        }
    };
}

pub(crate) use impl_store;
