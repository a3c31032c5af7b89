//! The evaluation result and the tables it prints.

use std::fmt;
use std::path::PathBuf;

use super::cross_validation::{OutOfSample, FOLDS};
use super::datasets::Dataset;
use super::metrics::{auroc, Metrics};
use super::tables::{calibration_error, operating_points, reliability};
use crate::grounding::features::CANDIDATES;
use crate::grounding::scorer::Model;

/// Columns of the ablation table.
pub const ABLATION_COLUMNS: [&str; 4] = ["FB CV", "HE CV", "FB->HE", "HE->FB"];

/// One out-of-sample run: the model and the baseline on the same tested rows.
#[derive(Clone, Debug)]
pub struct Split {
    pub name: String,
    pub test: Dataset,
    /// `auroc` is the mean of the per-fold AUROCs (each fold is scored by one
    /// fitted model); the others are computed over all out-of-fold predictions.
    pub model: Metrics,
    pub baseline: Metrics,
    /// AUROC over all out-of-fold scores pooled (mixes the fold models'
    /// calibrations, so it is lower for a fitted score than for a raw one).
    pub model_auroc_pooled: f64,
    pub baseline_auroc_pooled: f64,
    pub oos: OutOfSample,
}

impl Split {
    pub fn new(name: &str, test: Dataset, oos: OutOfSample) -> Split {
        let risk = |s: &[f64]| s.iter().map(|v| 1.0 - v).collect::<Vec<f64>>();
        let mut model = Metrics::compute(&oos.ys, &oos.flags, &risk(&oos.scores));
        let mut baseline = Metrics::compute(&oos.ys, &oos.base_flags, &risk(&oos.base_scores));
        let (model_auroc_pooled, baseline_auroc_pooled) = (model.auroc, baseline.auroc);
        model.auroc = per_fold_auroc(&oos, &oos.scores);
        baseline.auroc = per_fold_auroc(&oos, &oos.base_scores);
        Split {
            name: name.to_string(),
            test,
            model,
            baseline,
            model_auroc_pooled,
            baseline_auroc_pooled,
            oos,
        }
    }

    /// Splits whose calibration and operating points are printed: the
    /// procedure as shipped (trained on both sets) and the cross-dataset ones
    /// (of an extra set only the fit on both, to keep the report readable).
    fn detailed(&self) -> bool {
        let both = self.name.contains("both");
        match self.test {
            Dataset::Extra => both,
            _ => both || self.name.starts_with("fit on"),
        }
    }
}

/// Mean over the folds of the AUROC of `scores` (`P(supported)`) within each fold.
fn per_fold_auroc(oos: &OutOfSample, scores: &[f64]) -> f64 {
    let folds = oos.fits.len().max(1);
    let mut sum = 0.0;
    for k in 0..folds {
        let (ys, risk): (Vec<bool>, Vec<f64>) = oos
            .fold
            .iter()
            .zip(oos.ys.iter().zip(scores))
            .filter(|(f, _)| **f == k)
            .map(|(_, (y, s))| (*y, 1.0 - s))
            .unzip();
        sum += auroc(&ys, &risk);
    }
    sum / folds as f64
}

/// The evaluation result; `Display` prints the tables.
#[derive(Clone, Debug)]
pub struct EvalReport {
    /// Folder, answers, hallucinated, sources.
    pub faithbench: (PathBuf, usize, usize, usize),
    /// Folder, answers, hallucinated.
    pub halueval: (PathBuf, usize, usize),
    /// Each extra set: file, answers, hallucinated.
    pub extra: Vec<(PathBuf, usize, usize)>,
    pub splits: Vec<Split>,
    /// Per-signal evidence (see `eval::ablation`): feature set, AUROCs.
    pub ablation: Vec<(String, [f64; 4])>,
    /// The shipped weights on each data set (in-sample: they were fitted on it).
    pub in_sample: Vec<(Dataset, Metrics)>,
    pub shipped: Model,
    /// FaithBench's stored detectors on the same samples.
    pub detectors: Vec<(String, Metrics)>,
    /// Scoring time per answer (full report), microseconds.
    pub p50_us: f64,
    pub p99_us: f64,
}

fn metric_row(f: &mut fmt::Formatter<'_>, name: &str, m: &Metrics) -> fmt::Result {
    writeln!(
        f,
        "{:<46} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>7.3}",
        name, m.balanced_accuracy, m.precision, m.recall, m.f1, m.auroc
    )
}

