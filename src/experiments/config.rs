//! `[experiments]`: rollout reports, guards and drift.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExperimentsConfig {
    /// Records each side of a comparison needs before a report gives a
    /// verdict other than `too_few_samples`.
    pub min_samples: i64,
    /// How often each replica evaluates the rollout guards (one replica acts
    /// on a firing guard: the label moves by compare-and-set).
    pub guard_interval_ms: u64,
    /// How often each replica checks for drift (and refreshes the
    /// `promptgate_prompt_*` gauges).
    pub drift_interval_ms: u64,
    /// The recent window drift looks at, ending this long ago: records
    /// reach the store a few milliseconds after their call (the batch
    /// writer), or later during a store outage (counted at the next rebuild).
    pub drift_settle_ms: u64,
    /// How often the monitor reads its windows whole instead of sliding
    /// their sums forward (which reads only what moved since the last check).
    pub drift_rebuild_ms: u64,
    /// The recent window drift looks at.
    pub drift_recent_ms: u64,
    /// The reference window, ending where the recent one starts.
    pub drift_reference_ms: u64,
    /// Records each window needs before a metric can be said to drift.
    pub drift_min_samples: i64,
    /// Most groups (prompt versions, models) with gauges: the busiest.
    pub max_series: usize,
}

impl Default for ExperimentsConfig {
    fn default() -> Self {
        ExperimentsConfig {
            min_samples: 30,
            guard_interval_ms: 10_000,
            drift_interval_ms: 60_000,
            drift_settle_ms: 10_000,
            drift_rebuild_ms: 6 * 3_600_000,
            drift_recent_ms: 3_600_000,
            drift_reference_ms: 7 * 86_400_000,
            drift_min_samples: 100,
            max_series: 200,
        }
    }
}
