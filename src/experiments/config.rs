//! `[experiments]`: rollout reports and guards.

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
}

impl Default for ExperimentsConfig {
    fn default() -> Self {
        ExperimentsConfig {
            min_samples: 30,
            guard_interval_ms: 10_000,
        }
    }
}
