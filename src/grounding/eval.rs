//! Evaluation of the grounding scorer (`promptgate eval grounding`).
//!
//! Every figure of the model is out of sample and sits beside the one-signal
//! baseline (the least covered claim's content-word coverage, its threshold fitted
//! on the same training rows):
//!
//! * cross-validation by source on FaithBench dev and on HaluEval QA (a HaluEval
//!   line's two answers share a source), trained on the same data set's other
//!   folds, and trained on the other folds of both data sets (how the shipped
//!   weights are fitted);
//! * cross-dataset: fitted on all of one data set, tested on all of the other
//!   (and on an optional extra set, see [`datasets::load_extra`]);
//! * the reliability and operating-point tables of the pooled cross-validation;
//! * the shipped weights in-sample, the scoring time, and FaithBench's stored
//!   detectors on the same samples.
//!
//! The fitting procedure is [`super::fit`]; the data are read from the folders
//! given, nothing is copied into the repo.

mod cross_validation;
mod datasets;
mod metrics;
mod report;
mod splits;
mod tables;

use std::path::{Path, PathBuf};
use std::time::Instant;

pub use cross_validation::{balance, cross_dataset, cross_validate, OutOfSample, FOLDS};
pub use datasets::{load_extra, load_faithbench, load_halueval, Dataset, Sample};
pub use metrics::{auroc, Metrics};
pub use report::{EvalReport, Split, ABLATION_COLUMNS};
pub use tables::{operating_points, reliability, Bucket, OperatingPoint};

use super::features::{CANDIDATES as FEATURES, WORST_GAP};
use super::fit::{fit, Fitted, Procedure, Row, KEEP_LIFT, UNIT_WEIGHTS};
use super::scoring::Scorer;
use datasets::DETECTORS;

/// Where the data sets are.
#[derive(Clone, Debug)]
pub struct Inputs {
    pub faithbench: PathBuf,
    pub halueval: PathBuf,
    /// Further test-only sets (JSONL of `context`/`answer`/`label`), each
    /// reported on its own under its file stem (`extra:NAME`).
    pub extra: Vec<PathBuf>,
}

impl Inputs {
    /// The two data sets under one folder (`faithbench-dev/`, `halueval-qa/`).
    pub fn under(root: &Path) -> Inputs {
        Inputs {
            faithbench: root.join("faithbench-dev"),
            halueval: root.join("halueval-qa"),
            extra: Vec::new(),
        }
    }
}

/// Data set indices of [`Row::dataset`].
pub const FAITHBENCH: u8 = Dataset::FaithBench as u8;
pub const HALUEVAL: u8 = Dataset::HaluEval as u8;
pub const EXTRA: u8 = Dataset::Extra as u8;

/// Fitting rows of `samples`: features from the scorer's signals, one group per source.
pub fn rows(samples: &[Sample], dataset: u8) -> Vec<Row> {
    let scorer = Scorer::new();
    let mut out: Vec<Row> = samples
        .iter()
        .map(|s| Row {
            x: scorer.answer_features(&[s.context.as_str()], &s.answer),
            hallucinated: s.hallucinated,
            weight: 1.0,
            group: (u64::from(dataset) << 32) | s.source_id as u64,
            dataset,
        })
        .collect();
    balance(&mut out);
    out
}

/// The training rows of the shipped weights: FaithBench dev and HaluEval QA.
fn shipped_rows(inputs: &Inputs) -> Result<Vec<Row>, String> {
    let mut all = rows(&load_faithbench(&inputs.faithbench)?, FAITHBENCH);
    all.extend(rows(&load_halueval(&inputs.halueval)?, HALUEVAL));
    Ok(all)
}

/// Fits the shipped weights with the cross-validated procedure on all rows of
/// both data sets; returns the fit and the `weights.json` text
/// (`scripts/fit_grounding.sh`).
pub fn fit_builtin(inputs: &Inputs) -> Result<(Fitted, String), String> {
    let mut all = shipped_rows(inputs)?;
    balance(&mut all);
    let fitted = fit(&all, &Procedure::UnitWeights);
    let n = |d: u8| all.iter().filter(|r| r.dataset == d).count();
    let unit: serde_json::Map<String, serde_json::Value> = FEATURES
        .iter()
        .zip(UNIT_WEIGHTS)
        .filter(|(_, w)| *w > 0.0)
        .map(|(k, w)| ((*k).to_string(), w.into()))
        .collect();
    let prov = serde_json::json!({
        "data": format!(
            "faithbench-dev ({} summaries) and halueval-qa ({} answers), each data set weighted equally",
            n(FAITHBENCH), n(HALUEVAL)
        ),
        "procedure": "unit-weight risk (fixed weights below, no selection); Platt calibration (one-feature logistic of the label on the risk, slope > 0: weights = slope * unit weights, bias = intercept); threshold = the calibrated score at the middle of the cuts on u = 1 - risk keeping 95% of the best balanced-accuracy lift over 0.5 on the worst data set",
        "unit_weights": unit,
        "keep_lift": KEEP_LIFT,
        "u_cut": fitted.unit_cut.map(|c| (c * 1e6).round() / 1e6),
    });
    let json = fitted.model.to_json(prov);
    Ok((fitted, json))
}

