//! Out-of-sample runs of the fitting procedure: cross-validation by source and
//! fit-on-one-set / test-on-another. Each training split gets the whole
//! procedure ([`fit::fit`]: calibration and threshold) and the
//! baseline's threshold; nothing is fitted on the rows it scores.

use crate::grounding::fit::{self, baseline_score, fit_baseline, Fitted, Procedure, Row};

/// Number of cross-validation folds (by source: fold = source index mod `FOLDS`).
pub const FOLDS: usize = 5;

/// Out-of-sample scores of the model and the baseline on the tested rows.
#[derive(Clone, Debug, Default)]
pub struct OutOfSample {
    pub ys: Vec<bool>,
    /// Training split (fold) that scored each row.
    pub fold: Vec<usize>,
    /// The model's `P(supported)` and flag.
    pub scores: Vec<f64>,
    pub flags: Flags,
    /// The model fitted on each training split.
    pub fits: Vec<Fitted>,
    /// The baseline's score (least covered claim's coverage) and flag, and
    /// its threshold on each training split.
    pub base_scores: Vec<f64>,
    pub base_flags: Flags,
    pub base_thresholds: Thresholds,
}

/// Each tested row's flag (answer judged hallucinated).
pub type Flags = Vec<bool>;
/// One threshold per training split.
pub type Thresholds = Vec<f64>;

impl OutOfSample {
    fn score(&mut self, fitted: Fitted, base_t: f64, test: &[Row]) {
        let fold = self.fits.len();
        for r in test {
            let s = fitted.model.support(&r.x);
            self.fold.push(fold);
            let b = baseline_score(r);
            self.ys.push(r.hallucinated);
            self.scores.push(s);
            self.flags.push(s < fitted.model.threshold);
            self.base_scores.push(b);
            self.base_flags.push(b < base_t);
        }
        self.fits.push(fitted);
        self.base_thresholds.push(base_t);
    }
}

/// Gives each data set in `rows` the same total weight (1).
pub fn balance(rows: &mut [Row]) {
    let mut totals: Vec<(u8, f64)> = Vec::new();
    for r in rows.iter() {
        match totals.iter_mut().find(|t| t.0 == r.dataset) {
            Some(t) => t.1 += 1.0,
            None => totals.push((r.dataset, 1.0)),
        }
    }
    for r in rows.iter_mut() {
        let n = totals
            .iter()
            .find(|t| t.0 == r.dataset)
            .map_or(1.0, |t| t.1);
        r.weight = 1.0 / n;
    }
}

fn fold_of(r: &Row) -> usize {
    (r.group & 0xffff_ffff) as usize % FOLDS
}

/// Fits on the training rows (re-balanced) and scores the test rows.
fn run_split(train: Vec<Row>, test: &[Row], p: &Procedure, out: &mut OutOfSample) {
    let mut train = train;
    balance(&mut train);
    let fitted = fit::fit(&train, p);
    let base_t = fit_baseline(&train);
    out.score(fitted, base_t, test);
}

/// Cross-validation by source: rows of `test_dataset` in fold `k` are scored by
/// the procedure fitted on the rows outside fold `k` that `train_on` admits.
pub fn cross_validate(
    rows: &[Row],
    test_dataset: u8,
    train_on: impl Fn(&Row) -> bool,
    p: &Procedure,
) -> OutOfSample {
    let mut out = OutOfSample::default();
    for k in 0..FOLDS {
        let train: Vec<Row> = rows
            .iter()
            .filter(|r| fold_of(r) != k && train_on(r))
            .copied()
            .collect();
        let test: Vec<Row> = rows
            .iter()
            .filter(|r| fold_of(r) == k && r.dataset == test_dataset)
            .copied()
            .collect();
        run_split(train, &test, p, &mut out);
    }
    out
}

/// Fits on every row `train_on` admits, scores every row of data set `to`.
pub fn cross_dataset(
    rows: &[Row],
    train_on: impl Fn(&Row) -> bool,
    to: u8,
    p: &Procedure,
) -> OutOfSample {
    let mut out = OutOfSample::default();
    let train: Vec<Row> = rows.iter().filter(|r| train_on(r)).copied().collect();
    let test: Vec<Row> = rows.iter().filter(|r| r.dataset == to).copied().collect();
    run_split(train, &test, p, &mut out);
    out
}
