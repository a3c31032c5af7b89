//! Drift: a prompt version's (or, for raw calls, a model's) recent records
//! against a reference window before them, on flag rate (two-proportion z
//! test), mean grounding score, output length and cost per request
//! (Welch's interval), each side needing a minimum number of records.

use serde::Serialize;

use super::metrics::{Metric, Sample};
use super::stats::{mean_difference, Moments, Z95};
use super::tally::{sums, Sums, Windows};
use crate::store::{Store, StoreResult};

/// The metrics drift watches.
pub const DRIFT_METRICS: [Metric; 4] = [
    Metric::FlagRate,
    Metric::GroundingScore,
    Metric::OutputTokens,
    Metric::CostPerRequest,
];

/// The group a drift is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Group {
    pub prompt: Option<String>,
    pub version: Option<i64>,
    /// Raw calls only.
    pub model: Option<String>,
}

/// One metric of one group that moved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Drift {
    #[serde(flatten)]
    pub group: Group,
    pub metric: Metric,
    pub reference: f64,
    pub recent: f64,
    pub reference_n: i64,
    pub recent_n: i64,
    /// recent − reference.
    pub difference: f64,
    /// `two_proportion_z` or `welch`.
    pub test: &'static str,
    /// The z statistic (flag rate) or the 95 % interval's bounds (means).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub z: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ci: Option<[f64; 2]>,
}

/// Whether `metric` moved between `reference` and `recent`.
pub fn moved(metric: Metric, reference: &Sample, recent: &Sample, min: i64) -> Option<Drift> {
    let (rn, cn) = (reference.n(metric), recent.n(metric));
    if rn < min || cn < min {
        return None;
    }
    let before = reference.estimate(metric).value?;
    let after = recent.estimate(metric).value?;
    let (z, ci, test) = if metric == Metric::FlagRate {
        let (k1, k2) = (reference.stats.flagged as f64, recent.stats.flagged as f64);
        let (n1, n2) = (rn as f64, cn as f64);
        let pooled = (k1 + k2) / (n1 + n2);
        let se = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
        if se <= 0.0 {
            return None;
        }
        let z = (after - before) / se;
        if z.abs() <= Z95 {
            return None;
        }
        (Some(z), None, "two_proportion_z")
    } else {
        let a = moments(metric, reference)?;
        let b = moments(metric, recent)?;
        let (_, (lo, hi)) = mean_difference(&a, &b)?;
        if lo <= 0.0 && hi >= 0.0 {
            return None;
        }
        (None, Some([lo, hi]), "welch")
    };
    Some(Drift {
        group: group_of(recent),
        metric,
        reference: before,
        recent: after,
        reference_n: rn,
        recent_n: cn,
        difference: after - before,
        test,
        z,
        ci,
    })
}

/// The moments of a mean metric, in the unit the report shows.
fn moments(metric: Metric, s: &Sample) -> Option<Moments> {
    let st = &s.stats;
    match metric {
        Metric::GroundingScore => Moments::from_sums(st.score_n, st.score_sum, st.score_sq),
        Metric::OutputTokens => Moments::from_sums(st.output_n, st.output_sum, st.output_sq),
        Metric::CostPerRequest => {
            Moments::from_sums(st.cost_n, st.cost_sum * 1e-12, st.cost_sq * 1e-24)
        }
        _ => None,
    }
}

pub fn group_of(s: &Sample) -> Group {
    Group {
        prompt: s.stats.prompt_name.clone(),
        version: s.stats.prompt_version,
        model: s.stats.model.clone(),
    }
}

/// Every group's recent sample and every drift found, over `team`'s
/// records (`None`: all teams).
pub async fn detect(
    store: &dyn Store,
    w: Windows,
    team: Option<String>,
    min_samples: i64,
) -> StoreResult<(Vec<Sample>, Vec<Drift>)> {
    let team = team.as_deref();
    let reference = sums(store, team, w.reference_from_ms, w.split_ms).await?;
    let recent = sums(store, team, w.split_ms, w.to_ms).await?;
    Ok(compare(&reference, &recent, min_samples))
}

/// Every group's recent sample, and the drifts of the groups present in
/// both windows.
pub fn compare(reference: &Sums, recent: &Sums, min_samples: i64) -> (Vec<Sample>, Vec<Drift>) {
    let sample = |stats: &crate::store::GroupStats| Sample {
        stats: stats.clone(),
        latency_ms: Vec::new(),
    };
    let recent: Vec<Sample> = recent.values().map(sample).collect();
    let mut drifts = Vec::new();
    for s in &recent {
        let Some(before) = reference.get(&(
            s.stats.prompt_name.clone(),
            s.stats.prompt_version,
            s.stats.model.clone(),
        )) else {
            continue;
        };
        let before = sample(before);
        drifts.extend(
            DRIFT_METRICS
                .iter()
                .filter_map(|&m| moved(m, &before, s, min_samples)),
        );
    }
    (recent, drifts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::GroupStats;

    fn flags(flagged: i64, n: i64) -> Sample {
        Sample {
            stats: GroupStats {
                model: Some("m".into()),
                requests: n,
                flag_n: n,
                flagged,
                ..GroupStats::default()
            },
            latency_ms: Vec::new(),
        }
    }

    #[test]
    fn two_proportion_test() {
        // 10/200 → 40/200: pooled 0.125, se = 0.03307, z = 4.536.
        let d = moved(Metric::FlagRate, &flags(10, 200), &flags(40, 200), 50).unwrap();
        assert!((d.z.unwrap() - 4.5356).abs() < 1e-3, "{d:?}");
        assert_eq!(d.test, "two_proportion_z");
        // 10/200 → 14/200: z = 0.84, no drift.
        assert!(moved(Metric::FlagRate, &flags(10, 200), &flags(14, 200), 50).is_none());
        // Too few records.
        assert!(moved(Metric::FlagRate, &flags(1, 20), &flags(19, 20), 50).is_none());
    }
}
