//! The drift monitor: every `drift_interval_ms` it compares each group's
//! recent window with its reference window, sets the per-version gauges
//! (at most `max_series` groups, the busiest first, so label cardinality
//! stays bounded) and sends `drift.detected` once per crossing: when a
//! metric starts to drift, not again while it stays drifted.
//!
//! The windows end `drift_settle_ms` ago, so that records still in the
//! batch writer are in the store when their slice is read, and their sums
//! are slid forward between checks ([`Tally`]), read whole only at start,
//! after a jump (a pause longer than the recent window, the clock going
//! back) and every `drift_rebuild_ms`.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use super::config::ExperimentsConfig;
use super::drift::{compare, group_of, Group, DRIFT_METRICS};
use super::metrics::{Metric, Sample};
use super::tally::{Tally, Windows};
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
    /// The windows' sums as of the last check (`None` before the first, and
    /// after a check that failed: the next one reads them whole).
    tally: Mutex<Option<Tally>>,
}

impl Monitor {
    pub fn new(store: Arc<dyn Store>, alerts: Arc<Alerts>, config: ExperimentsConfig) -> Monitor {
        Monitor {
            store,
            alerts,
            config,
            drifting: Mutex::default(),
            series: Mutex::default(),
            tally: Mutex::default(),
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
        let now = crate::time::now_ms();
        let w = Self::windows(&self.config, now - self.config.drift_settle_ms as i64);
        let tally = self.slide(w, now).await?;
        let (recent, drifts) = compare(
            &tally.reference,
            &tally.recent,
            self.config.drift_min_samples,
        );
        if let Ok(mut kept) = self.tally.lock() {
            *kept = Some(tally);
        }
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

    /// The sums of windows `w`: the last check's slid forward, or read
    /// whole when they cannot be (see the module's comment).
    async fn slide(&self, w: Windows, now: i64) -> anyhow::Result<Tally> {
        let last = self.tally.lock().ok().and_then(|mut t| t.take());
        let store = self.store.as_ref();
        match last {
            Some(mut t)
                if t.can_slide_to(&w) && now - t.built_ms < self.config.drift_rebuild_ms as i64 =>
            {
                t.slide(store, w).await?;
                Ok(t)
            }
            _ => Ok(Tally::build(store, w, now).await?),
        }
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
