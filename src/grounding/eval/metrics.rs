//! Binary-classification metrics (hallucinated = positive class) and AUROC.

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