fn split_row(f: &mut fmt::Formatter<'_>, name: &str, m: &Metrics, pooled: f64) -> fmt::Result {
    writeln!(
        f,
        "{:<46} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>7.3}",
        name, m.balanced_accuracy, m.precision, m.recall, m.f1, m.auroc, pooled
    )
}

fn metric_header(f: &mut fmt::Formatter<'_>, first: &str) -> fmt::Result {
    writeln!(
        f,
        "{:<46} {:>7} {:>7} {:>7} {:>7} {:>7}",
        first, "BalAcc", "Prec", "Recall", "F1", "AUROC"
    )
}

/// `name=weight` of the features a model kept (weight above 0).
fn kept_weights(model: &Model, digits: usize) -> Vec<String> {
    CANDIDATES
        .iter()
        .zip(model.weights)
        .filter(|(_, w)| *w > 0.0)
        .map(|(n, w)| format!("{n}={w:.digits$}"))
        .collect()
}

fn fits(f: &mut fmt::Formatter<'_>, s: &Split) -> fmt::Result {
    for (k, (fit, bt)) in s.oos.fits.iter().zip(&s.oos.base_thresholds).enumerate() {
        let cut = fit
            .unit_cut
            .map_or_else(String::new, |c| format!("u cut={c:.3}; "));
        writeln!(
            f,
            "    fit {k}: {}; b={:.2}; {cut}t={:.3}; baseline t={:.3}",
            kept_weights(&fit.model, 2).join(", "),
            fit.model.bias,
            fit.model.threshold,
            bt,
        )?;
    }
    Ok(())
}

fn details(f: &mut fmt::Formatter<'_>, s: &Split) -> fmt::Result {
    let buckets = reliability(&s.oos.scores, &s.oos.ys);
    writeln!(
        f,
        "\nreliability, {} ({}): expected calibration error {:.3}",
        s.name,
        s.test,
        calibration_error(&buckets)
    )?;
    writeln!(
        f,
        "  score bucket     n  mean predicted  observed supported"
    )?;
    for b in &buckets {
        writeln!(
            f,
            "  [{:.1}, {:.1})  {:>5}  {:>14.3}  {:>18.3}",
            b.lo, b.hi, b.n, b.predicted, b.observed
        )?;
    }
    writeln!(f, "operating points, {} ({}):", s.name, s.test)?;
    writeln!(f, "  threshold  flagged   Prec  Recall     F1  BalAcc")?;
    for o in operating_points(&s.oos.scores, &s.oos.ys) {
        writeln!(
            f,
            "  {:>9.2}  {:>6.1}%  {:>5.3}  {:>6.3}  {:>5.3}  {:>6.3}",
            o.threshold,
            100.0 * o.flagged,
            o.metrics.precision,
            o.metrics.recall,
            o.metrics.f1,
            o.metrics.balanced_accuracy
        )?;
    }
    Ok(())
}

/// `(train, set)` of a split tested on an extra set (`fit on T, test on extra:S`).
fn extra_split(s: &Split) -> Option<(&str, &str)> {
    let rest = s.name.strip_prefix("fit on ")?;
    let (train, set) = rest.split_once(", test on extra")?;
    Some((train, set.trim_start_matches(':')))
}

