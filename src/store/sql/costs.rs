//! Cost reports: sums over the request records, grouped by the dimensions
//! asked for.

use async_trait::async_trait;
use sqlx::{ColumnIndex, Decode, FromRow, Type};

use super::{Engine, Flavor, SqlStore};
use crate::store::{CostStore, Dim, ReportQuery, ReportRow, StoreResult};

/// The sums every report row has, in this order, before its group's keys.
const SUMS: &str = "COUNT(*), \
    CAST(COALESCE(SUM(prompt_tokens), 0) AS TEXT), \
    CAST(COALESCE(SUM(completion_tokens), 0) AS TEXT), \
    CAST(COALESCE(SUM(cached_tokens), 0) AS TEXT), \
    CAST(COALESCE(SUM(cost_pusd), 0) AS TEXT), \
    SUM(CASE WHEN cache = 'hit' THEN 1 ELSE 0 END), \
    CAST(COALESCE(SUM(saved_pusd), 0) AS TEXT), \
    SUM(CASE WHEN cost_pusd IS NULL AND prompt_tokens IS NOT NULL THEN 1 ELSE 0 END)";

/// How many columns [`SUMS`] selects.
const SUM_COLUMNS: usize = 8;

#[async_trait]
impl<DB: Engine> CostStore for SqlStore<DB> {
    async fn cost_report(&self, q: &ReportQuery) -> StoreResult<Vec<ReportRow>> {
        let dims: Vec<String> = q
            .group_by
            .iter()
            .enumerate()
            .map(|(i, d)| format!("{} AS d{i}", column::<DB>(*d)))
            .collect();
        let group: Vec<String> = (0..dims.len()).map(|i| format!("d{i}")).collect();
        let from = if q.group_by.contains(&Dim::Tag) {
            DB::TAGS_JOIN
        } else {
            "requests"
        };
        let mut sql = format!(
            "SELECT {SUMS}{sep}{dims} FROM {from} \
             WHERE created_at >= $1 AND created_at < $2 AND ($3 IS NULL OR team = $3)",
            sep = if dims.is_empty() { "" } else { ", " },
            dims = dims.join(", "),
        );
        if !group.is_empty() {
            let group = group.join(", ");
            sql.push_str(&format!(" GROUP BY {group} ORDER BY {group}"));
        }
        let args = [q.from_ms.into(), q.to_ms.into(), q.team.as_deref().into()];
        self.rows(&sql, &args).await
    }
}

/// A report row as [`CostStore::cost_report`] selects it: the sums, then
/// one key per dimension. Sums that may pass i64 come back as text.
impl<'r, R: sqlx::Row> FromRow<'r, R> for ReportRow
where
    usize: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    fn from_row(r: &'r R) -> sqlx::Result<Self> {
        let big = |i: usize| -> sqlx::Result<i128> {
            let text: Option<String> = r.try_get(i)?;
            Ok(text.and_then(|t| t.parse::<i128>().ok()).unwrap_or(0))
        };
        let count = |i: usize| -> sqlx::Result<i64> {
            let n: Option<i64> = r.try_get(i)?;
            Ok(n.unwrap_or(0))
        };
        let keys = (SUM_COLUMNS..r.len())
            .map(|i| r.try_get::<Option<String>, _>(i))
            .collect::<sqlx::Result<_>>()?;
        Ok(ReportRow {
            keys,
            requests: count(0)?,
            input_tokens: big(1)? as i64,
            output_tokens: big(2)? as i64,
            cached_tokens: big(3)? as i64,
            cost_pusd: big(4)?,
            cache_hits: count(5)?,
            saved_pusd: big(6)?,
            unpriced_requests: count(7)?,
        })
    }
}

/// The SQL a dimension groups by. Dimensions come from a closed list, so
/// their SQL is fixed text.
fn column<DB: Flavor>(dim: Dim) -> &'static str {
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
