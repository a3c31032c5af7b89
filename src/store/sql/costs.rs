//! Cost reports: sums over the request records, grouped by the dimensions
//! asked for.

use async_trait::async_trait;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Row, Type};

use super::{Dialect, Param, SqlStore};
use crate::store::{CostStore, Dim, ReportQuery, ReportRow, StoreResult};

#[async_trait]
impl<DB: Dialect> CostStore for SqlStore<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    i64: Param<DB> + for<'r> Decode<'r, DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> &'r str: ColumnIndex<DB::Row>,
{
    async fn cost_report(&self, q: &ReportQuery) -> StoreResult<Vec<ReportRow>> {
        let dims: Vec<&str> = q.group_by.iter().map(|d| column::<DB>(*d)).collect();
        let select_dims: String = dims
            .iter()
            .enumerate()
            .map(|(i, d)| format!("{d} AS d{i}, "))
            .collect();
        let group: Vec<String> = (0..dims.len()).map(|i| format!("d{i}")).collect();
        let from = if q.group_by.contains(&Dim::Tag) {
            DB::TAGS_JOIN
        } else {
            "requests"
        };
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
            group_clause = if group.is_empty() {
                String::new()
            } else {
                format!("GROUP BY {}", group.join(", "))
            },
            order_clause = if group.is_empty() {
                String::new()
            } else {
                format!("ORDER BY {}", group.join(", "))
            },
        );
        let rows = sqlx::query(&sql)
            .bind(q.from_ms)
            .bind(q.to_ms)
            .bind(q.team.as_deref())
            .bind(q.team.as_deref())
            .fetch_all(&self.pool)
            .await?;
        // Sums that may pass i64 come back as text.
        let num = |r: &DB::Row, col: &str| -> StoreResult<i128> {
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

/// The SQL a dimension groups by. Dimensions come from a closed list, so
/// their SQL is fixed text.
fn column<DB: Dialect>(dim: Dim) -> &'static str {
    match dim {
        Dim::Team => "team",
        Dim::Key => "key_id",
        Dim::Model => "model",
        Dim::Prompt => "prompt_name",
        Dim::Version => "CAST(prompt_version AS TEXT)",
        Dim::Day => DB::DAY,
        Dim::Tag => "tag_value",
    }
}