/// Runs the whole evaluation.
pub fn run(inputs: &Inputs) -> Result<EvalReport, String> {
    let fb = load_faithbench(&inputs.faithbench)?;
    let qa = load_halueval(&inputs.halueval)?;
    if fb.is_empty() || qa.is_empty() {
        return Err("no samples".into());
    }
    let mut all = rows(&fb, FAITHBENCH);
    all.extend(rows(&qa, HALUEVAL));
    let mut extra = Vec::with_capacity(inputs.extra.len());
    for path in &inputs.extra {
        extra.push((path.clone(), rows(&load_extra(path)?, EXTRA)));
    }
    let p = Procedure::UnitWeights;
    let mut splits: Vec<Split> = splits::SHARED
        .into_iter()
        .map(|split| splits::run(&all, split, &p, None))
        .collect();
    for (path, extra_rows) in &extra {
        // one extra set at a time: the fits never see any of them
        let mut with = all.clone();
        with.extend(extra_rows.iter().copied());
        let name = extra_name(path);
        splits.extend(
            splits::EXTRA
                .into_iter()
                .map(|split| splits::run(&with, split, &p, Some(&name))),
        );
    }

    let ablation = ablation(&all);

    // the shipped weights in-sample, with timing of the full report
    let scorer = Scorer::new();
    let mut in_sample = Vec::new();
    let mut times = Vec::new();
    for (dataset, samples) in [(Dataset::FaithBench, &fb), (Dataset::HaluEval, &qa)] {
        let ys: Vec<bool> = samples.iter().map(|s| s.hallucinated).collect();
        let mut risk = Vec::with_capacity(samples.len());
        let mut pred = Vec::with_capacity(samples.len());
        for s in samples.iter() {
            let t0 = Instant::now();
            let r = scorer.score(&[s.context.as_str()], &s.answer);
            times.push(t0.elapsed().as_secs_f64() * 1e6);
            risk.push(1.0 - r.score);
            pred.push(r.flagged);
        }
        in_sample.push((dataset, Metrics::compute(&ys, &pred, &risk)));
    }
    times.sort_by(f64::total_cmp);
    let pct = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];

    let mut src: Vec<usize> = fb.iter().map(|s| s.source_id).collect();
    src.sort_unstable();
    src.dedup();
    Ok(EvalReport {
        faithbench: (inputs.faithbench.clone(), fb.len(), count_h(&fb), src.len()),
        halueval: (inputs.halueval.clone(), qa.len(), count_h(&qa)),
        extra: extra
            .into_iter()
            .map(|(p, r)| {
                let h = r.iter().filter(|x| x.hallucinated).count();
                (p, r.len(), h)
            })
            .collect(),
        splits,
        ablation,
        in_sample,
        shipped: scorer.model().clone(),
        detectors: detectors(&fb),
        p50_us: pct(0.5),
        p99_us: pct(0.99),
    })
}

/// L2 penalty (on standardised weights) of the per-signal evidence fits.
const ABLATION_L2: f64 = 0.01;

/// Per-signal evidence: AUROC of the baseline's feature alone and with each other
/// candidate added (fixed features, weights fitted per split), within each data
/// set (CV by source) and across them. Columns: [`ABLATION_COLUMNS`].
fn ablation(all: &[Row]) -> Vec<(String, [f64; 4])> {
    let mut out = Vec::new();
    let base = vec![WORST_GAP];
    let sets = std::iter::once(base.clone()).chain(
        (0..FEATURES.len())
            .filter(|j| *j != WORST_GAP)
            .map(|j| vec![WORST_GAP, j]),
    );
    for set in sets {
        let q = Procedure::Logistic {
            features: set.clone(),
            l2: ABLATION_L2,
        };
        let auc = |name: &str, test, oos| Split::new(name, test, oos).model.auroc;
        let cols = [
            auc(
                "",
                Dataset::FaithBench,
                cross_validate(all, FAITHBENCH, |r| r.dataset == FAITHBENCH, &q),
            ),
            auc(
                "",
                Dataset::HaluEval,
                cross_validate(all, HALUEVAL, |r| r.dataset == HALUEVAL, &q),
            ),
            auc(
                "",
                Dataset::HaluEval,
                cross_dataset(all, |r| r.dataset == FAITHBENCH, HALUEVAL, &q),
            ),
            auc(
                "",
                Dataset::FaithBench,
                cross_dataset(all, |r| r.dataset == HALUEVAL, FAITHBENCH, &q),
            ),
        ];
        let name: Vec<&str> = set.iter().map(|j| FEATURES[*j]).collect();
        out.push((name.join(" + "), cols));
    }
    out
}

/// The name an extra set's rows print under: its file stem.
fn extra_name(path: &Path) -> String {
    path.file_stem().map_or_else(
        || path.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    )
}

fn count_h(samples: &[Sample]) -> usize {
    samples.iter().filter(|s| s.hallucinated).count()
}

/// FaithBench's stored detectors on the same samples (those present on every sample).
fn detectors(samples: &[Sample]) -> Vec<(String, Metrics)> {
    let mut out = Vec::new();
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
            out.push((key.to_string(), Metrics::compute(&y, &p, &k)));
        }
    }
    out
}

#[cfg(test)]
mod tests;
