//! The rollout report: every version a label's traffic reached in a window,
//! each metric with its interval, and each candidate against the baseline.

use std::collections::BTreeMap;

use serde::Serialize;

use super::baseline::{baseline, Baseline};
use super::metrics::{Comparison, Estimate, Metric, Sample};
use crate::registry::Target;
use crate::store::{GroupStats, StatsQuery, Store, StoreResult};

/// Default window when the label's history does not say when its rollout
/// started: the last 30 days.
const DEFAULT_WINDOW_MS: i64 = 30 * 86_400_000;

/// What a report is asked for.
#[derive(Debug, Clone)]
pub struct ReportRequest<'a> {
    pub name: &'a str,
    pub label: &'a str,
    /// Where the label points now.
    pub current: &'a Target,
    /// `None`: since the rollout started.
    pub from_ms: Option<i64>,
    pub to_ms: i64,
    /// `None` = every team (admin).
    pub team: Option<String>,
    /// `None`: the version before the rollout.
    pub baseline: Option<i64>,
    pub min_samples: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct VersionReport {
    pub version: i64,
    pub baseline: bool,
    /// Its weight in the label's rollout now (`None`: not in it).
    pub weight: Option<u32>,
    pub requests: i64,
    pub metrics: BTreeMap<Metric, Estimate>,
    /// Against the baseline (absent for the baseline itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison: Option<BTreeMap<Metric, Comparison>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub baseline: i64,
    #[serde(skip)]
    pub from_ms: i64,
    #[serde(skip)]
    pub to_ms: i64,
    pub min_samples: i64,
    pub versions: Vec<VersionReport>,
}

/// The records of one window, reduced per group: both queries at once.
pub async fn samples(store: &dyn Store, q: &StatsQuery) -> StoreResult<Vec<Sample>> {
    let (stats, buckets) = tokio::try_join!(store.group_stats(q), store.latency_buckets(q))?;
    let key = |name: &Option<String>, version: Option<i64>, model: &Option<String>| {
        (name.clone(), version, model.clone())
    };
    let mut by_group: BTreeMap<_, Vec<_>> = BTreeMap::new();
    for b in &buckets {
        by_group
            .entry(key(&b.prompt_name, b.prompt_version, &b.model))
            .or_default()
            .push(b);
    }
    Ok(stats
        .into_iter()
        .map(|s| {
            let rows = by_group
                .remove(&key(&s.prompt_name, s.prompt_version, &s.model))
                .unwrap_or_default();
            Sample::with_latency(s, rows)
        })
        .collect())
}

/// The baseline and window a report (or a guard) looks at.
pub async fn window(
    store: &dyn Store,
    name: &str,
    label: &str,
    current: &Target,
) -> StoreResult<Option<Baseline>> {
    let history = store.label_history(name, label).await?;
    Ok(baseline(current, &history))
}

/// Builds the report.
pub async fn rollout_report(store: &dyn Store, req: &ReportRequest<'_>) -> StoreResult<Report> {
    let found = window(store, req.name, req.label, req.current).await?;
    let from_ms = req
        .from_ms
        .or(found.and_then(|b| b.since_ms))
        .unwrap_or(req.to_ms - DEFAULT_WINDOW_MS);
    let base = req
        .baseline
        .or(found.map(|b| b.version))
        .unwrap_or_default();
    let q = StatsQuery {
        from_ms,
        to_ms: req.to_ms,
        team: req.team.clone(),
        prompt: Some(req.name.to_owned()),
    };
    let mut by_version: BTreeMap<i64, Sample> = samples(store, &q)
        .await?
        .into_iter()
        .filter_map(|s| Some((s.stats.prompt_version?, s)))
        .collect();
    // The baseline and every version in the rollout are listed, with or
    // without traffic.
    for v in req.current.versions().into_iter().chain([base]) {
        by_version.entry(v).or_insert_with(|| Sample {
            stats: GroupStats {
                prompt_name: Some(req.name.to_owned()),
                prompt_version: Some(v),
                ..GroupStats::default()
            },
            latency_ms: Vec::new(),
        });
    }
    let weights: BTreeMap<i64, u32> = match req.current {
        Target::Version(v) => [(*v, 100)].into(),
        Target::Rollout(entries) => entries.iter().map(|e| (e.version, e.weight)).collect(),
    };
    let baseline_sample = by_version.get(&base).cloned().unwrap_or_default();
    let versions = by_version
        .iter()
        .map(|(&version, sample)| VersionReport {
            version,
            baseline: version == base,
            weight: weights.get(&version).copied(),
            requests: sample.stats.requests,
            metrics: Metric::ALL
                .iter()
                .map(|&m| (m, sample.estimate(m)))
                .collect(),
            comparison: (version != base).then(|| {
                Metric::ALL
                    .iter()
                    .map(|&m| (m, baseline_sample.compare(m, sample, req.min_samples)))
                    .collect()
            }),
        })
        .collect();
    Ok(Report {
        baseline: base,
        from_ms,
        to_ms: req.to_ms,
        min_samples: req.min_samples,
        versions,
    })
}
