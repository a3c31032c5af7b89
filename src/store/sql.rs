//! The SQL both backends run. The statements keep to what SQLite and
//! PostgreSQL both accept (`$n` placeholders in ascending order, epoch-ms
//! integers), so one macro implements every store trait for either pool type.

macro_rules! impl_store {
    ($store:ty, $db:ty, $backend:literal, day = $day:literal, tags_join = $tags_join:literal) => {
        use async_trait::async_trait;
        use $crate::store::{
            ApiKeyRow, KeyStore, LabelMove, PromptLabelRow, PromptStore, PromptVersionRow,
            RecordFilter, RecordStore, RequestRecord, SettingStore, Store, StoreResult, Team,
            TeamStore, VersionWrite, CostStore, CacheClearStore, Dim, ReportQuery, ReportRow, BudgetRow, BudgetStore,
        };

        const RECORD_COLUMNS: &str = "id, team, key_id, endpoint, model, upstream, stream, status, outcome, \
            prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, latency_us, ttft_us, \
            client_closed, error, metadata, created_at, prompt_name, prompt_version, prompt_sha256, cache, cost_pusd, saved_pusd, usage_source, tags, grounding_score, flagged, grounding";
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
                // Chunks whose sizes are powers of two up to 64: each distinct
                // statement text is prepared and cached on every pooled
                // connection, so arbitrary batch sizes would fill the caches with
                // one-off statements. Seven shapes write a typical batch in a
                // few statements (70 records: three), and capping them at 64
                // rows keeps the cached statements small (SQLite's grow with
                // their rows, on each of the pool's connections).
                let mut rest = records;
                while !rest.is_empty() {
                    let size = $crate::store::sql::chunk_size(rest.len());
                    let (chunk, tail) = rest.split_at(size);
                    rest = tail;
                let mut builder: sqlx::QueryBuilder<$db> =
                    sqlx::QueryBuilder::new(format!("INSERT INTO requests ({RECORD_COLUMNS}) "));
                builder.push_values(chunk, |mut row, r| {
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
                        .push_bind(&r.cache)
                        .push_bind(r.cost_pusd)
                        .push_bind(r.saved_pusd)
                        .push_bind(&r.usage_source)
                        .push_bind(&r.tags)
                        .push_bind(r.grounding_score)
                        .push_bind(r.flagged)
                        .push_bind(&r.grounding);
                });
                builder.build().execute(&mut *tx).await?;
                }
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
                     AND ($3 IS NULL OR flagged = $4) ORDER BY seq DESC LIMIT $5"
                );
                sqlx::query_as(&sql)
                    .bind(filter.team.as_deref())
                    .bind(filter.team.as_deref())
                    .bind(filter.flagged)
                    .bind(filter.flagged)
                    .bind(filter.limit)
                    .fetch_all(&self.pool)
                    .await
            }
        }

        #[async_trait]
        impl CostStore for $store {
            async fn cost_report(&self, q: &ReportQuery) -> StoreResult<Vec<ReportRow>> {
                // Dimensions come from a closed list, so their SQL is fixed text.
                let dims: Vec<&str> = q
                    .group_by
                    .iter()
                    .map(|d| match d {
                        Dim::Team => "team",
                        Dim::Key => "key_id",
                        Dim::Model => "model",
                        Dim::Prompt => "prompt_name",
                        Dim::Version => "CAST(prompt_version AS TEXT)",
                        Dim::Day => $day,
                        Dim::Tag => "tag_value",
                    })
                    .collect();
                let select_dims: String = dims.iter().enumerate().map(|(i, d)| format!("{d} AS d{i}, ")).collect();
                let group: Vec<String> = (0..dims.len()).map(|i| format!("d{i}")).collect();
                let from = if q.group_by.contains(&Dim::Tag) { $tags_join } else { "requests" };
                let sql = format!(
                    "SELECT {select_dims} COUNT(*) AS requests, \
                     CAST(COALESCE(SUM(prompt_tokens), 0) AS TEXT) AS input_tokens, \
                     CAST(COALESCE(SUM(completion_tokens), 0) AS TEXT) AS output_tokens, \
                     CAST(COALESCE(SUM(cached_tokens), 0) AS TEXT) AS cached_tokens, \
                     CAST(COALESCE(SUM(cost_pusd), 0) AS TEXT) AS cost, \
                     SUM(CASE WHEN cache = 'hit' THEN 1 ELSE 0 END) AS cache_hits, \
                     CAST(COALESCE(SUM(saved_pusd), 0) AS TEXT) AS saved, \
                     SUM(CASE WHEN cost_pusd IS NULL AND prompt_tokens IS NOT NULL THEN 1 ELSE 0 END) AS unpriced \
                     FROM {from} WHERE created_at >= $1 AND created_at < $2 AND ($3 IS NULL OR team = $4) \
                     {group_clause} {order_clause}",
                    group_clause = if group.is_empty() { String::new() } else { format!("GROUP BY {}", group.join(", ")) },
                    order_clause = if group.is_empty() { String::new() } else { format!("ORDER BY {}", group.join(", ")) },
                );
                let rows = sqlx::query(&sql)
                    .bind(q.from_ms)
                    .bind(q.to_ms)
                    .bind(q.team.as_deref())
                    .bind(q.team.as_deref())
                    .fetch_all(&self.pool)
                    .await?;
                use sqlx::Row;
                let num = |r: &<$db as sqlx::Database>::Row, col: &str| -> StoreResult<i128> {
                    let text: Option<String> = r.try_get(col)?;
                    Ok(text.and_then(|t| t.parse::<i128>().ok()).unwrap_or(0))
                };
                let mut out = Vec::with_capacity(rows.len());
                for r in &rows {
                    let mut keys = Vec::with_capacity(dims.len());
                    for i in 0..dims.len() {
                        keys.push(r.try_get::<Option<String>, _>(format!("d{i}").as_str())?);
                    }
                    let requests: i64 = r.try_get("requests")?;
                    let hits: Option<i64> = r.try_get("cache_hits")?;
                    let unpriced: Option<i64> = r.try_get("unpriced")?;
                    out.push(ReportRow {
                        keys,
                        requests,
                        input_tokens: num(r, "input_tokens")? as i64,
                        output_tokens: num(r, "output_tokens")? as i64,
                        cached_tokens: num(r, "cached_tokens")? as i64,
                        cost_pusd: num(r, "cost")?,
                        cache_hits: hits.unwrap_or(0),
                        saved_pusd: num(r, "saved")?,
                        unpriced_requests: unpriced.unwrap_or(0),
                    });
                }
                Ok(out)
            }
        }

        #[async_trait]
        impl BudgetStore for $store {
            async fn put_budget(&self, b: &BudgetRow) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO budgets (team, usd, period, updated_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (team) DO UPDATE SET usd = excluded.usd, period = excluded.period, \
                     updated_at = excluded.updated_at",
                )
                .bind(&b.team)
                .bind(&b.usd)
                .bind(&b.period)
                .bind(b.updated_at)
                .execute(&self.pool)
                .await
                .map(|_| ())
            }

            async fn delete_budget(&self, team: &str) -> StoreResult<bool> {
                let done = sqlx::query("DELETE FROM budgets WHERE team = $1").bind(team).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn budgets(&self) -> StoreResult<Vec<BudgetRow>> {
                sqlx::query_as("SELECT team, usd, period, updated_at FROM budgets").fetch_all(&self.pool).await
            }

            async fn spent_since(&self, team: &str, from_ms: i64) -> StoreResult<i128> {
                let total: Option<String> = sqlx::query_scalar(
                    "SELECT CAST(COALESCE(SUM(cost_pusd), 0) AS TEXT) FROM requests WHERE team = $1 AND created_at >= $2",
                )
                .bind(team)
                .bind(from_ms)
                .fetch_one(&self.pool)
                .await?;
                Ok(total.and_then(|t| t.parse().ok()).unwrap_or(0))
            }

            async fn counter_reserve(
                &self,
                team: &str,
                period_start: i64,
                init_spent: i64,
                amount: i64,
                limit: i64,
            ) -> StoreResult<(bool, i64, i64)> {
                sqlx::query(
                    "INSERT INTO budget_counters (team, period_start, spent_musd, reserved_musd) \
                     VALUES ($1, $2, $3, 0) ON CONFLICT (team, period_start) DO NOTHING",
                )
                .bind(team)
                .bind(period_start)
                .bind(init_spent)
                .execute(&self.pool)
                .await?;
                // One conditional UPDATE: the check and the reservation are atomic.
                let got: Option<(i64, i64)> = sqlx::query_as(
                    "UPDATE budget_counters SET reserved_musd = reserved_musd + $1 \
                     WHERE team = $2 AND period_start = $3 AND spent_musd + reserved_musd + $4 <= $5 \
                     RETURNING spent_musd, reserved_musd",
                )
                .bind(amount)
                .bind(team)
                .bind(period_start)
                .bind(amount)
                .bind(limit)
                .fetch_optional(&self.pool)
                .await?;
                match got {
                    Some((spent, reserved)) => Ok((true, spent, reserved)),
                    None => {
                        let (spent, reserved) = self.counter_read(team, period_start).await?.unwrap_or((0, 0));
                        Ok((false, spent, reserved))
                    }
                }
            }

            async fn counter_settle(&self, team: &str, period_start: i64, reserved: i64, spent: i64) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE budget_counters SET reserved_musd = reserved_musd - $1, spent_musd = spent_musd + $2 \
                     WHERE team = $3 AND period_start = $4",
                )
                .bind(reserved)
                .bind(spent)
                .bind(team)
                .bind(period_start)
                .execute(&self.pool)
                .await
                .map(|_| ())
            }

            async fn counter_read(&self, team: &str, period_start: i64) -> StoreResult<Option<(i64, i64)>> {
                sqlx::query_as(
                    "SELECT spent_musd, reserved_musd FROM budget_counters WHERE team = $1 AND period_start = $2",
                )
                .bind(team)
                .bind(period_start)
                .fetch_optional(&self.pool)
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
        impl CacheClearStore for $store {
            async fn note_cache_clear(&self, prompt: Option<&str>, at: i64) -> StoreResult<i64> {
                sqlx::query_scalar("INSERT INTO cache_clears (prompt, at) VALUES ($1, $2) RETURNING seq")
                    .bind(prompt)
                    .bind(at)
                    .fetch_one(&self.pool)
                    .await
            }

            async fn cache_clears_after(&self, seq: i64) -> StoreResult<Vec<(i64, Option<String>)>> {
                sqlx::query_as("SELECT seq, prompt FROM cache_clears WHERE seq > $1 ORDER BY seq")
                    .bind(seq)
                    .fetch_all(&self.pool)
                    .await
            }

            async fn last_cache_clear(&self) -> StoreResult<i64> {
                let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM cache_clears")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(seq.unwrap_or(0))
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

/// Records per `INSERT` for a batch with `left` records still to write: the
/// largest power of two not above `left`, at most [`MAX_ROWS_PER_INSERT`].
pub(crate) fn chunk_size(left: usize) -> usize {
    (1 << left.max(1).ilog2()).min(MAX_ROWS_PER_INSERT)
}

/// The largest multi-row `INSERT` of records.
const MAX_ROWS_PER_INSERT: usize = 64;

#[cfg(test)]
mod tests {
    use super::chunk_size;

    #[test]
    fn batches_split_into_powers_of_two_up_to_64() {
        let split = |mut n: usize| {
            let mut sizes = Vec::new();
            while n > 0 {
                sizes.push(chunk_size(n));
                n -= chunk_size(n);
            }
            sizes
        };
        assert_eq!(split(1), [1]);
        assert_eq!(split(70), [64, 4, 2]);
        assert_eq!(split(64), [64]);
        assert_eq!(split(200), [64, 64, 64, 8]);
        assert!((1..=2000).all(|n| split(n).iter().sum::<usize>() == n));
    }
}
