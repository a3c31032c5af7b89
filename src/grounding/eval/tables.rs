//! Calibration and operating-point tables of out-of-sample scores.

use super::metrics::Metrics;

/// One score bucket of a reliability table.
#[derive(Clone, Debug, PartialEq)]
pub struct Bucket {
    pub lo: f64,
    pub hi: f64,
    pub n: usize,
    /// Mean predicted `P(supported)` in the bucket.
    pub predicted: f64,
    /// Observed share of supported answers in the bucket.
    pub observed: f64,
}

/// Width of a reliability bucket.
const BUCKET: f64 = 0.1;

/// Reliability table: scores (predicted `P(supported)`) in buckets of 0.1;
/// empty buckets are left out. `ys[i]` is `true` for hallucinated answers.
pub fn reliability(scores: &[f64], ys: &[bool]) -> Vec<Bucket> {
    let nb = (1.0 / BUCKET).round() as usize;
    let mut acc = vec![(0usize, 0.0f64, 0usize); nb];
    for (&s, &y) in scores.iter().zip(ys) {
        let b = ((s / BUCKET) as usize).min(nb - 1);
        acc[b].0 += 1;
        acc[b].1 += s;
        acc[b].2 += usize::from(!y);
    }
    acc.iter()
        .enumerate()
        .filter(|(_, a)| a.0 > 0)
        .map(|(b, a)| Bucket {
            lo: b as f64 * BUCKET,
            hi: (b + 1) as f64 * BUCKET,
            n: a.0,
            predicted: a.1 / a.0 as f64,
            observed: a.2 as f64 / a.0 as f64,
        })
        .collect()
}

/// Expected calibration error: bucket-size-weighted mean |predicted - observed|.
pub fn calibration_error(buckets: &[Bucket]) -> f64 {
    let n: usize = buckets.iter().map(|b| b.n).sum();
    if n == 0 {
        return 0.0;
    }
    buckets
        .iter()
        .map(|b| b.n as f64 * (b.predicted - b.observed).abs())
        .sum::<f64>()
        / n as f64
}

/// Thresholds of the operating-point table.
pub const OPERATING_THRESHOLDS: [f64; 8] = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/// One row of the operating-point table: flagging `score < threshold`.
#[derive(Clone, Debug)]
pub struct OperatingPoint {
    pub threshold: f64,
    /// Share of answers flagged.
    pub flagged: f64,
    pub metrics: Metrics,
}

pub fn operating_points(scores: &[f64], ys: &[bool]) -> Vec<OperatingPoint> {
    let risk: Vec<f64> = scores.iter().map(|s| 1.0 - s).collect();
    OPERATING_THRESHOLDS
        .iter()
        .map(|&t| {
            let pred: Vec<bool> = scores.iter().map(|s| *s < t).collect();
            let flagged = pred.iter().filter(|p| **p).count() as f64 / pred.len().max(1) as f64;
            OperatingPoint {
                threshold: t,
                flagged,
                metrics: Metrics::compute(ys, &pred, &risk),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reliability_buckets_count_supported_answers() {
        let scores = [0.05, 0.08, 0.95, 0.91, 0.99];
        let ys = [true, false, false, false, true];
        let b = reliability(&scores, &ys);
        assert_eq!(b.len(), 2);
        assert_eq!((b[0].n, b[0].observed), (2, 0.5));
        assert!((b[1].observed - 2.0 / 3.0).abs() < 1e-12);
        assert!((b[1].predicted - 0.95).abs() < 1e-12);
        assert!(calibration_error(&b) > 0.0);
        let ops = operating_points(&scores, &ys);
        let half = ops.iter().find(|o| o.threshold == 0.5).map(|o| o.flagged);
        assert_eq!(half, Some(0.4));
    }
}
