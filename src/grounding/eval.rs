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

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use serde::Deserialize;

use super::scorer::{fit, FitOptions, Model};
use super::signals::{FEATURES, NF};
use super::Scorer;

/// Number of cross-validation folds (by source).
pub const FOLDS: usize = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dataset {
    FaithBench,
    HaluEval,
}

impl FromStr for Dataset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "faithbench" | "faithbenchdev" => Ok(Dataset::FaithBench),
            "halueval" | "haluevalqa" => Ok(Dataset::HaluEval),
            _ => Err(format!(
                "unknown dataset {s:?} (expected faithbench or halueval)"
            )),
        }
    }
}

impl fmt::Display for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dataset::FaithBench => "faithbench",
            Dataset::HaluEval => "halueval",
        })
    }
}

/// One scored item.
#[derive(Clone, Debug)]
pub struct Sample {
    pub source_id: usize,
    pub context: String,
    pub answer: String,
    pub hallucinated: bool,
    /// Other detectors: (name, predicted hallucinated, hallucination score for AUROC).
    pub detectors: Vec<(String, bool, f64)>,
}

/// Binary-classification metrics, hallucinated = positive class.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    pub n: usize,
    pub balanced_accuracy: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub auroc: f64,
}

impl Metrics {
    /// `pred[i]`: predicted hallucinated; `risk[i]`: higher = more likely hallucinated.
    pub fn compute(ys: &[bool], pred: &[bool], risk: &[f64]) -> Metrics {
        let (mut tp, mut fp, mut tn, mut fnn) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
        for (&y, &p) in ys.iter().zip(pred) {
            match (y, p) {
                (true, true) => tp += 1.0,
                (false, true) => fp += 1.0,
                (false, false) => tn += 1.0,
                (true, false) => fnn += 1.0,
            }
        }
        let div = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        let recall = div(tp, tp + fnn);
        let precision = div(tp, tp + fp);
        Metrics {
            n: ys.len(),
            balanced_accuracy: 0.5 * (recall + div(tn, tn + fp)),
            precision,
            recall,
            f1: div(2.0 * precision * recall, precision + recall),
            auroc: auroc(ys, risk),
        }
    }
}

/// Area under the ROC curve (Mann–Whitney, ties count one half).
pub fn auroc(ys: &[bool], risk: &[f64]) -> f64 {
    let mut v: Vec<(f64, bool)> = risk.iter().copied().zip(ys.iter().copied()).collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let npos = ys.iter().filter(|y| **y).count() as f64;
    let nneg = ys.len() as f64 - npos;
    if npos == 0.0 || nneg == 0.0 {
        return 0.5;
    }
    let mut rank_sum = 0.0;
    let mut i = 0usize;
    while i < v.len() {
        let mut j = i;
        while j < v.len() && v[j].0 == v[i].0 {
            j += 1;
        }
        let avg_rank = (i + j + 1) as f64 / 2.0; // ranks are 1-based
        for x in &v[i..j] {
            if x.1 {
                rank_sum += avg_rank;
            }
        }
        i = j;
    }
    (rank_sum - npos * (npos + 1.0) / 2.0) / (npos * nneg)
}

