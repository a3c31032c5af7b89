//! One priced model as the table holds it ([`Price`]), the override a config
//! file writes for one ([`PriceOverride`]), and the bounds every price keeps.

use rust_decimal::Decimal;
use serde::Deserialize;

/// Prices are at most this many decimal places: keeps every cost exact
/// (tokens are integers, so a cost has at most 6 + 6 decimals).
pub const MAX_PRICE_DECIMALS: u32 = 6;

/// A sanity bound (no model costs this), which also keeps cost arithmetic
/// far from overflow.
pub const MAX_PRICE_USD: i64 = 1_000_000;

/// USD per 1,000,000 tokens for one model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    /// The entry's name as written in the table (may be a wildcard like `mock-*`).
    pub model: String,
    pub vendor: String,
    /// Uncached prompt tokens.
    pub input: Decimal,
    /// Prompt tokens served from the vendor's cache. `None`: the vendor has no
    /// (known) discount, so cached tokens are billed at `input`.
    pub cached_input: Option<Decimal>,
    /// Prompt tokens written to the vendor's cache (Anthropic's
    /// `cache_creation_input_tokens`). `None`: billed at `input`.
    pub cache_write: Option<Decimal>,
    /// Completion tokens.
    pub output: Decimal,
    /// Reasoning tokens, only where a vendor prices them apart from output.
    /// `None`: reasoning tokens are billed as output (they are part of
    /// `completion_tokens` in OpenAI's usage).
    pub reasoning: Option<Decimal>,
    /// Where the numbers come from (a URL, or `config`).
    pub source: String,
    /// When they were checked (`YYYY-MM-DD`; empty for config overrides).
    pub as_of: String,
}

impl Price {
    /// What one cached prompt token costs (per million).
    pub fn cached_input_or_input(&self) -> Decimal {
        self.cached_input.unwrap_or(self.input)
    }

    /// What one prompt token written to the vendor's cache costs (per million).
    pub fn cache_write_or_input(&self) -> Decimal {
        self.cache_write.unwrap_or(self.input)
    }
}

/// A price from config: `[prices."my-model"] input = "0.5" output = "1.5"`.
/// Decimal strings, never floats, so "0.075" stays 0.075. Every field may be
/// left out here; the ones a price needs are checked when the table is built.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PriceOverride {
    pub input: Option<String>,
    pub cached_input: Option<String>,
    pub cache_write: Option<String>,
    pub output: Option<String>,
    pub reasoning: Option<String>,
}
