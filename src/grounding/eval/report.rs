//! The evaluation result and the table it prints.

use std::fmt;
use std::path::PathBuf;

use super::cross_validation::FOLDS;
use super::datasets::Dataset;
use super::metrics::Metrics;
use crate::grounding::scorer::Model;
use crate::grounding::signals::FEATURES;

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
