//! What experiments read from the request records: per-group sums (counts,
//! sums and sums of squares, enough for rates, means and their variances)
//! and latency histograms, over a time window.

/// A window of request records, optionally one prompt's only.
#[derive(Debug, Clone, Default)]
pub struct StatsQuery {
    pub from_ms: i64,
    pub to_ms: i64,
    /// `None` = every team (admin).
    pub team: Option<String>,
    /// `None` = every prompt, and raw calls grouped by model.
    pub prompt: Option<String>,
}

/// Sums over the records of one group: a prompt version, or (for raw calls,
/// `prompt_name` `None`) a model. Cost sums are pico-USD as floats: these
/// are statistics over the ledger, not the ledger.
#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow)]
pub struct GroupStats {
    pub prompt_name: Option<String>,
    pub prompt_version: Option<i64>,
    /// Set for raw calls only (a prompt version's group spans its models).
    pub model: Option<String>,
    pub requests: i64,
    /// Records with status ≥ 400.
    pub errors: i64,
    /// Records the grounding check looked at, and those it flagged.
    pub flag_n: i64,
    pub flagged: i64,
    pub score_n: i64,
    pub score_sum: f64,
    pub score_sq: f64,
    pub cost_n: i64,
    pub cost_sum: f64,
    pub cost_sq: f64,
    pub input_n: i64,
    pub input_sum: f64,
    pub input_sq: f64,
    pub output_n: i64,
    pub output_sum: f64,
    pub output_sq: f64,
    /// Records that went through the cache (`hit` or `miss`), and the hits.
    pub cache_n: i64,
    pub cache_hits: i64,
}

/// One bucket of a group's latency histogram: `count` records whose latency
/// lies in `[lower_us, lower_us + width)`, where the width is 1 µs below
/// 1 ms and a hundredth of the decade above (see [`bucket_width_us`]).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LatencyBucket {
    pub prompt_name: Option<String>,
    pub prompt_version: Option<i64>,
    pub model: Option<String>,
    pub lower_us: i64,
    pub count: i64,
}

/// The width of the latency bucket starting at `lower_us`: the SQL rounds a
/// latency down to 1 µs under 1 ms, to 10 µs under 10 ms, and so on, so a
/// bucket is at most 1 % of its value wide.
pub fn bucket_width_us(lower_us: i64) -> i64 {
    let mut width = 1;
    let mut bound = 1_000;
    while lower_us >= bound && width < 1_000_000 {
        width *= 10;
        bound *= 10;
    }
    width
}
