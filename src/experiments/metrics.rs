//! The metrics a rollout report shows per version, how each is estimated
//! from a group's sums, and how a candidate compares with the baseline.

use serde::{Deserialize, Serialize};

use super::stats::{self, Bucket, Interval, Moments};
use crate::store::{bucket_width_us, GroupStats, LatencyBucket};

/// A metric of a prompt version (or model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    ErrorRate,
    FlagRate,
    GroundingScore,
    CostPerRequest,
    InputTokens,
    OutputTokens,
    P50Latency,
    P95Latency,
    CacheHitRate,
}

impl Metric {
    /// Every metric, in the order reports list them.
    pub const ALL: [Metric; 9] = [
        Metric::ErrorRate,
        Metric::FlagRate,
        Metric::GroundingScore,
        Metric::CostPerRequest,
        Metric::InputTokens,
        Metric::OutputTokens,
        Metric::P50Latency,
        Metric::P95Latency,
        Metric::CacheHitRate,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::ErrorRate => "error_rate",
            Metric::FlagRate => "flag_rate",
            Metric::GroundingScore => "grounding_score",
            Metric::CostPerRequest => "cost_per_request",
            Metric::InputTokens => "input_tokens",
            Metric::OutputTokens => "output_tokens",
            Metric::P50Latency => "p50_latency",
            Metric::P95Latency => "p95_latency",
            Metric::CacheHitRate => "cache_hit_rate",
        }
    }

    /// Whether a higher value is the better one (grounding and cache hits);
    /// for every other metric less is better (fewer errors, flags, dollars,
    /// tokens, milliseconds).
    pub fn higher_is_better(self) -> bool {
        matches!(self, Metric::GroundingScore | Metric::CacheHitRate)
    }
}

/// What a version's records say about one metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// `None` when no record carries the metric.
    pub value: Option<f64>,
    /// 95 % interval (`None` below two records).
    pub ci: Option<[f64; 2]>,
    /// The records it stands on.
    pub n: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Better,
    Worse,
    NoDifference,
    TooFewSamples,
}

/// A candidate against the baseline on one metric: `difference` is
/// candidate − baseline, with its 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Comparison {
    pub difference: Option<f64>,
    pub ci: Option<[f64; 2]>,
    pub verdict: Verdict,
}

/// One group's records, reduced: its sums and its latency histogram.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub stats: GroupStats,
    /// Latency in milliseconds, ascending.
    pub latency_ms: Vec<Bucket>,
}