/// One line per extra set: each fit's balanced accuracy (AUROC) beside the
/// baseline's, `>` where the model's balanced accuracy is higher; then the count.
fn extra_summary(f: &mut fmt::Formatter<'_>, splits: &[Split]) -> fmt::Result {
    let rows: Vec<(&str, &str, &Split)> = splits
        .iter()
        .filter_map(|s| extra_split(s).map(|(t, n)| (t, n, s)))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    // first-seen order (the splits run set by set, each with every fit)
    let mut trains: Vec<&str> = Vec::new();
    let mut sets: Vec<&str> = Vec::new();
    for (t, n, _) in &rows {
        if !trains.contains(t) {
            trains.push(t);
        }
        if !sets.contains(n) {
            sets.push(n);
        }
    }
    writeln!(
        f,
        "\nextra sets: balanced accuracy (AUROC), promptgate fast then baseline; \
         '>' = the model's balanced accuracy is higher"
    )?;
    let mut line = format!("{:<14}", "set");
    for t in &trains {
        line += &format!(" {:<31}", format!("fit on {t}"));
    }
    writeln!(f, "{}", line.trim_end())?;
    let mut wins = 0;
    for set in &sets {
        let mut line = format!("{set:<14}");
        for (_, _, s) in rows.iter().filter(|r| r.1 == *set) {
            let win = s.model.balanced_accuracy > s.baseline.balanced_accuracy;
            wins += usize::from(win);
            line += &format!(
                " {:.3} ({:.3}) {} {:.3} ({:.3})  ",
                s.model.balanced_accuracy,
                s.model.auroc,
                if win { '>' } else { ' ' },
                s.baseline.balanced_accuracy,
                s.baseline.auroc
            );
        }
        writeln!(f, "{}", line.trim_end())?;
    }
    writeln!(
        f,
        "the model's balanced accuracy is higher on {wins} of {} extra rows",
        rows.len()
    )
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (fb, n, h, src) = &self.faithbench;
        writeln!(
            f,
            "grounding eval: faithbench {} ({n} answers, {h} hallucinated, {src} sources)",
            fb.display()
        )?;
        let (qa, n, h) = &self.halueval;
        writeln!(
            f,
            "                halueval {} ({n} answers, {h} hallucinated)",
            qa.display()
        )?;
        for (p, n, h) in &self.extra {
            writeln!(
                f,
                "                extra {} ({n} answers, {h} hallucinated)",
                p.display()
            )?;
        }
        writeln!(
            f,
            "\nOut of sample ({FOLDS}-fold CV by source; cross-dataset = fit on all of one set). \
             Each split: promptgate fast, then the one-signal baseline (least covered claim's \
             content-word coverage, threshold fitted on the same training rows)."
        )?;
        writeln!(
            f,
            "AUROC = mean of the per-fold AUROCs; pooled = over all out-of-fold scores."
        )?;
        writeln!(
            f,
            "{:<46} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7}",
            "split / test set", "BalAcc", "Prec", "Recall", "F1", "AUROC", "pooled"
        )?;
        for s in &self.splits {
            writeln!(f, "{} [{}]", s.name, s.test)?;
            split_row(f, "  promptgate fast", &s.model, s.model_auroc_pooled)?;
            split_row(
                f,
                "  baseline (min claim coverage)",
                &s.baseline,
                s.baseline_auroc_pooled,
            )?;
        }
        extra_summary(f, &self.splits)?;
        writeln!(
            f,
            "\nper-signal evidence: AUROC (mean per fold) with fixed features, weights fitted per split"
        )?;
        writeln!(
            f,
            "{:<46} {:>7} {:>7} {:>7} {:>7}",
            "features",
            ABLATION_COLUMNS[0],
            ABLATION_COLUMNS[1],
            ABLATION_COLUMNS[2],
            ABLATION_COLUMNS[3]
        )?;
        for (name, a) in &self.ablation {
            writeln!(
                f,
                "{:<46} {:>7.3} {:>7.3} {:>7.3} {:>7.3}",
                name, a[0], a[1], a[2], a[3]
            )?;
        }
        writeln!(
            f,
            "\nweights per fit (= Platt slope x unit weights), intercept b, the cut on the unit \
             score u and the threshold t it gives on the calibrated score"
        )?;
        for s in &self.splits {
            writeln!(f, "  {} [{}]", s.name, s.test)?;
            fits(f, s)?;
        }
        for s in self.splits.iter().filter(|s| s.detailed()) {
            details(f, s)?;
        }
        let w = kept_weights(&self.shipped, 3);
        writeln!(
            f,
            "\nshipped weights (fitted on both sets): {}; bias={:.3}; threshold={:.3}",
            w.join(", "),
            self.shipped.bias,
            self.shipped.threshold
        )?;
        metric_header(f, "shipped weights, in-sample")?;
        for (d, m) in &self.in_sample {
            metric_row(f, &format!("  {d}"), m)?;
        }
        if !self.detectors.is_empty() {
            metric_header(f, "faithbench: stored detectors")?;
            for (name, m) in &self.detectors {
                metric_row(f, &format!("  {name}"), m)?;
            }
        }
        writeln!(
            f,
            "scoring time per answer: p50 {:.1} us, p99 {:.1} us ({} build)",
            self.p50_us,
            self.p99_us,
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
        )
    }
}
