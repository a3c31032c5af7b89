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

/// Rows of two data sets: feature 0 drives the label in both; feature 3 raises the
/// risk in data set 1 and lowers it in data set 0 (a signal that fits one set at
/// the other's expense); feature 5 is noise everywhere.
fn rows(n: usize) -> Vec<Row> {
    let mut r = Rng(11);
    let mut out = Vec::new();
    for i in 0..n {
        let dataset = (i % 2) as u8;
        let mut x = [0.0; NC];
        x[0] = r.unit();
        x[3] = r.unit();
        x[5] = r.unit();
        let z = -3.0 + 6.0 * x[0] + if dataset == 1 { 4.0 } else { -4.0 } * (x[3] - 0.5);
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
fn a_signal_that_fits_one_set_at_the_others_expense_does_not_carry_over() {
    let data = rows(3000);
    let both = fit(&data, &Procedure::default()).model;
    let one: Vec<Row> = data.iter().filter(|r| r.dataset == 1).copied().collect();
    let only = fit(&one, &Procedure::default()).model;
    assert!(both.weights[0] > 3.0, "{both:?}");
    assert!(only.weights[3] > 2.0, "{only:?}");
    assert!(both.weights[3] < 0.3, "{both:?}");
    assert!(
        both.weights[5] < 0.3 && only.weights[5] < 0.3,
        "{both:?} {only:?}"
    );
    assert!(both.weights.iter().all(|w| *w >= 0.0));
    assert!(both.threshold > 0.0 && both.threshold < 1.0);
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
