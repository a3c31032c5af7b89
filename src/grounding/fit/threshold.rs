//! Thresholds on a score (`flagged = score < threshold`) chosen for balanced
//! accuracy on the training rows: the single best cut (the baseline's rule) and
//! the middle of the near-best cuts (the shipped procedure's rule).
//!
//! Balanced accuracy is taken on the training data set it is worst on (with one
//! data set: its balanced accuracy), so an easy set with a wide plateau of good
//! cuts does not choose the cut for a hard one.

use super::row::Row;

/// Each candidate cut, ascending, with the worst data set's balanced accuracy
/// there. Cuts lie midway between consecutive distinct scores; the last lies
/// between the highest score and `top` (everything flagged). `None` if a data set
/// lacks one of the classes.
fn sweep(scores: &[f64], rows: &[Row], top: f64) -> Option<Vec<(f64, f64)>> {
    let mut sets: Vec<u8> = rows.iter().map(|r| r.dataset).collect();
    sets.sort_unstable();
    sets.dedup();
    // per data set: (positives, negatives) weight
    let totals: Vec<(f64, f64)> = sets
        .iter()
        .map(|d| {
            rows.iter()
                .filter(|r| r.dataset == *d)
                .fold((0.0, 0.0), |t, r| {
                    if r.hallucinated {
                        (t.0 + r.weight, t.1)
                    } else {
                        (t.0, t.1 + r.weight)
                    }
                })
        })
        .collect();
    if totals.iter().any(|t| t.0 <= 0.0 || t.1 <= 0.0) {
        return None;
    }
    let mut v: Vec<(f64, &Row)> = scores.iter().copied().zip(rows).collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    // flagged weight per data set so far: (true positives, false positives)
    let mut flagged = vec![(0.0f64, 0.0f64); sets.len()];
    let mut out = Vec::new();
    let mut k = 0;
    while k < v.len() {
        let s = v[k].0;
        while k < v.len() && v[k].0 == s {
            let r = v[k].1;
            let d = sets.iter().position(|x| *x == r.dataset).unwrap_or(0);
            if r.hallucinated {
                flagged[d].0 += r.weight;
            } else {
                flagged[d].1 += r.weight;
            }
            k += 1;
        }
        let next = v.get(k).map_or(top, |x| x.0);
        let worst = flagged
            .iter()
            .zip(&totals)
            .map(|(f, t)| 0.5 * (f.0 / t.0 + (t.1 - f.1) / t.1))
            .fold(f64::INFINITY, f64::min);
        out.push((0.5 * (s + next), worst));
    }
    Some(out)
}

/// The cut maximising the worst data set's balanced accuracy (the lowest such
/// cut), for scores in `[0, 1]`.
pub fn best_threshold(scores: &[f64], rows: &[Row]) -> f64 {
    let Some(cuts) = sweep(scores, rows, 1.0) else {
        return 0.5;
    };
    let mut best = (-1.0f64, 0.5f64);
    for (cut, ba) in cuts {
        if ba > best.0 + 1e-12 {
            best = (ba, cut);
        }
    }
    best.1.clamp(1e-6, 1.0 - 1e-6)
}

/// The middle (halfway between the lowest and the highest) of the cuts whose
/// worst-set balanced accuracy keeps at least `keep` of the best lift over 0.5.
/// Scores are the unit score `u` (at most 1). The best cut alone is one edge of a
/// noisy plateau; the middle of the plateau moves less between training splits.
pub fn lift_threshold(scores: &[f64], rows: &[Row], keep: f64) -> f64 {
    let Some(cuts) = sweep(scores, rows, 1.0) else {
        return 0.5;
    };
    let best = cuts.iter().map(|c| c.1).fold(0.5, f64::max);
    let floor = 0.5 + keep * (best - 0.5) - 1e-12;
    let near: Vec<f64> = cuts
        .iter()
        .filter(|c| c.1 >= floor && c.1 > 0.5)
        .map(|c| c.0)
        .collect();
    match (near.first(), near.last()) {
        (Some(lo), Some(hi)) => 0.5 * (lo + hi),
        _ => 0.5,
    }
}
