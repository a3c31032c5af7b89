use super::*;
use crate::grounding::scorer::sigmoid;

/// SplitMix64, for fixed-seed synthetic data.
struct Rng(u64);
impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        (mix(self.0) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Rows of two data sets: feature 0 drives the label in both; feature 3 drives it
/// in data set 1 and is common, uninformative noise in data set 0 (so a weight
/// fitted on both hurts data set 0); feature 5 is noise everywhere.
fn rows(n: usize) -> Vec<Row> {
    let mut r = Rng(11);
    let mut out = Vec::new();
    for i in 0..n {
        let dataset = (i % 2) as u8;
        let mut x = [0.0; NC];
        x[0] = r.unit();
        x[3] = r.unit() * if dataset == 0 { 3.0 } else { 1.0 };
        x[5] = r.unit();
        let z = -3.0 + 6.0 * x[0] + if dataset == 1 { 6.0 * x[3] - 3.0 } else { 0.0 };
        let hallucinated = r.unit() < sigmoid(z);
        out.push(Row {
            x,
            hallucinated,
            weight: 1.0,
            group: (i / 2) as u64,
            dataset,
        });
    }
    out
}

#[test]
fn logistic_recovers_the_generating_weight() {
    let data: Vec<Row> = rows(4000).into_iter().filter(|r| r.dataset == 0).collect();
    let (w, b) = fit_weights(&data, &[0], 1e-4);
    assert!((w[0] - 6.0).abs() < 1.0, "{w:?} {b}");
    assert!((b + 3.0).abs() < 0.6, "{w:?} {b}");
}

#[test]
fn selection_drops_features_that_hurt_another_data_set() {
    let data = rows(3000);
    let both = fit(&data, &Procedure::default());
    assert_eq!(both.model.selected(), vec!["worst_claim_gap"], "{both:?}");
    let one: Vec<Row> = data.iter().filter(|r| r.dataset == 1).copied().collect();
    let only = fit(&one, &Procedure::default());
    let mut chosen = only.model.selected();
    chosen.sort_unstable();
    assert_eq!(chosen, vec!["names", "worst_claim_gap"], "{only:?}");
    assert!(both.model.threshold > 0.0 && both.model.threshold < 1.0);
}

#[test]
fn threshold_maximises_balanced_accuracy() {
    let mk = |h| Row {
        x: [0.0; NC],
        hallucinated: h,
        weight: 1.0,
        group: 0,
        dataset: 0,
    };
    let data = [mk(true), mk(true), mk(false), mk(false)];
    let t = best_threshold(&[0.1, 0.2, 0.8, 0.9], &data);
    assert!(t > 0.2 && t < 0.8, "{t}");
    assert!((logistic::log_loss(0.0, true) - std::f64::consts::LN_2).abs() < 1e-12);
    assert!(logistic::log_loss(-800.0, true).is_finite());
}
