//! Fitting the calibrated model: the one procedure used by the cross-validation,
//! the cross-dataset checks and the shipped `weights.json` alike.
//!
//! The shipped procedure fits almost nothing, because with a few hundred answers
//! per data set every fitted weight is a chance to fit one set at another's
//! expense (the earlier L2 logistic model with feature selection lost to the
//! one-signal baseline on FaithBench and across data sets):
//!
//! 1. **Unit-weight score** (fixed, not fitted):
//!    `u = 1 − mean(worst_claim_gap, answer_gap) − numbers − names −
//!    negation_added − ½·pair_rate − ½·worst_scatter`. The gaps and the rates are
//!    shares (0–1); numbers, names and added negations are counts capped at 2, so
//!    one unsupported figure or name costs as much as a claim with nothing found.
//!    `negation_dropped` helps on no data set and is left out.
//! 2. **Calibration** (2 fitted numbers): a one-feature logistic (Platt) fit of the
//!    label on the risk `1 − u`, rows weighted so that each data set counts the same,
//!    classes not reweighted, so the output is a probability of support. The slope
//!    is kept positive, so the calibrated score ranks answers exactly as `u` does.
//! 3. **Threshold** (1 fitted number): the middle of the cuts on `u` that keep 95 %
//!    of the best balanced-accuracy lift over chance, balanced accuracy taken on the
//!    training data set it is worst on ([`lift_threshold`]); stored as the
//!    calibrated score at that cut.
//!
//! The calibrated model is the same `Model` form as any logistic model
//! (`weights = slope · unit weights`, `bias = intercept`), so the scorer and the
//! `weights.json` format do not depend on how it was fitted.

mod logistic;
mod row;
mod threshold;

use super::features::{
    ANSWER_GAP, NAMES, NC, NEG_ADDED, NUMBERS, PAIR_RATE, WORST_GAP, WORST_SCATTER,
};
use super::scorer::{sigmoid, Model};
pub use logistic::fit_weights;
pub use row::Row;
pub use threshold::{best_threshold, lift_threshold};

/// The unit weights of the risk `1 − u`, in feature order.
pub const UNIT_WEIGHTS: [f64; NC] = {
    let mut w = [0.0; NC];
    w[WORST_GAP] = 0.5;
    w[ANSWER_GAP] = 0.5;
    w[NUMBERS] = 1.0;
    w[NAMES] = 1.0;
    w[NEG_ADDED] = 1.0;
    w[PAIR_RATE] = 0.5;
    w[WORST_SCATTER] = 0.5;
    w
};

/// Share of the best balanced-accuracy lift over 0.5 a cut must keep to count
/// towards the threshold. The single best cut sits on an edge of a noisy plateau
/// and does not carry to new data; the middle of the near-best cuts does better.
pub const KEEP_LIFT: f64 = 0.95;

/// Penalty on the (standardised) Platt slope: negligible shrinkage, but it keeps
/// the fit finite if a training split is separable by `u`.
const PLATT_L2: f64 = 1e-3;

/// Slope used if the Platt fit finds none (u uninformative on the training rows):
/// small enough to leave the probability at the base rate, positive so the score
/// still ranks by `u`.
const MIN_SLOPE: f64 = 1e-6;

/// Which procedure a fit runs.
#[derive(Clone, Debug, Default)]
pub enum Procedure {
    /// The shipped procedure (the module's doc).
    #[default]
    UnitWeights,
    /// L2 logistic regression with weights `>= 0` on fixed features (the
    /// per-signal evidence table only); threshold as the baseline's.
    Logistic { features: Vec<usize>, l2: f64 },
}

/// A fitted model.
#[derive(Clone, Debug)]
pub struct Fitted {
    pub model: Model,
    /// The cut on the unit score `u` the threshold comes from (unit weights only).
    pub unit_cut: Option<f64>,
}

/// Runs the procedure on `rows`.
pub fn fit(rows: &[Row], p: &Procedure) -> Fitted {
    match p {
        Procedure::UnitWeights => fit_unit(rows),
        Procedure::Logistic { features, l2 } => Fitted {
            model: fit_logistic(rows, features, *l2),
            unit_cut: None,
        },
    }
}

/// The unit-weight risk `1 − u` of features `x`.
pub fn unit_risk(x: &[f64; NC]) -> f64 {
    UNIT_WEIGHTS.iter().zip(x).map(|(w, v)| w * v).sum()
}

fn fit_unit(rows: &[Row]) -> Fitted {
    let risk: Vec<f64> = rows.iter().map(|r| unit_risk(&r.x)).collect();
    // Platt: P(hallucinated) = σ(b + a·risk), as a one-feature logistic fit
    let one: Vec<Row> = rows
        .iter()
        .zip(&risk)
        .map(|(r, v)| {
            let mut x = [0.0; NC];
            x[0] = *v;
            Row { x, ..*r }
        })
        .collect();
    let (w, b) = fit_weights(&one, &[0], PLATT_L2);
    let (slope, bias) = if w[0] > 0.0 {
        (w[0], b)
    } else {
        (MIN_SLOPE, fit_weights(rows, &[], 0.0).1)
    };
    // the cut on u; flagged = u < cut, i.e. risk > 1 − cut, i.e. the calibrated
    // score below its value at the cut (the calibration is monotone)
    let u: Vec<f64> = risk.iter().map(|r| 1.0 - r).collect();
    let cut = lift_threshold(&u, rows, KEEP_LIFT);
    let threshold = sigmoid(-(bias + slope * (1.0 - cut))).clamp(1e-6, 1.0 - 1e-6);
    Fitted {
        model: Model {
            weights: UNIT_WEIGHTS.map(|v| slope * v),
            bias,
            threshold,
        },
        unit_cut: Some(cut),
    }
}

/// Logistic weights on `features`, leaving out (one at a time, most negative
/// first) those whose weight comes out negative, plus the best-cut threshold.
fn fit_logistic(rows: &[Row], features: &[usize], l2: f64) -> Model {
    let mut act = features.to_vec();
    let (w, bias) = loop {
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
            None => break (w, b),
        }
    };
    let mut weights = [0.0; NC];
    for (&j, v) in act.iter().zip(&w) {
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
    1.0 - r.x[WORST_GAP]
}

#[cfg(test)]
mod tests;
