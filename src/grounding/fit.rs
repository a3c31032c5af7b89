//! Fitting the calibrated model: the one procedure used by the cross-validation,
//! the cross-dataset checks and the shipped `weights.json` alike.
//!
//! 1. **Feature selection** (backward, conservative): the weights are held `>= 0`
//!    (monotone: more missing content never raises the support), so a feature whose
//!    weight would be negative is left out and the rest refitted. Then, with inner
//!    cross-validation by source on the training rows, the feature whose removal
//!    lowers the held-out log-loss (mean over the data sets present) the most is
//!    dropped, if by more than `min_gain` nats; repeat. A feature that helps one data
//!    set less than it hurts another goes; features stay unless the evidence is
//!    against them (with a few hundred rows, dropping on noise costs more than a
//!    small L2-shrunk weight).
//! 2. **Weights**: L2-penalised logistic regression (Newton's method on standardised
//!    features), rows weighted so that each data set counts the same, classes not
//!    reweighted (the output is the share of hallucinated answers, i.e. calibrated).
//! 3. **Threshold**: the cut on the score maximising (data-set-weighted) balanced
//!    accuracy on the training rows.

mod logistic;
mod row;

use super::features::NC;
use super::scorer::Model;
pub use logistic::{best_threshold, fit_weights};
pub use row::Row;

/// The fixed settings of the procedure (chosen before looking at results).
#[derive(Clone, Debug)]
pub struct Procedure {
    pub l2: f64,
    pub inner_folds: usize,
    pub min_gain: f64,
    /// Skip the selection and fit these features (the ablation table).
    pub fixed: Option<Vec<usize>>,
}

impl Default for Procedure {
    fn default() -> Self {
        Procedure {
            l2: 0.01,
            inner_folds: 5,
            min_gain: 0.001,
            fixed: None,
        }
    }
}

/// A fitted model and how its features were chosen.
#[derive(Clone, Debug)]
pub struct Fitted {
    pub model: Model,
    /// Features dropped by the selection, in order, with the change of the
    /// inner-CV log-loss (mean over the data sets) their removal caused.
    pub dropped: Vec<(usize, f64)>,
}

/// Runs the whole procedure on `rows`.
pub fn fit(rows: &[Row], p: &Procedure) -> Fitted {
    if let Some(fixed) = &p.fixed {
        return Fitted {
            model: final_model(rows, fixed, p.l2),
            dropped: Vec::new(),
        };
    }
    let datasets = datasets_of(rows);
    let mut active: Vec<usize> = (0..NC).collect();
    let mut dropped = Vec::new();
    loop {
        active = nonnegative(rows, &active, p.l2).0;
        let current = inner_loss(rows, &active, p, &datasets);
        // the feature whose removal lowers the held-out log-loss (mean over the
        // data sets) the most, if by more than `min_gain`
        let mut worst: Option<(usize, f64)> = None;
        for &j in &active {
            let rest: Vec<usize> = active.iter().copied().filter(|k| *k != j).collect();
            let loss = inner_loss(rows, &rest, p, &datasets);
            let rise = loss.iter().zip(&current).map(|(a, b)| a - b).sum::<f64>()
                / loss.len().max(1) as f64;
            if rise < -p.min_gain && worst.is_none_or(|w| rise < w.1) {
                worst = Some((j, rise));
            }
        }
        let Some((j, most)) = worst else { break };
        active.retain(|k| *k != j);
        dropped.push((j, most));
    }
    Fitted {
        model: final_model(rows, &active, p.l2),
        dropped,
    }
}

/// Fits the features of `active`, leaving out (one at a time, most negative
/// first) those whose weight comes out negative; returns the features kept and
/// their weights and intercept.
fn nonnegative(rows: &[Row], active: &[usize], l2: f64) -> (Vec<usize>, Vec<f64>, f64) {
    let mut act = active.to_vec();
    loop {
        let (w, b) = fit_weights(rows, &act, l2);
        let most_negative = w
            .iter()
            .enumerate()
            .filter(|(_, v)| **v <= 0.0)
            .min_by(|a, b| a.1.total_cmp(b.1))
            .map(|(k, _)| k);
        match most_negative {
            Some(k) => {
                act.remove(k);
            }
            None => return (act, w, b),
        }
    }
}

/// Weights on the chosen features plus the balanced-accuracy threshold.
fn final_model(rows: &[Row], active: &[usize], l2: f64) -> Model {
    let (active, w, bias) = nonnegative(rows, active, l2);
    let mut weights = [0.0; NC];
    for (&j, v) in active.iter().zip(&w) {
        weights[j] = *v;
    }
    let mut m = Model {
        weights,
        bias,
        threshold: 0.5,
    };
    let scores: Vec<f64> = rows.iter().map(|r| m.support(&r.x)).collect();
    m.threshold = best_threshold(&scores, rows);
    m
}

/// The one-signal baseline fitted on `rows`: the threshold on
/// `1 - worst_claim_gap` (the least covered claim's coverage) maximising
/// balanced accuracy.
pub fn fit_baseline(rows: &[Row]) -> f64 {
    let scores: Vec<f64> = rows.iter().map(baseline_score).collect();
    best_threshold(&scores, rows)
}

/// The baseline's score of a row: the least covered claim's coverage.
pub fn baseline_score(r: &Row) -> f64 {
    1.0 - r.x[super::features::WORST_GAP]
}

fn datasets_of(rows: &[Row]) -> Vec<u8> {
    let mut d: Vec<u8> = rows.iter().map(|r| r.dataset).collect();
    d.sort_unstable();
    d.dedup();
    d
}

/// Inner cross-validated log-loss per data set (in `datasets` order).
fn inner_loss(rows: &[Row], active: &[usize], p: &Procedure, datasets: &[u8]) -> Vec<f64> {
    let k = p.inner_folds.max(2) as u64;
    let mut sum = vec![0.0; datasets.len()];
    let mut wsum = vec![0.0; datasets.len()];
    for fold in 0..k {
        let train: Vec<Row> = rows
            .iter()
            .filter(|r| mix(r.group) % k != fold)
            .copied()
            .collect();
        let (act, w, b) = nonnegative(&train, active, p.l2);
        for r in rows.iter().filter(|r| mix(r.group) % k == fold) {
            let z = b + act.iter().zip(&w).map(|(&j, v)| v * r.x[j]).sum::<f64>();
            let d = datasets.iter().position(|d| *d == r.dataset).unwrap_or(0);
            sum[d] += r.weight * logistic::log_loss(z, r.hallucinated);
            wsum[d] += r.weight;
        }
    }
    sum.iter()
        .zip(&wsum)
        .map(|(s, w)| if *w > 0.0 { s / w } else { 0.0 })
        .collect()
}

/// Spreads group ids over the inner folds (ids are often consecutive and
/// correlated with the outer folds' `id mod k`).
fn mix(g: u64) -> u64 {
    let mut z = g.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests;
