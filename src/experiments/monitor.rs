//! The drift monitor: every `drift_interval_ms` it compares each group's
//! recent window with its reference window, sets the per-version gauges
//! (at most `max_series` groups, the busiest first, so label cardinality
//! stays bounded) and sends `drift.detected` once per crossing: when a
//! metric starts to drift, not again while it stays drifted.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use super::config::ExperimentsConfig;
use super::drift::{detect, group_of, Group, Windows, DRIFT_METRICS};
use super::metrics::{Metric, Sample};
use crate::alerts::{Alerts, Event, EventKind};
use crate::store::Store;

/// The gauge a metric's recent value goes to.
fn gauge_name(m: Metric) -> &'static str {
    match m {
        Metric::FlagRate => "promptgate_prompt_flag_rate",
        Metric::GroundingScore => "promptgate_prompt_grounding_score",
        Metric::OutputTokens => "promptgate_prompt_output_tokens",
        Metric::CostPerRequest => "promptgate_prompt_cost_per_request_usd",
        _ => "promptgate_prompt_other",
    }
}

/// What the monitor keeps between ticks.
pub struct Monitor {
    store: Arc<dyn Store>,
    alerts: Arc<Alerts>,
    config: ExperimentsConfig,
    /// `(group, metric)` pairs drifting at the last tick.
    drifting: Mutex<BTreeSet<(Group, Metric)>>,
    /// Groups that have gauges (at most `max_series`).
    series: Mutex<BTreeSet<Group>>,
}

impl Monitor {
    pub fn new(store: Arc<dyn Store>, alerts: Arc<Alerts>, config: ExperimentsConfig) -> Monitor {
        Monitor {
            store,
            alerts,
            config,
            drifting: Mutex::default(),
            series: Mutex::default(),
        }
    }

    /// The windows ending now.
    pub fn windows(config: &ExperimentsConfig, now_ms: i64) -> Windows {
        let split_ms = now_ms - config.drift_recent_ms as i64;
        Windows {
            reference_from_ms: split_ms - config.drift_reference_ms as i64,
            split_ms,
            to_ms: now_ms + 1,
        }
    }

    /// Runs [`Monitor::tick`] every `drift_interval_ms` while `self` lives.
    pub fn spawn(self: &Arc<Self>) {
        let every = Duration::from_millis(self.config.drift_interval_ms.max(10));
        crate::periodic::while_alive(self, (), every, |monitor, ()| async move {
            if let Err(e) = monitor.tick().await {
                tracing::warn!(error = %e, "drift check failed");
            }
        });
    }

    pub async fn tick(&self) -> anyhow::Result<()> {
        let w = Self::windows(&self.config, crate::time::now_ms());
        let (recent, drifts) =
            detect(self.store.as_ref(), w, None, self.config.drift_min_samples).await?;
        self.set_gauges(&recent, &drifts);
        let now: BTreeSet<(Group, Metric)> =
            drifts.iter().map(|d| (d.group.clone(), d.metric)).collect();
        let fresh: Vec<_> = {
            let Ok(mut before) = self.drifting.lock() else {
                return Ok(());
            };
            let fresh = drifts
                .iter()
                .filter(|d| !before.contains(&(d.group.clone(), d.metric)))
                .cloned()
                .collect();
            *before = now;
            fresh
        };
        for d in fresh {
            self.alerts.emit(&Event::new(
                EventKind::DriftDetected,
                json!({
                    "drift": d,
                    "reference_window": {"from": crate::time::rfc3339(w.reference_from_ms),
                                         "to": crate::time::rfc3339(w.split_ms)},
                    "recent_window": {"from": crate::time::rfc3339(w.split_ms),
                                      "to": crate::time::rfc3339(w.to_ms)},
                }),
            ));
        }
        Ok(())
    }

    /// Recent values per group, and 1/0 per drifting metric, for the
    /// busiest groups up to `max_series` (groups already shown keep their
    /// place, so a series never flips between groups).
    fn set_gauges(&self, recent: &[Sample], drifts: &[super::drift::Drift]) {
        let Ok(mut series) = self.series.lock() else {
            return;
        };
        let mut busiest: Vec<&Sample> = recent.iter().collect();
        busiest.sort_by_key(|s| std::cmp::Reverse(s.stats.requests));
        for s in busiest {
            let group = group_of(s);
            if !series.contains(&group) {
                if series.len() >= self.config.max_series {
                    metrics::counter!("promptgate_drift_series_dropped_total").increment(1);
                    continue;
                }
                series.insert(group.clone());
            }
            let labels = [
                ("prompt", group.prompt.clone().unwrap_or_default()),
                (
                    "version",
                    group.version.map(|v| v.to_string()).unwrap_or_default(),
                ),
                ("model", group.model.clone().unwrap_or_default()),
            ];
            for m in DRIFT_METRICS {
                if let Some(v) = s.estimate(m).value {
                    metrics::gauge!(gauge_name(m), &labels).set(v);
                }
                let drifted = drifts.iter().any(|d| d.group == group && d.metric == m);
                let mut with_metric = labels.to_vec();
                with_metric.push(("metric", m.name().to_owned()));
                metrics::gauge!("promptgate_prompt_drift", &with_metric).set(if drifted {
                    1.0
                } else {
                    0.0
                });
            }
        }
    }
}
