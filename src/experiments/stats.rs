//! The statistics experiments use, as pure functions over counts and sums:
//! Wilson intervals for rates (and Newcombe's for their difference), Welch's
//! t intervals for means and their difference, and quantiles read from a
//! bucketed histogram. Every interval is two-sided at 95 %.

/// The standard normal's 97.5 % quantile.
pub const Z95: f64 = 1.959_963_984_540_054;

/// A closed interval `[lo, hi]`.
pub type Interval = (f64, f64);

/// Wilson score interval for `k` successes in `n` trials (`None` when n = 0).
pub fn wilson(k: i64, n: i64) -> Option<Interval> {
    if n <= 0 {
        return None;
    }
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let z2 = Z95 * Z95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z95 / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

/// Newcombe's hybrid score interval (his method 10) for the difference of
/// two rates, `k2/n2 − k1/n1`, built from the two Wilson intervals.
pub fn rate_difference(k1: i64, n1: i64, k2: i64, n2: i64) -> Option<(f64, Interval)> {
    let (l1, u1) = wilson(k1, n1)?;
    let (l2, u2) = wilson(k2, n2)?;
    let p1 = k1 as f64 / n1 as f64;
    let p2 = k2 as f64 / n2 as f64;
    Some((p2 - p1, combine(p1, (l1, u1), p2, (l2, u2))))
}

/// The interval of `b − a` from intervals of `a` and `b` whose half-widths
/// stand for 1.96 standard errors on each side (Newcombe's construction).
pub fn combine(a: f64, (la, ua): Interval, b: f64, (lb, ub): Interval) -> Interval {
    let d = b - a;
    (
        d - ((b - lb).powi(2) + (ua - a).powi(2)).sqrt(),
        d + ((ub - b).powi(2) + (a - la).powi(2)).sqrt(),
    )
}

/// A sample's mean and variance from its count, sum and sum of squares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moments {
    pub n: i64,
    pub mean: f64,
    /// The unbiased sample variance (0 for a single value).
    pub variance: f64,
}

impl Moments {
    pub fn from_sums(n: i64, sum: f64, sum_sq: f64) -> Option<Moments> {
        if n <= 0 {
            return None;
        }
        let nf = n as f64;
        let mean = sum / nf;
        let variance = if n > 1 {
            ((sum_sq - nf * mean * mean) / (nf - 1.0)).max(0.0)
        } else {
            0.0
        };
        Some(Moments { n, mean, variance })
    }

    /// The t interval of the mean (`None` for fewer than two values).
    pub fn interval(&self) -> Option<Interval> {
        if self.n < 2 {
            return None;
        }
        let half = t975(self.n as f64 - 1.0) * (self.variance / self.n as f64).sqrt();
        Some((self.mean - half, self.mean + half))
    }
}

/// Welch's interval for `b.mean − a.mean` (unequal variances, Welch–
/// Satterthwaite degrees of freedom).
pub fn mean_difference(a: &Moments, b: &Moments) -> Option<(f64, Interval)> {
    if a.n < 2 || b.n < 2 {
        return None;
    }
    let d = b.mean - a.mean;
    let va = a.variance / a.n as f64;
    let vb = b.variance / b.n as f64;
    let se2 = va + vb;
    if se2 <= 0.0 {
        return Some((d, (d, d)));
    }
    let df = se2 * se2 / (va * va / (a.n as f64 - 1.0) + vb * vb / (b.n as f64 - 1.0));
    let half = t975(df) * se2.sqrt();
    Some((d, (d - half, d + half)))
}

/// Student's t 97.5 % quantile for `df` degrees of freedom: the table for
/// small df (interpolated), a Cornish–Fisher expansion in z above 30 (error
/// below 1e-4 there).
pub fn t975(df: f64) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    if !df.is_finite() {
        return Z95;
    }
    if df <= 1.0 {
        return TABLE[0];
    }
    if df < 30.0 {
        let lo = df.floor();
        let frac = df - lo;
        let i = lo as usize - 1;
        return TABLE[i] + frac * (TABLE[i + 1] - TABLE[i]);
    }
    let z = Z95;
    let (z3, z5, z7) = (z.powi(3), z.powi(5), z.powi(7));
    z + (z3 + z) / (4.0 * df)
        + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * df * df)
        + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * df.powi(3))
}

/// A histogram bucket: `count` values in `[lower, lower + width)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub lower: f64,
    pub width: f64,
    pub count: i64,
}

