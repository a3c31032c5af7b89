//! Request records: written in batches by the writer, read back one by one
//! or as a filtered list.

use async_trait::async_trait;

use super::{Engine, SqlStore, Value};
use crate::store::{RecordFilter, RecordSearch, RecordStore, RequestRecord, StoreResult};

/// The columns of a [`RequestRecord`], in its field order.
const RECORD_COLUMNS: &str = "id, team, key_id, endpoint, model, upstream, stream, status, outcome, \
    prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, latency_us, ttft_us, \
    client_closed, error, metadata, created_at, prompt_name, prompt_version, prompt_sha256, cache, cost_pusd, saved_pusd, usage_source, tags, grounding_score, flagged, grounding, key_hint, attempts";

/// How many columns [`RECORD_COLUMNS`] names.
const RECORD_WIDTH: usize = 32;

/// The largest multi-row `INSERT` of records.
const MAX_ROWS_PER_INSERT: usize = 64;

#[async_trait]
impl<DB: Engine> RecordStore for SqlStore<DB> {
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
        let mut args = Vec::with_capacity(RECORD_WIDTH * MAX_ROWS_PER_INSERT);
        let mut rest = records;
        while !rest.is_empty() {
            let size = chunk_size(rest.len());
            let (chunk, tail) = rest.split_at(size);
            rest = tail;
            args.clear();
            args.extend(chunk.iter().flat_map(record_values));
            let texts = self
                .record_inserts
                .get_or_init(|| insert_texts(DB::NUMBERED_PARAMS, DB::INSERT_MANY));
            let sql = &texts[size.ilog2() as usize];
            DB::execute(&mut tx, sql, &args).await?;
        }
        // In the same transaction: the counter counts exactly the recorded calls.
        super::budgets::book_charges::<DB>(&mut tx, records).await?;
        tx.commit().await
    }

    async fn stored_record_ids(&self, ids: &[&str]) -> StoreResult<Vec<String>> {
        let mut stored = Vec::new();
        for chunk in ids.chunks(MAX_ROWS_PER_INSERT) {
            let params: Vec<String> = (1..=chunk.len())
                .map(|n| {
                    if DB::NUMBERED_PARAMS {
                        format!("${n}")
                    } else {
                        "?".into()
                    }
                })
                .collect();
            let sql = format!(
                "SELECT DISTINCT id FROM requests WHERE id IN ({})",
                params.join(", ")
            );
            let args: Vec<Value<'_>> = chunk.iter().map(|id| (*id).into()).collect();
            let rows: Vec<(String,)> = self.rows(&sql, &args).await?;
            stored.extend(rows.into_iter().map(|(id,)| id));
        }
        Ok(stored)
    }

    async fn get_record(&self, id: &str, team: Option<&str>) -> StoreResult<Option<RequestRecord>> {
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM requests WHERE id = $1 AND ($2 IS NULL OR team = $2) \
             ORDER BY seq DESC LIMIT 1"
        );
        self.row(&sql, &[id.into(), team.into()]).await
    }

    async fn list_records(&self, filter: &RecordFilter) -> StoreResult<Vec<RequestRecord>> {
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM requests WHERE ($1 IS NULL OR team = $1) \
             AND ($2 IS NULL OR flagged = $2) ORDER BY seq DESC LIMIT $3"
        );
        let args = [
            filter.team.as_deref().into(),
            filter.flagged.into(),
            filter.limit.into(),
        ];
        self.rows(&sql, &args).await
    }

    async fn search_records(&self, q: &RecordSearch) -> StoreResult<Vec<RequestRecord>> {
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM requests WHERE ($1 IS NULL OR team = $1) \
             AND ($2 IS NULL OR flagged = $2) AND ($3 IS NULL OR created_at >= $3) \
             AND ($4 IS NULL OR created_at < $4) AND ($5 IS NULL OR model = $5) \
             AND ($6 IS NULL OR prompt_name = $6) AND ($7 IS NULL OR status = $7) \
             AND ($8 IS NULL OR EXISTS (SELECT 1 FROM {tags} WHERE value = $8)) \
             AND ($9 IS NULL OR created_at < $9 OR (created_at = $9 AND id < $10)) \
             ORDER BY created_at DESC, id DESC LIMIT $11",
            tags = DB::TAG_VALUES,
        );
        let (before_at, before_id) = match &q.before {
            Some((at, id)) => (Some(*at), Some(id.as_str())),
            None => (None, None),
        };
        let args = [
            q.team.as_deref().into(),
            q.flagged.into(),
            q.from_ms.into(),
            q.to_ms.into(),
            q.model.as_deref().into(),
            q.prompt.as_deref().into(),
            q.status.into(),
            q.tag.as_deref().into(),
            before_at.into(),
            before_id.into(),
            q.limit.into(),
        ];
        self.rows(&sql, &args).await
    }
}

