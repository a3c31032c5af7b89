//! The little SQL that differs between SQLite and PostgreSQL, chosen when
//! the store connects (the rest of the SQL is shared, see `sql/`).

/// What one engine does differently; everything else is shared SQL.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dialect {
    /// The backend's name, as `/readyz` reports it.
    pub backend: &'static str,
    /// The UTC day (`YYYY-MM-DD`) of a record's `created_at` (epoch ms).
    pub day: &'static str,
    /// The records, one row per tag (`tag_value`; untagged records once,
    /// with `NULL`), for reports grouped by tag.
    pub tags_join: &'static str,
}