/// The evaluation result; `Display` prints a table.
#[derive(Clone, Debug)]
pub struct EvalReport {
    pub dataset: Dataset,
    pub path: PathBuf,
    pub n: usize,
    pub n_hallucinated: usize,
    pub n_sources: usize,
    /// Our scorer, cross-validated by source (FaithBench only).
    pub cross_validated: Option<Metrics>,
    /// Our scorer with the built-in weights and threshold.
    pub builtin: Metrics,
    pub builtin_threshold: f64,
    /// Other detectors stored with the data.
    pub detectors: Vec<(String, Metrics)>,
    /// Scoring time per answer (full report), microseconds.
    pub p50_us: f64,
    pub p99_us: f64,
    /// Per-fold fitted weights (FaithBench CV), for inspection.
    pub fold_models: Vec<Model>,
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "grounding eval: {} ({}): {} answers, {} hallucinated, {} sources",
            self.dataset,
            self.path.display(),
            self.n,
            self.n_hallucinated,
            self.n_sources
        )?;
        writeln!(
            f,
            "{:<44} {:>7} {:>7} {:>7} {:>7} {:>7}",
            "detector", "BalAcc", "Prec", "Recall", "F1", "AUROC"
        )?;
        let row = |f: &mut fmt::Formatter<'_>, name: &str, m: &Metrics| {
            writeln!(
                f,
                "{:<44} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>7.3}",
                name, m.balanced_accuracy, m.precision, m.recall, m.f1, m.auroc
            )
        };
        if let Some(cv) = &self.cross_validated {
            row(
                f,
                &format!("promptgate fast ({FOLDS}-fold CV by source)"),
                cv,
            )?;
            row(
                f,
                &format!(
                    "promptgate fast (built-in, t={:.3}, in-sample)",
                    self.builtin_threshold
                ),
                &self.builtin,
            )?;
        } else {
            row(
                f,
                &format!(
                    "promptgate fast (built-in, t={:.3})",
                    self.builtin_threshold
                ),
                &self.builtin,
            )?;
        }
        for (name, m) in &self.detectors {
            row(f, name, m)?;
        }
        writeln!(
            f,
            "promptgate scoring time per answer: p50 {:.1} us, p99 {:.1} us ({} build)",
            self.p50_us,
            self.p99_us,
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
        )?;
        if !self.fold_models.is_empty() {
            writeln!(f, "fold weights ({}; threshold):", FEATURES.join(", "))?;
            for (k, m) in self.fold_models.iter().enumerate() {
                let w: Vec<String> = m.weights.iter().map(|w| format!("{w:.3}")).collect();
                writeln!(f, "  fold {k}: [{}]; t={:.3}", w.join(", "), m.threshold)?;
            }
        }
        Ok(())
    }
}

// ------------------------------------------------------------------ loading

#[derive(Deserialize)]
struct FbFile {
    samples: Vec<FbSample>,
}

#[derive(Deserialize)]
struct FbSample {
    source: String,
    summary: String,
    #[serde(default)]
    annotations: Vec<FbAnnotation>,
    #[serde(default)]
    metadata: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct FbAnnotation {
    #[serde(default)]
    label: Vec<String>,
}

#[derive(Deserialize)]
struct QaLine {
    knowledge: String,
    right_answer: String,
    hallucinated_answer: String,
}

/// Detectors stored in FaithBench's metadata: (key, is a probability score).
const DETECTORS: &[(&str, bool)] = &[
    ("hhem-2.1", true),
    ("hhem-2.1-english", true),
    ("hhemv1", true),
    ("gpt_4o", false),
    ("gpt-4-turbo", false),
    ("gpt-3.5-turbo", false),
    ("trueteacher", false),
    ("true_nli", false),
];

fn faithbench_dir(path: &Path) -> PathBuf {
    let sub = path.join("faithbench-dev");
    if !has_batches(path) && sub.is_dir() {
        sub
    } else {
        path.to_path_buf()
    }
}

fn has_batches(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|rd| rd.flatten().any(|e| is_batch(&e.path())))
        .unwrap_or(false)
}

fn is_batch(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("batch_") && n.ends_with(".json"))
}

/// Loads FaithBench samples (sorted by file name, then file order).
pub fn load_faithbench(path: &Path) -> Result<Vec<Sample>, String> {
    let dir = faithbench_dir(path);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| is_batch(p))
        .collect();
    files.sort_by_key(|p| {
        let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        (
            stem.trim_start_matches("batch_")
                .parse::<u32>()
                .unwrap_or(u32::MAX),
            p.clone(),
        )
    });
    if files.is_empty() {
        return Err(format!("{}: no batch_*.json files", dir.display()));
    }
    let mut sources: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for file in files {
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let fb: FbFile =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        for s in fb.samples {
            let hallucinated = s
                .annotations
                .iter()
                .any(|a| a.label.iter().any(|l| l.starts_with("Unwanted")));
            let source_id = match sources.iter().position(|x| *x == s.source) {
                Some(i) => i,
                None => {
                    sources.push(s.source.clone());
                    sources.len() - 1
                }
            };
            let mut detectors = Vec::new();
            for &(key, prob) in DETECTORS {
                if let Some(v) = s.metadata.get(key).and_then(serde_json::Value::as_f64) {
                    if prob {
                        detectors.push((key.to_string(), v < 0.5, 1.0 - v));
                    } else {
                        detectors.push((
                            key.to_string(),
                            v == 0.0,
                            if v == 0.0 { 1.0 } else { 0.0 },
                        ));
                    }
                }
            }
            out.push(Sample {
                source_id,
                context: s.source,
                answer: s.summary,
                hallucinated,
                detectors,
            });
        }
    }
    Ok(out)
}

