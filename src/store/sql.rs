//! The SQL both backends run. The statements keep to what SQLite and
//! PostgreSQL both accept (`$n` placeholders in ascending order, epoch-ms
//! integers), so one macro implements every store trait for either pool type.

macro_rules! impl_store {
    ($store:ty, $db:ty, $backend:literal) => {
        use async_trait::async_trait;
        use $crate::store::{
            ApiKeyRow, KeyStore, RecordFilter, RecordStore, RequestRecord, SettingStore, Store,
            StoreResult, Team, TeamStore,
        };

        const RECORD_COLUMNS: &str = "id, team, key_id, endpoint, model, upstream, stream, status, outcome, \
            prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, latency_us, ttft_us, \
            client_closed, error, metadata, created_at";

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
                        .push_bind(r.created_at);
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
