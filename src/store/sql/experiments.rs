//! Experiment statistics: one pass of sums per group, and one of latency
//! buckets, over a window of request records.

use async_trait::async_trait;

use super::{SqlStore, Value};
use crate::store::{ExperimentStore, GroupStats, LatencyBucket, StatsQuery, StoreResult};

/// The group of a record: its prompt version, or the model of a raw call.
const GROUP: &str = "prompt_name, prompt_version, \
    CASE WHEN prompt_name IS NULL THEN model END AS model";

/// Sums per group. Floats are `DOUBLE PRECISION` (SQLite reads it as REAL;
/// PostgreSQL's `REAL` would be single precision), and squares are taken
/// after the cast so large token counts and costs cannot overflow.
const SUMS: &str = "COUNT(*) AS requests, \
    SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS errors, \
    SUM(CASE WHEN flagged IS NULL THEN 0 ELSE 1 END) AS flag_n, \
    SUM(CASE WHEN flagged THEN 1 ELSE 0 END) AS flagged, \
    COUNT(grounding_score) AS score_n, \
    COALESCE(SUM(grounding_score), 0.0) AS score_sum, \
    COALESCE(SUM(grounding_score * grounding_score), 0.0) AS score_sq, \
    COUNT(cost_pusd) AS cost_n, \
    COALESCE(SUM(CAST(cost_pusd AS DOUBLE PRECISION)), 0.0) AS cost_sum, \
    COALESCE(SUM(CAST(cost_pusd AS DOUBLE PRECISION) \
        * CAST(cost_pusd AS DOUBLE PRECISION)), 0.0) AS cost_sq, \
    COUNT(prompt_tokens) AS input_n, \
    COALESCE(SUM(CAST(prompt_tokens AS DOUBLE PRECISION)), 0.0) AS input_sum, \
    COALESCE(SUM(CAST(prompt_tokens AS DOUBLE PRECISION) \
        * CAST(prompt_tokens AS DOUBLE PRECISION)), 0.0) AS input_sq, \
    COUNT(completion_tokens) AS output_n, \
    COALESCE(SUM(CAST(completion_tokens AS DOUBLE PRECISION)), 0.0) AS output_sum, \
    COALESCE(SUM(CAST(completion_tokens AS DOUBLE PRECISION) \
        * CAST(completion_tokens AS DOUBLE PRECISION)), 0.0) AS output_sq, \
    SUM(CASE WHEN cache IN ('hit', 'miss') THEN 1 ELSE 0 END) AS cache_n, \
    SUM(CASE WHEN cache = 'hit' THEN 1 ELSE 0 END) AS cache_hits";

/// A latency rounded down to its histogram bucket (see
/// [`crate::store::bucket_width_us`]): integer division truncates in both engines.
const BUCKET: &str = "CASE \
    WHEN latency_us < 1000 THEN latency_us \
    WHEN latency_us < 10000 THEN latency_us / 10 * 10 \
    WHEN latency_us < 100000 THEN latency_us / 100 * 100 \
    WHEN latency_us < 1000000 THEN latency_us / 1000 * 1000 \
    WHEN latency_us < 10000000 THEN latency_us / 10000 * 10000 \
    WHEN latency_us < 100000000 THEN latency_us / 100000 * 100000 \
    ELSE latency_us / 1000000 * 1000000 END";

/// The window of `q`: its `WHERE` clause and arguments, and the grouping.
/// A named prompt is matched with `=` (not `$4 IS NULL OR …`) so its
/// indexes serve it, and is grouped by version alone, which SQLite then
/// aggregates in index order instead of sorting a million rows.
struct Window<'q> {
    select: &'static str,
    clause: &'static str,
    group: &'static str,
    args: Vec<Value<'q>>,
}

fn window(q: &StatsQuery) -> Window<'_> {
    let mut args: Vec<Value<'_>> = vec![q.from_ms.into(), q.to_ms.into(), q.team.as_deref().into()];
    match &q.prompt {
        Some(p) => {
            args.push(p.into());
            Window {
                select: "CAST($4 AS TEXT) AS prompt_name, prompt_version, \
                         CAST(NULL AS TEXT) AS model",
                clause: "WHERE prompt_name = $4 AND created_at >= $1 AND created_at < $2 \
                         AND ($3 IS NULL OR team = $3)",
                group: "prompt_version",
                args,
            }
        }
        None => Window {
            select: GROUP,
            clause: "WHERE created_at >= $1 AND created_at < $2 AND ($3 IS NULL OR team = $3)",
            group: "1, 2, 3",
            args,
        },
    }
}

impl<DB: super::Engine> SqlStore<DB> {
    /// One prompt's window (a report, a guard) is scanned with the file
    /// mapped; the drift check's scan of every prompt, which every replica
    /// runs each `drift_interval_ms`, reads without mapping, so it never
    /// holds the file's pages in the gateway's memory.
    async fn window_rows<T: super::Row>(
        &self,
        q: &StatsQuery,
        sql: &str,
        args: &[Value<'_>],
    ) -> StoreResult<Vec<T>> {
        if q.prompt.is_some() {
            self.scan_rows(sql, args).await
        } else {
            self.rows(sql, args).await
        }
    }
}

#[async_trait]
impl<DB: super::Engine> ExperimentStore for SqlStore<DB> {
    async fn group_stats(&self, q: &StatsQuery) -> StoreResult<Vec<GroupStats>> {
        let w = window(q);
        let index = if q.prompt.is_some() {
            DB::BY_VERSION
        } else {
            ""
        };
        let sql = format!(
            "SELECT {}, {SUMS} FROM requests {index} {} GROUP BY {}",
            w.select, w.clause, w.group
        );
        self.window_rows(q, &sql, &w.args).await
    }

    async fn latency_buckets(&self, q: &StatsQuery) -> StoreResult<Vec<LatencyBucket>> {
        let w = window(q);
        let sql = format!(
            "SELECT {}, {BUCKET} AS lower_us, COUNT(*) AS count FROM requests {} \
             GROUP BY {}, {BUCKET}",
            w.select, w.clause, w.group
        );
        self.window_rows(q, &sql, &w.args).await
    }
}

#[cfg(test)]
mod tests {
    /// SQLite answers latency histograms from an index on the bucket
    /// expression, which it only uses when the query's expression is the
    /// migration's, token for token.
    #[test]
    fn the_bucket_expression_is_the_indexed_one() {
        let migration = include_str!("../../../migrations/sqlite/0007_experiments.sql");
        let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(squash(migration).contains(&squash(super::BUCKET)));
    }
}