/// Loads HaluEval QA: two answers per line.
pub fn load_halueval(path: &Path) -> Result<Vec<Sample>, String> {
    let file = if path.is_file() {
        path.to_path_buf()
    } else {
        let candidates = [
            path.join("qa_500.jsonl"),
            path.join("halueval-qa").join("qa_500.jsonl"),
        ];
        match candidates.iter().find(|p| p.is_file()) {
            Some(p) => p.clone(),
            None => {
                let dir = if path.join("halueval-qa").is_dir() {
                    path.join("halueval-qa")
                } else {
                    path.to_path_buf()
                };
                std::fs::read_dir(&dir)
                    .map_err(|e| format!("{}: {e}", dir.display()))?
                    .flatten()
                    .map(|e| e.path())
                    .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
                    .ok_or_else(|| format!("{}: no .jsonl file", dir.display()))?
            }
        }
    };
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let q: QaLine =
            serde_json::from_str(line).map_err(|e| format!("{}:{}: {e}", file.display(), i + 1))?;
        out.push(Sample {
            source_id: i,
            context: q.knowledge.clone(),
            answer: q.right_answer,
            hallucinated: false,
            detectors: vec![],
        });
        out.push(Sample {
            source_id: i,
            context: q.knowledge,
            answer: q.hallucinated_answer,
            hallucinated: true,
            detectors: vec![],
        });
    }
    Ok(out)
}

// ------------------------------------------------------------------ running

/// Per-answer signal sums for all samples.
pub fn signals(samples: &[Sample]) -> Vec<[f64; NF]> {
    let scorer = Scorer::new();
    samples
        .iter()
        .map(|s| scorer.answer_signals(&[s.context.as_str()], &s.answer))
        .collect()
}

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
mod tests {
    use super::*;

    fn datasets() -> Option<PathBuf> {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets");
        if p.is_dir() {
            Some(p)
        } else {
            eprintln!(
                "notice: {} not found; skipping the grounding eval test",
                p.display()
            );
            None
        }
    }

    #[test]
    fn metrics_definitions() {
        let ys = [true, true, false, false];
        let m = Metrics::compute(&ys, &[true, false, false, true], &[0.9, 0.2, 0.1, 0.8]);
        assert!((m.balanced_accuracy - 0.5).abs() < 1e-12);
        assert!((m.precision - 0.5).abs() < 1e-12);
        assert!((m.recall - 0.5).abs() < 1e-12);
        assert!((m.auroc - 0.75).abs() < 1e-12);
        assert!((auroc(&ys, &[0.5, 0.5, 0.5, 0.5]) - 0.5).abs() < 1e-12);
        assert_eq!("faithbench".parse::<Dataset>(), Ok(Dataset::FaithBench));
        assert_eq!("HaluEval-QA".parse::<Dataset>(), Ok(Dataset::HaluEval));
        assert!("x".parse::<Dataset>().is_err());
    }

    #[test]
    fn eval_meets_acceptance_thresholds() {
        let Some(root) = datasets() else { return };
        let fb = run(Dataset::FaithBench, &root.join("faithbench-dev"));
        let fb = match fb {
            Ok(r) => r,
            Err(e) => panic!("faithbench eval failed: {e}"),
        };
        println!("{fb}");
        let cv = fb.cross_validated.clone().unwrap_or_default();
        assert!(
            cv.balanced_accuracy >= 0.60,
            "cross-validated balanced accuracy {:.3} < 0.60",
            cv.balanced_accuracy
        );
        let qa = match run(Dataset::HaluEval, &root.join("halueval-qa")) {
            Ok(r) => r,
            Err(e) => panic!("halueval eval failed: {e}"),
        };
        println!("{qa}");
        assert!(
            qa.builtin.auroc >= 0.95,
            "HaluEval AUROC {:.3} < 0.95",
            qa.builtin.auroc
        );
    }

    /// Refits `weights.json`: `GROUNDING_WRITE_WEIGHTS=path cargo test ... refit_weights -- --ignored`
    /// (see `scripts/fit_grounding.sh`).
    #[test]
    #[ignore]
    fn refit_weights() {
        let Some(root) = datasets() else { return };
        let (m, json) = match fit_builtin(&root.join("faithbench-dev")) {
            Ok(x) => x,
            Err(e) => panic!("{e}"),
        };
        println!("{json}");
        println!("{m:?}");
        if let Ok(p) = std::env::var("GROUNDING_WRITE_WEIGHTS") {
            if let Err(e) = std::fs::write(&p, json + "\n") {
                panic!("writing {p}: {e}");
            }
        }
    }
}