impl Sample {
    /// The group's histogram from its rows of [`crate::store::ExperimentStore::latency_buckets`].
    pub fn with_latency<'a>(
        stats: GroupStats,
        rows: impl IntoIterator<Item = &'a LatencyBucket>,
    ) -> Sample {
        let mut latency_ms: Vec<Bucket> = rows
            .into_iter()
            .map(|b| Bucket {
                lower: b.lower_us as f64 / 1000.0,
                width: bucket_width_us(b.lower_us) as f64 / 1000.0,
                count: b.count,
            })
            .collect();
        latency_ms.sort_by(|a, b| a.lower.total_cmp(&b.lower));
        Sample { stats, latency_ms }
    }

    /// `(successes, trials)` of a rate metric.
    fn rate(&self, m: Metric) -> Option<(i64, i64)> {
        let s = &self.stats;
        match m {
            Metric::ErrorRate => Some((s.errors, s.requests)),
            Metric::FlagRate => Some((s.flagged, s.flag_n)),
            Metric::CacheHitRate => Some((s.cache_hits, s.cache_n)),
            _ => None,
        }
    }

    /// The moments of a mean metric (cost in USD).
    fn moments(&self, m: Metric) -> Option<Option<Moments>> {
        let s = &self.stats;
        let scale = 1e-12; // pico-USD → USD
        Some(match m {
            Metric::GroundingScore => Moments::from_sums(s.score_n, s.score_sum, s.score_sq),
            Metric::CostPerRequest => {
                Moments::from_sums(s.cost_n, s.cost_sum * scale, s.cost_sq * scale * scale)
            }
            Metric::InputTokens => Moments::from_sums(s.input_n, s.input_sum, s.input_sq),
            Metric::OutputTokens => Moments::from_sums(s.output_n, s.output_sum, s.output_sq),
            _ => return None,
        })
    }

    fn quantile_p(m: Metric) -> Option<f64> {
        match m {
            Metric::P50Latency => Some(0.5),
            Metric::P95Latency => Some(0.95),
            _ => None,
        }
    }

    /// How many records a metric stands on.
    pub fn n(&self, m: Metric) -> i64 {
        if let Some((_, n)) = self.rate(m) {
            return n;
        }
        if let Some(moments) = self.moments(m) {
            return moments.map_or(0, |mo| mo.n);
        }
        self.latency_ms.iter().map(|b| b.count).sum()
    }

    /// The metric's value and interval.
    pub fn estimate(&self, m: Metric) -> Estimate {
        let n = self.n(m);
        let (value, ci) = match self.point(m) {
            Some((v, ci)) => (Some(v), ci),
            None => (None, None),
        };
        Estimate {
            value,
            ci: ci.map(|(lo, hi)| [lo, hi]),
            n,
        }
    }

    /// Point estimate and interval, when there is anything to estimate.
    fn point(&self, m: Metric) -> Option<(f64, Option<Interval>)> {
        if let Some((k, n)) = self.rate(m) {
            let ci = stats::wilson(k, n)?;
            return Some((k as f64 / n as f64, Some(ci)));
        }
        if let Some(moments) = self.moments(m) {
            let mo = moments?;
            return Some((mo.mean, mo.interval()));
        }
        let (v, ci) = stats::quantile(&self.latency_ms, Self::quantile_p(m)?)?;
        Some((v, Some(ci)))
    }

    /// `candidate − baseline` on `m` with its interval (`None` when either
    /// side lacks the records to say).
    pub fn difference(&self, m: Metric, candidate: &Sample) -> Option<(f64, Interval)> {
        if let (Some((k1, n1)), Some((k2, n2))) = (self.rate(m), candidate.rate(m)) {
            return stats::rate_difference(k1, n1, k2, n2);
        }
        if let (Some(a), Some(b)) = (self.moments(m), candidate.moments(m)) {
            return stats::mean_difference(&a?, &b?);
        }
        let (a, ia) = self.point(m)?;
        let (b, ib) = candidate.point(m)?;
        Some((b - a, stats::combine(a, ia?, b, ib?)))
    }

    /// The candidate against this baseline on `m`; fewer than `min_samples`
    /// records on either side gives `too_few_samples` (figures still shown).
    pub fn compare(&self, m: Metric, candidate: &Sample, min_samples: i64) -> Comparison {
        let diff = self.difference(m, candidate);
        let enough = self.n(m) >= min_samples && candidate.n(m) >= min_samples;
        let verdict = match diff {
            _ if !enough => Verdict::TooFewSamples,
            None => Verdict::TooFewSamples,
            Some((_, (lo, _))) if lo > 0.0 => higher(m),
            Some((_, (_, hi))) if hi < 0.0 => lower(m),
            Some(_) => Verdict::NoDifference,
        };
        Comparison {
            difference: diff.map(|(d, _)| d),
            ci: diff.map(|(_, (lo, hi))| [lo, hi]),
            verdict,
        }
    }
}

/// The verdict for a candidate whose metric is surely higher.
fn higher(m: Metric) -> Verdict {
    if m.higher_is_better() {
        Verdict::Better
    } else {
        Verdict::Worse
    }
}

fn lower(m: Metric) -> Verdict {
    if m.higher_is_better() {
        Verdict::Worse
    } else {
        Verdict::Better
    }
}
