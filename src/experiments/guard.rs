//! Rollout guards, evaluated periodically on every replica: a candidate
//! whose guarded metric is worse than the baseline's by more than the
//! guard allows, with 95 % confidence, gets weight 0. The label moves by
//! compare-and-set against the exact JSON that was evaluated, so of several
//! replicas only one moves it, writes the history line, counts it and
//! sends the alert; the others see the label changed and do nothing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::baseline::baseline;
use super::metrics::{Metric, Sample};
use super::report::samples;
use crate::alerts::{Alerts, Event, EventKind};
use crate::registry::guard::{label_json, read_label_text, Guard, GuardMetric};
use crate::registry::live::LiveRegistry;
use crate::registry::{RolloutEntry, Target};
use crate::store::{LabelWrite, PromptLabelRow, StatsQuery, Store, StoreResult};

/// Who the label history names for a guard's move.
pub const GUARD_ACTOR: &str = "guard";

/// What a guard evaluation needs.
#[derive(Clone)]
pub struct GuardTask {
    pub store: Arc<dyn Store>,
    pub alerts: Arc<Alerts>,
}

/// Evaluates every guard each `every`, for as long as `registry` lives.
pub fn spawn(registry: &Arc<LiveRegistry>, task: GuardTask, every: Duration) {
    crate::periodic::while_alive(registry, task, every, |registry, task| async move {
        if let Err(e) = evaluate_all(&task, &registry).await {
            tracing::warn!(error = %e, "rollout guard evaluation failed");
        }
    });
}

impl From<GuardMetric> for Metric {
    fn from(m: GuardMetric) -> Metric {
        match m {
            GuardMetric::FlagRate => Metric::FlagRate,
            GuardMetric::ErrorRate => Metric::ErrorRate,
            GuardMetric::CostPerRequest => Metric::CostPerRequest,
            GuardMetric::P95Latency => Metric::P95Latency,
        }
    }
}

/// A guard's finding against one candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub metric: Metric,
    pub candidate: i64,
    pub baseline: i64,
    pub candidate_value: f64,
    pub baseline_value: f64,
    pub difference: f64,
    pub ci: (f64, f64),
    pub candidate_n: i64,
    pub baseline_n: i64,
}

impl Finding {
    /// The history's reason line, with the figures.
    pub fn reason(&self, guard: &Guard) -> String {
        format!(
            "guard: {} of v{} is {:.4} against {:.4} for baseline v{}: worse by {:.4} \
             (95% CI {:.4} to {:.4}) > max_worse_by {}; n = {} vs {}",
            self.metric.name(),
            self.candidate,
            self.candidate_value,
            self.baseline_value,
            self.baseline,
            self.difference,
            self.ci.0,
            self.ci.1,
            guard.max_worse_by,
            self.candidate_n,
            self.baseline_n,
        )
    }
}

/// Whether `guard` fires for `candidate` against `base`: both have
/// `min_samples` records of the metric and the whole interval of
/// candidate − baseline lies above `max_worse_by` (every guarded metric is
/// better lower).
pub fn judge(guard: &Guard, base: (i64, &Sample), candidate: (i64, &Sample)) -> Option<Finding> {
    let metric = Metric::from(guard.metric);
    let (bn, cn) = (base.1.n(metric), candidate.1.n(metric));
    if bn < guard.min_samples || cn < guard.min_samples {
        return None;
    }
    let (difference, (lo, hi)) = base.1.difference(metric, candidate.1)?;
    if lo <= guard.max_worse_by {
        return None;
    }
    Some(Finding {
        metric,
        candidate: candidate.0,
        baseline: base.0,
        candidate_value: candidate.1.estimate(metric).value?,
        baseline_value: base.1.estimate(metric).value?,
        difference,
        ci: (lo, hi),
        candidate_n: cn,
        baseline_n: bn,
    })
}

async fn evaluate_all(task: &GuardTask, registry: &LiveRegistry) -> anyhow::Result<()> {
    let mut moved = false;
    for row in task.store.all_prompt_labels().await? {
        let Ok((Target::Rollout(entries), Some(guard))) = read_label_text(&row.target) else {
            continue;
        };
        if evaluate(task, &row, &entries, &guard).await? {
            moved = true;
        }
    }
    if moved {
        registry.reload(task.store.as_ref()).await?;
    }
    Ok(())
}

/// Evaluates one guarded rollout; `true` when this replica moved its label.
async fn evaluate(
    task: &GuardTask,
    row: &PromptLabelRow,
    entries: &[RolloutEntry],
    guard: &Guard,
) -> StoreResult<bool> {
    let current = Target::Rollout(entries.to_vec());
    let history = task.store.label_history(&row.name, &row.label).await?;
    let Some(base) = baseline(&current, &history) else {
        return Ok(false);
    };
    let now = crate::time::now_ms();
    let q = StatsQuery {
        from_ms: base.since_ms.unwrap_or(row.updated_at),
        to_ms: now + 1,
        team: None,
        prompt: Some(row.name.clone()),
    };
    let by_version: BTreeMap<i64, Sample> = samples(task.store.as_ref(), &q)
        .await?
        .into_iter()
        .filter_map(|s| Some((s.stats.prompt_version?, s)))
        .collect();
    let Some(base_sample) = by_version.get(&base.version) else {
        return Ok(false);
    };
    for e in entries
        .iter()
        .filter(|e| e.weight > 0 && e.version != base.version)
    {
        let Some(sample) = by_version.get(&e.version) else {
            continue;
        };
        let Some(finding) = judge(guard, (base.version, base_sample), (e.version, sample)) else {
            continue;
        };
        let zeroed: Vec<RolloutEntry> = entries
            .iter()
            .map(|x| RolloutEntry {
                version: x.version,
                weight: if x.version == e.version { 0 } else { x.weight },
            })
            .collect();
        let target = Target::Rollout(zeroed);
        let json = label_json(&target, Some(guard)).to_string();
        let reason = finding.reason(guard);
        let write = LabelWrite {
            name: &row.name,
            label: &row.label,
            target: &json,
            actor: Some(GUARD_ACTOR),
            at: now,
        };
        if !task
            .store
            .move_label_if(&write, &row.target, &reason)
            .await?
        {
            // Another replica acted first (or someone moved the label).
            return Ok(false);
        }
        let before: Option<serde_json::Value> = serde_json::from_str(&row.target).ok();
        let after = json!({"target": target, "reason": reason});
        let change = crate::audit::Change {
            action: "label.move",
            target: &format!("{}:{}", row.name, row.label),
            before: before.as_ref(),
            after: Some(&after),
        };
        crate::audit::record(task.store.as_ref(), GUARD_ACTOR, change).await;
        tracing::warn!(prompt = %row.name, label = %row.label, %reason, "rollout guard fired");
        metrics::counter!("promptgate_guard_fired_total", "metric" => finding.metric.name())
            .increment(1);
        task.alerts.emit(&Event::new(
            EventKind::GuardFired,
            json!({
                "prompt": row.name,
                "label": row.label,
                "candidate": finding.candidate,
                "baseline": finding.baseline,
                "metric": finding.metric.name(),
                "candidate_value": finding.candidate_value,
                "baseline_value": finding.baseline_value,
                "difference": finding.difference,
                "ci": [finding.ci.0, finding.ci.1],
                "max_worse_by": guard.max_worse_by,
                "samples": {"candidate": finding.candidate_n, "baseline": finding.baseline_n},
                "target": target,
                "reason": reason,
            }),
        ));
        // The stored JSON changed: further candidates wait for the next tick.
        return Ok(true);
    }
    Ok(false)
}
