//! What the cost report and its callers agree on: the query `GET /v1/costs`
//! reads (and `promptgate costs report` writes), and the metric columns of
//! every row, in order. Kept here so the CLI and the route share them without
//! the CLI reaching into `http/`.

use serde::Deserialize;

use super::money::format_usd;
use super::pico;
use crate::store::ReportRow;

/// The query string of `GET /v1/costs`; every parameter is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostsQuery {
    /// RFC 3339 time or `YYYY-MM-DD` (default: 30 days before `to`).
    pub from: Option<String>,
    /// RFC 3339 time or `YYYY-MM-DD` (default: now).
    pub to: Option<String>,
    /// Comma-separated dimensions (team, key, model, prompt, version, day, tag).
    pub group_by: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
    /// Only this team (the admin key; a team key sees its own team anyway).
    pub team: Option<String>,
}

impl CostsQuery {
    /// The parameters by name, in the order the CLI writes them; unset ones
    /// are `None`.
    pub fn pairs(&self) -> [(&'static str, Option<&str>); 5] {
        [
            ("group_by", self.group_by.as_deref()),
            ("from", self.from.as_deref()),
            ("to", self.to.as_deref()),
            ("team", self.team.as_deref()),
            ("format", self.format.as_deref()),
        ]
    }
}

/// The report's metric columns, in order (JSON keys and CSV headers).
pub const METRICS: [&str; 8] = [
    "requests",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cost_usd",
    "cache_hits",
    "saved_usd",
    "unpriced_requests",
];

/// One row's metrics as text, in [`METRICS`] order: counts as integers,
/// money as plain decimal USD.
pub fn metric_values(r: &ReportRow) -> [String; 8] {
    [
        r.requests.to_string(),
        r.input_tokens.to_string(),
        r.output_tokens.to_string(),
        r.cached_tokens.to_string(),
        format_usd(pico::from_pico(r.cost_pusd)),
        r.cache_hits.to_string(),
        format_usd(pico::from_pico(r.saved_pusd)),
        r.unpriced_requests.to_string(),
    ]
}
