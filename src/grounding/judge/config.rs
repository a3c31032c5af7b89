//! `[grounding.judge]`: the judge tier's settings. Absent = the tier is off.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JudgeConfig {
    /// The judge model, routed like any request (`[[upstreams]]`, aliases).
    pub model: String,
    /// Share of scored requests that also get a judge verdict, 0–1. Requests
    /// that name their `grounding.tiers` are judged (or not) as they ask.
    #[serde(default = "one")]
    pub sample_rate: f64,
    /// `async`: the verdict lands on the request record, the answer never
    /// waits. `sync`: non-streamed answers wait for it and carry it in headers.
    #[serde(default)]
    pub mode: JudgeMode,
    /// The judge call's deadline; past it the fast result stands.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Which tier flags the answer.
    #[serde(default)]
    pub flag: FlagRule,
    /// The judge flags an answer whose score (supported claims / claims) is
    /// below this. 1.0: any unsupported claim flags.
    #[serde(default = "one")]
    pub threshold: f64,
    /// How long a verdict is reused for the same context, answer and model.
    #[serde(default = "default_cache_ttl_s")]
    pub cache_ttl_s: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JudgeMode {
    #[default]
    Async,
    Sync,
}

/// The final `flagged` of a request judged by both tiers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FlagRule {
    /// The fast tier's flag; the judge's verdict is informative only.
    Fast,
    /// The judge's flag when it answered, else the fast tier's.
    #[default]
    Judge,
    /// Flagged when either tier flags.
    Either,
}

impl FlagRule {
    pub fn as_str(self) -> &'static str {
        match self {
            FlagRule::Fast => "fast",
            FlagRule::Judge => "judge",
            FlagRule::Either => "either",
        }
    }
}

fn one() -> f64 {
    1.0
}

fn default_timeout_ms() -> u64 {
    30_000
}

fn default_cache_ttl_s() -> u64 {
    86_400
}

impl JudgeConfig {
    /// Range checks: `Err((key under grounding.judge, message))`.
    pub fn validate(&self) -> Result<(), (&'static str, &'static str)> {
        if self.model.trim().is_empty() {
            return Err(("model", "must name a model"));
        }
        if !(0.0..=1.0).contains(&self.sample_rate) {
            return Err(("sample_rate", "must be between 0 and 1"));
        }
        if !(0.0..=1.0).contains(&self.threshold) {
            return Err(("threshold", "must be between 0 and 1"));
        }
        if self.timeout_ms == 0 {
            return Err(("timeout_ms", "must be at least 1"));
        }
        if self.cache_ttl_s == 0 {
            return Err(("cache_ttl_s", "must be at least 1"));
        }
        Ok(())
    }
}