/// The `p` quantile of the values a histogram (buckets in ascending order)
/// holds, and its distribution-free 95 % interval: the values at ranks
/// `np ± 1.96·√(np(1−p))`. Values are placed evenly inside their bucket, so
/// the error is at most one bucket width.
pub fn quantile(buckets: &[Bucket], p: f64) -> Option<(f64, Interval)> {
    let n: i64 = buckets.iter().map(|b| b.count).sum();
    if n <= 0 {
        return None;
    }
    let nf = n as f64;
    let spread = Z95 * (nf * p * (1.0 - p)).sqrt();
    let at = |rank: f64| value_at(buckets, rank.clamp(0.0, nf - 1.0));
    let value = at(p * nf - 0.5)?;
    let lo = at((p * nf - spread).floor() - 0.5)?;
    let hi = at((p * nf + spread).ceil() - 0.5)?;
    Some((value, (lo.min(value), hi.max(value))))
}

/// The value of 0-based `rank` (fractional) in the histogram.
fn value_at(buckets: &[Bucket], rank: f64) -> Option<f64> {
    let mut below = 0.0;
    for b in buckets {
        let c = b.count as f64;
        if rank < below + c {
            return Some(b.lower + b.width * (rank - below + 0.5) / c);
        }
        below += c;
    }
    buckets.last().map(|b| b.lower + b.width)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, eps: f64) -> bool {
        (a - b).abs() < eps
    }

    #[test]
    fn wilson_matches_published_values() {
        // Newcombe (1998), table I: 81/263 → 0.2553 to 0.3662.
        let (lo, hi) = wilson(81, 263).unwrap();
        assert!(
            close(lo, 0.2553, 1e-4) && close(hi, 0.3662, 1e-4),
            "{lo} {hi}"
        );
        let (lo, hi) = wilson(0, 10).unwrap();
        assert!(
            close(lo, 0.0, 1e-12) && close(hi, 0.2775, 1e-4),
            "{lo} {hi}"
        );
        assert!(wilson(0, 0).is_none());
    }

    #[test]
    fn newcombe_difference_matches_published_values() {
        // Newcombe (1998), table II example (a): 56/70 − 48/80 → 0.0524 to 0.3339.
        let (d, (lo, hi)) = rate_difference(48, 80, 56, 70).unwrap();
        assert!(close(d, 0.2, 1e-12));
        assert!(
            close(lo, 0.0524, 1e-4) && close(hi, 0.3339, 1e-4),
            "{lo} {hi}"
        );
    }

    #[test]
    fn t_quantiles() {
        assert!(close(t975(10.0), 2.228, 1e-9));
        assert!(close(t975(40.0), 2.0211, 1e-3));
        assert!(close(t975(120.0), 1.9799, 1e-3));
        assert!(close(t975(f64::INFINITY), Z95, 1e-12));
        assert!(t975(29.5) < t975(29.0) && t975(29.5) > t975(30.0));
    }

    #[test]
    fn welch_interval() {
        let a = Moments::from_sums(3, 6.0, 14.0).unwrap(); // 1, 2, 3
        assert!(close(a.mean, 2.0, 1e-12) && close(a.variance, 1.0, 1e-12));
        let b = Moments::from_sums(3, 15.0, 77.0).unwrap(); // 4, 5, 6
        let (d, (lo, hi)) = mean_difference(&a, &b).unwrap();
        // se = sqrt(1/3 + 1/3), df = 4 → t = 2.776.
        let half = 2.776 * (2.0f64 / 3.0).sqrt();
        assert!(close(d, 3.0, 1e-12) && close(lo, 3.0 - half, 1e-9) && close(hi, 3.0 + half, 1e-9));
    }

    #[test]
    fn histogram_quantiles() {
        // 100 values 0..99, one per unit-wide bucket.
        let buckets: Vec<Bucket> = (0..100)
            .map(|i| Bucket {
                lower: f64::from(i),
                width: 1.0,
                count: 1,
            })
            .collect();
        let (median, (lo, hi)) = quantile(&buckets, 0.5).unwrap();
        assert!(close(median, 50.0, 1e-9), "{median}");
        assert!(
            lo < median && hi > median && lo >= 39.0 && hi <= 61.0,
            "{lo} {hi}"
        );
        let (p95, _) = quantile(&buckets, 0.95).unwrap();
        assert!(close(p95, 95.0, 1e-9), "{p95}");
        assert!(quantile(&[], 0.5).is_none());
    }
}
