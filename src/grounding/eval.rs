//! Evaluation of the grounding scorer (`promptgate eval grounding`).
//!
//! * `faithbench`: FaithBench dev batches (`batch_*.json`). A sample is hallucinated
//!   when any annotation carries an `Unwanted*` label. Our scorer is evaluated with
//!   5-fold cross-validation **by source** (weights and threshold fitted on the other
//!   folds' sources), and shown next to the detectors whose predictions FaithBench
//!   stores in `metadata` (HHEM: score < 0.5 = hallucinated; 0/1 judges: 0 =
//!   hallucinated). The built-in weights are also shown (in-sample, for reference).
//! * `halueval`: HaluEval QA (`qa_500.jsonl`): `right_answer` consistent,
//!   `hallucinated_answer` hallucinated; the answer alone is scored against
//!   `knowledge` with the built-in weights (fitted on FaithBench only).
//!
//! The data are read from the directory given; nothing is copied into the repo.
//!
//! Files: [`datasets`] (loading), [`metrics`], [`cross_validation`], [`report`]
//! (the printed table); this file runs them.

mod cross_validation;
mod datasets;
mod metrics;
mod report;

use std::path::Path;
use std::time::Instant;

pub use cross_validation::{cross_validate, FOLDS};
pub use datasets::{load_faithbench, load_halueval, Dataset, Sample};
pub use metrics::{auroc, Metrics};
pub use report::EvalReport;

use super::scorer::{fit, FitOptions, Model};
use super::scoring::Scorer;
use super::signals::NF;
use datasets::DETECTORS;

/// Per-answer signal sums for all samples.
pub fn signals(samples: &[Sample]) -> Vec<[f64; NF]> {
    let scorer = Scorer::new();
    samples
        .iter()
        .map(|s| scorer.answer_signals(&[s.context.as_str()], &s.answer))
        .collect()
}

/// Fits the shipped weights on all FaithBench dev samples; returns the model and
/// the `weights.json` text (used by `scripts/fit_grounding.sh`).
pub fn fit_builtin(faithbench: &Path) -> Result<(Model, String), String> {
    let samples = load_faithbench(faithbench)?;
    let xs = signals(&samples);
    let ys: Vec<bool> = samples.iter().map(|s| s.hallucinated).collect();
    let opt = FitOptions::default();
    let m = fit(&xs, &ys, &opt);
    let prov = serde_json::json!({
        "data": "faithbench-dev (batches 1-8): 400 summaries, 40 sources",
        "objective": "class-balanced noisy-OR log-likelihood, weights >= 0",
        "l2": opt.l2,
        "iterations": opt.iters,
        "threshold": "class-balanced decision point exp(bias)/2",
        "fitted": ["novel_words", "cross_sentence_pairs", "scatter"],
        "fixed": "numbers, entities, negation_added, negation_dropped: prior weights (one alone flags)",
    });
    let json = m.to_json(prov);
    Ok((m, json))
}

/// Runs the evaluation of `dataset` read from `path`.
pub fn run(dataset: Dataset, path: &Path) -> Result<EvalReport, String> {
    let samples = match dataset {
        Dataset::FaithBench => load_faithbench(path)?,
        Dataset::HaluEval => load_halueval(path)?,
    };
    if samples.is_empty() {
        return Err("no samples".into());
    }
    let ys: Vec<bool> = samples.iter().map(|s| s.hallucinated).collect();
    let scorer = Scorer::new();

    // built-in weights, with timing of the full report
    let mut times = Vec::with_capacity(samples.len());
    let mut risk = Vec::with_capacity(samples.len());
    let mut pred = Vec::with_capacity(samples.len());
    for s in &samples {
        let t0 = Instant::now();
        let r = scorer.score(&[s.context.as_str()], &s.answer);
        times.push(t0.elapsed().as_secs_f64() * 1e6);
        risk.push(1.0 - r.score);
        pred.push(r.flagged);
    }
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    let builtin = Metrics::compute(&ys, &pred, &risk);

    let (cross_validated, fold_models) = if dataset == Dataset::FaithBench {
        let xs = signals(&samples);
        let (scores, cv_pred, models) =
            cross_validate(&samples, &xs, FOLDS, &FitOptions::default());
        let cv_risk: Vec<f64> = scores.iter().map(|s| 1.0 - s).collect();
        (Some(Metrics::compute(&ys, &cv_pred, &cv_risk)), models)
    } else {
        (None, Vec::new())
    };

    let mut detectors = Vec::new();
    for &(key, _) in DETECTORS {
        let rows: Vec<(bool, bool, f64)> = samples
            .iter()
            .filter_map(|s| {
                s.detectors
                    .iter()
                    .find(|d| d.0 == key)
                    .map(|d| (s.hallucinated, d.1, d.2))
            })
            .collect();
        if rows.len() == samples.len() {
            let y: Vec<bool> = rows.iter().map(|r| r.0).collect();
            let p: Vec<bool> = rows.iter().map(|r| r.1).collect();
            let k: Vec<f64> = rows.iter().map(|r| r.2).collect();
            detectors.push((key.to_string(), Metrics::compute(&y, &p, &k)));
        }
    }
    let mut src: Vec<usize> = samples.iter().map(|s| s.source_id).collect();
    src.sort_unstable();
    src.dedup();
    Ok(EvalReport {
        dataset,
        path: path.to_path_buf(),
        n: samples.len(),
        n_hallucinated: ys.iter().filter(|y| **y).count(),
        n_sources: src.len(),
        cross_validated,
        builtin,
        builtin_threshold: scorer.threshold(),
        detectors,
        p50_us: pct(0.5),
        p99_us: pct(0.99),
        fold_models,
    })
}

#[cfg(test)]
mod tests;
