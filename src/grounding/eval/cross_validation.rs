//! Cross-validation by source: the weights and threshold scoring a sample are
//! fitted on the other folds' sources only, so no source is seen in training
//! and in testing.

use super::datasets::Sample;
use crate::grounding::scorer::{fit, FitOptions, Model};
use crate::grounding::signals::NF;

/// Number of cross-validation folds (by source).
pub const FOLDS: usize = 5;

/// Cross-validation by source: fold = source index mod `folds`.
/// Returns out-of-fold scores and predictions, and the fold models.
pub fn cross_validate(
    samples: &[Sample],
    xs: &[[f64; NF]],
    folds: usize,
    opt: &FitOptions,
) -> (Vec<f64>, Vec<bool>, Vec<Model>) {
    let ys: Vec<bool> = samples.iter().map(|s| s.hallucinated).collect();
    let mut scores = vec![1.0; samples.len()];
    let mut pred = vec![false; samples.len()];
    let mut models = Vec::new();
    for k in 0..folds {
        let train: Vec<usize> = (0..samples.len())
            .filter(|&i| samples[i].source_id % folds != k)
            .collect();
        let tx: Vec<[f64; NF]> = train.iter().map(|&i| xs[i]).collect();
        let ty: Vec<bool> = train.iter().map(|&i| ys[i]).collect();
        let m = fit(&tx, &ty, opt);
        for i in (0..samples.len()).filter(|&i| samples[i].source_id % folds == k) {
            let s = (-m.lambda(&xs[i])).exp();
            scores[i] = s;
            pred[i] = s < m.threshold;
        }
        models.push(m);
    }
    (scores, pred, models)
}
