//! Request records: written in batches by the writer, read back one by one
//! or as a filtered list.

use std::sync::LazyLock;

use async_trait::async_trait;

use super::SqlStore;
use crate::store::{RecordFilter, RecordStore, RequestRecord, StoreResult};

/// The columns of a [`RequestRecord`], in its field order.
const RECORD_COLUMNS: &str = "id, team, key_id, endpoint, model, upstream, stream, status, outcome, \
    prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, latency_us, ttft_us, \
    client_closed, error, metadata, created_at, prompt_name, prompt_version, prompt_sha256, cache, cost_pusd, saved_pusd, usage_source, tags, grounding_score, flagged, grounding";

/// The boolean columns among them: read as integers (see [`super::IntBool`]).
const BOOL_COLUMNS: [&str; 3] = ["stream", "client_closed", "flagged"];

/// [`RECORD_COLUMNS`] as a `SELECT` list, booleans cast to integers.
static RECORD_SELECT: LazyLock<String> = LazyLock::new(|| {
    RECORD_COLUMNS
        .split(", ")
        .map(|c| match BOOL_COLUMNS.contains(&c) {
            true => format!("CAST({c} AS INTEGER) AS {c}"),
            false => c.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(", ")
});

/// The largest multi-row `INSERT` of records.
const MAX_ROWS_PER_INSERT: usize = 64;

/// The `INSERT` of 1, 2, 4 … 64 records, indexed by the log2 of the count.
/// Written out here rather than by sqlx's `QueryBuilder`, which gives the
/// `Any` driver `?` placeholders that PostgreSQL refuses.
static INSERTS: LazyLock<Vec<String>> = LazyLock::new(|| {
    let columns = RECORD_COLUMNS.split(", ").count();
    (0..=MAX_ROWS_PER_INSERT.ilog2())
        .map(|log| {
            let rows: Vec<String> = (0..1 << log)
                .map(|row| {
                    let params: Vec<String> = (1..=columns)
                        .map(|c| format!("${}", row * columns + c))
                        .collect();
                    format!("({})", params.join(", "))
                })
                .collect();
            format!(
                "INSERT INTO requests ({RECORD_COLUMNS}) VALUES {}",
                rows.join(", ")
            )
        })
        .collect()
});

#[async_trait]
impl RecordStore for SqlStore {
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
            let mut insert = sqlx::query(&INSERTS[size.ilog2() as usize]);
            for r in chunk {
                insert = insert
                    .bind(&r.id)
                    .bind(&r.team)
                    .bind(&r.key_id)
                    .bind(&r.endpoint)
                    .bind(&r.model)
                    .bind(&r.upstream)
                    .bind(r.stream)
                    .bind(r.status)
                    .bind(&r.outcome)
                    .bind(r.prompt_tokens)
                    .bind(r.completion_tokens)
                    .bind(r.cached_tokens)
                    .bind(r.reasoning_tokens)
                    .bind(r.latency_us)
                    .bind(r.ttft_us)
                    .bind(r.client_closed)
                    .bind(&r.error)
                    .bind(&r.metadata)
                    .bind(r.created_at)
                    .bind(&r.prompt_name)
                    .bind(r.prompt_version)
                    .bind(&r.prompt_sha256)
                    .bind(&r.cache)
                    .bind(r.cost_pusd)
                    .bind(r.saved_pusd)
                    .bind(&r.usage_source)
                    .bind(&r.tags)
                    .bind(r.grounding_score)
                    .bind(r.flagged)
                    .bind(&r.grounding);
            }
            insert.execute(&mut *tx).await?;
        }
        tx.commit().await
    }

    async fn get_record(&self, id: &str, team: Option<&str>) -> StoreResult<Option<RequestRecord>> {
        let sql = format!(
            "SELECT {} FROM requests WHERE id = $1 AND ($2 IS NULL OR team = $3) \
             ORDER BY seq DESC LIMIT 1",
            *RECORD_SELECT
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
            "SELECT {} FROM requests WHERE ($1 IS NULL OR team = $2) \
             AND ($3 IS NULL OR flagged = $4) ORDER BY seq DESC LIMIT $5",
            *RECORD_SELECT
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
    use super::{chunk_size, INSERTS};

    #[test]
    fn inserts_number_the_parameters_of_every_row() {
        assert_eq!(INSERTS.len(), 7);
        assert!(INSERTS[0].ends_with("VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
             $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30)"));
        assert!(INSERTS[1].contains("$30), ($31, $32,") && INSERTS[1].ends_with("$60)"));
        assert!(INSERTS[6].ends_with(", $1920)"));
    }

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
