//! The bodies the admin endpoints read and the answers they build (their
//! OpenAPI schemas come from these types).

use serde::{Deserialize, Serialize};

use super::openapi::schemas as doc;
use crate::store::ApiKeyRow;

/// Unknown fields are rejected with 400 naming the field.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTeam {
    /// Lower-case letters, digits, `.`, `_`, `-`; starts with a letter or digit; at most 64 characters.
    #[schema(pattern = "^[a-z0-9][a-z0-9._-]{0,63}$")]
    pub name: String,
}

/// Every field is optional: an empty body is a key with no name, no expiry
/// and every model.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// An operator's label for the key.
    #[schema(nullable = false, min_length = 1, max_length = 100)]
    pub name: Option<String>,
    /// RFC 3339 time after which the key is refused (401). Must be in the future.
    #[schema(nullable = false, format = "date-time")]
    pub expires_at: Option<String>,
    /// The only models (after `[aliases]`) the key may call; another model is a 403 `permission_denied`.
    #[schema(nullable = false, min_items = 1)]
    pub models: Option<Vec<String>>,
}

/// The created (or rotated) key. `key` appears in this response only.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[schema(as = NewApiKey)]
pub struct CreatedKey {
    #[serde(flatten)]
    pub row: ApiKeyRow,
    /// `pg-` followed by 192 random bits in hex.
    #[schema(pattern = "^pg-[0-9a-f]{48}$")]
    pub key: String,
}

/// A rotation; the body may be left out (no grace: the old secret stops now).
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    /// Seconds the old secret keeps working (default 0: it stops now).
    #[schema(nullable = false, minimum = 0, maximum = 2678400)]
    pub grace_s: Option<i64>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBudget {
    /// USD per period, as a JSON number or a decimal string (read exactly, never as a float; no exponent, not negative).
    #[schema(inline, value_type = doc::NewBudgetUsd)]
    pub usd: serde_json::Value,
    /// Calendar day or month, UTC (`daily` / `monthly` are accepted too).
    #[schema(inline, value_type = doc::NewBudgetPeriod)]
    pub period: String,
}

/// The answer to a key's revocation.
#[derive(Serialize, utoipa::ToSchema)]
pub struct KeyDeleted {
    pub id: String,
    #[schema(inline, value_type = doc::KeyDeletedObject)]
    pub object: &'static str,
    pub deleted: bool,
}

/// The answer to a budget's removal.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BudgetDeleted {
    #[schema(inline, value_type = doc::BudgetDeletedObject)]
    pub object: &'static str,
    pub team: String,
    pub deleted: bool,
}