/// A record's values in [`RECORD_COLUMNS`] order.
fn record_values(r: &RequestRecord) -> [Value<'_>; RECORD_WIDTH] {
    [
        (&r.id).into(),
        (&r.team).into(),
        r.key_id.as_deref().into(),
        (&r.endpoint).into(),
        r.model.as_deref().into(),
        r.upstream.as_deref().into(),
        r.stream.into(),
        i64::from(r.status).into(),
        (&r.outcome).into(),
        r.prompt_tokens.into(),
        r.completion_tokens.into(),
        r.cached_tokens.into(),
        r.reasoning_tokens.into(),
        r.latency_us.into(),
        r.ttft_us.into(),
        r.client_closed.into(),
        r.error.as_deref().into(),
        r.metadata.as_deref().into(),
        r.created_at.into(),
        r.prompt_name.as_deref().into(),
        r.prompt_version.into(),
        r.prompt_sha256.as_deref().into(),
        r.cache.as_deref().into(),
        r.cost_pusd.into(),
        r.saved_pusd.into(),
        r.usage_source.as_deref().into(),
        r.tags.as_deref().into(),
        r.grounding_score.into(),
        r.flagged.into(),
        r.grounding.as_deref().into(),
        r.key_hint.as_deref().into(),
        r.attempts.into(),
    ]
}

/// The `INSERT` texts for 1, 2, 4, … [`MAX_ROWS_PER_INSERT`] records, their
/// parameters numbered (`$1` … `$n`, row by row) or anonymous (`?`).
fn insert_texts(numbered: bool, verb: &str) -> Vec<String> {
    (0..=MAX_ROWS_PER_INSERT.ilog2())
        .map(|log| {
            let rows = 1usize << log;
            let values: Vec<String> = (0..rows)
                .map(|row| {
                    let first = row * RECORD_WIDTH + 1;
                    let params: Vec<String> = (first..first + RECORD_WIDTH)
                        .map(|n| {
                            if numbered {
                                format!("${n}")
                            } else {
                                "?".into()
                            }
                        })
                        .collect();
                    format!("({})", params.join(", "))
                })
                .collect();
            format!(
                "{verb} INTO requests ({RECORD_COLUMNS}) VALUES {}",
                values.join(", ")
            )
        })
        .collect()
}

/// Records per `INSERT` for a batch with `left` records still to write: the
/// largest power of two not above `left`, at most [`MAX_ROWS_PER_INSERT`].
pub(crate) fn chunk_size(left: usize) -> usize {
    (1 << left.max(1).ilog2()).min(MAX_ROWS_PER_INSERT)
}

#[cfg(test)]
mod tests {
    use super::{chunk_size, insert_texts, RECORD_COLUMNS, RECORD_WIDTH};

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

    #[test]
    fn insert_texts_number_every_column_of_every_row() {
        assert_eq!(RECORD_COLUMNS.split(',').count(), RECORD_WIDTH);
        let (numbered, anonymous) = (
            insert_texts(true, "INSERT"),
            insert_texts(false, "INSERT OR FAIL"),
        );
        for (i, rows) in [1, 2, 4, 8, 16, 32, 64].into_iter().enumerate() {
            let last = rows * RECORD_WIDTH;
            assert!(numbered[i].contains(&format!("${last})")), "{rows} rows");
            assert!(
                !numbered[i].contains(&format!("${}", last + 1)),
                "{rows} rows"
            );
            assert_eq!(anonymous[i].matches('?').count(), last, "{rows} rows");
            assert_eq!(numbered[i].matches('(').count(), rows + 1);
            assert_eq!(chunk_size(rows), rows);
        }
    }
}
