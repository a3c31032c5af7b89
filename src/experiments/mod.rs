//! Experiments: what the request records say about a prompt rollout.
//!
//! - [`stats`]: Wilson, Newcombe and Welch intervals, histogram quantiles
//!   (pure functions).
//! - [`metrics`]: the metrics of a version, estimated from its sums, and the
//!   comparison of a candidate with the baseline (`better`, `worse`, …).
//! - [`baseline`]: the version a label pointed at before its rollout.
//! - [`report`]: `GET /v1/prompts/{name}/report`, from SQL aggregates.
//! - [`guard`]: the periodic rollout guards (weight 0 by compare-and-set,
//!   history reason, metric, alert).
//! - [`drift`]: a recent window against a reference window, per version
//!   (or model), on flag rate, grounding, output length and cost.
//! - [`tally`]: per-group sums of a window, read a slice at a time, and
//!   the drift windows' running sums.
//! - [`monitor`]: the periodic drift check: gauges and `drift.detected`.
//! - [`config`]: the `[experiments]` section.

pub mod baseline;
pub mod config;
pub mod drift;
pub mod guard;
pub mod metrics;
pub mod monitor;
pub mod report;
pub mod stats;
pub mod tally;

pub use config::ExperimentsConfig;
pub use metrics::{Comparison, Estimate, Metric, Sample, Verdict};
pub use report::{rollout_report, Report, ReportRequest};
