//! Request records: written in batches by the writer, read back one by one
//! or as a filtered list.

use async_trait::async_trait;
use sqlx::{Encode, Executor, FromRow, IntoArguments, QueryBuilder, Type};

use super::{Dialect, Param, SqlStore};
use crate::store::{RecordFilter, RecordStore, RequestRecord, StoreResult};

/// The columns of a [`RequestRecord`], in its field order.
const RECORD_COLUMNS: &str = "id, team, key_id, endpoint, model, upstream, stream, status, outcome, \
    prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, latency_us, ttft_us, \
    client_closed, error, metadata, created_at, prompt_name, prompt_version, prompt_sha256, cache, cost_pusd, saved_pusd, usage_source, tags, grounding_score, flagged, grounding";

/// The largest multi-row `INSERT` of records.
const MAX_ROWS_PER_INSERT: usize = 64;

#[async_trait]
impl<DB: Dialect> RecordStore for SqlStore<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    String: Param<DB>,
    Option<String>: Param<DB>,
    bool: Param<DB>,
    Option<bool>: Param<DB>,
    i32: Param<DB>,
    i64: Param<DB>,
    Option<i64>: Param<DB>,
    Option<f64>: Param<DB>,
    for<'r> RequestRecord: FromRow<'r, DB::Row>,
{
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
            let size = chunk_size(rest.len());
            let (chunk, tail) = rest.split_at(size);
            rest = tail;
            let mut builder: QueryBuilder<DB> =
                QueryBuilder::new(format!("INSERT INTO requests ({RECORD_COLUMNS}) "));
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
            DB::execute_built(&mut builder, &mut tx).await?;
        }
        tx.commit().await
    }

    async fn get_record(&self, id: &str, team: Option<&str>) -> StoreResult<Option<RequestRecord>> {
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

/// Records per `INSERT` for a batch with `left` records still to write: the
/// largest power of two not above `left`, at most [`MAX_ROWS_PER_INSERT`].
pub(crate) fn chunk_size(left: usize) -> usize {
    (1 << left.max(1).ilog2()).min(MAX_ROWS_PER_INSERT)
}

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
