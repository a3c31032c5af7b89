use super::*;
use crate::grounding::features::{ANSWER_GAP, WORST_GAP};

/// SplitMix64, for fixed-seed synthetic data.
struct Rng(u64);
impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn row(x: [f64; NC], hallucinated: bool, dataset: u8) -> Row {
    Row {
        x,
        hallucinated,
        weight: 1.0,
        group: 0,
        dataset,
    }
}

/// Rows whose unit risk is `t` (both gaps `t`) and whose label follows
/// `P(hallucinated) = σ(-3 + 6 t)`.
fn rows(n: usize) -> Vec<Row> {
    let mut r = Rng(11);
    (0..n)
        .map(|_| {
            let t = r.unit();
            let mut x = [0.0; NC];
            x[WORST_GAP] = t;
            x[ANSWER_GAP] = t;
            row(x, r.unit() < sigmoid(-3.0 + 6.0 * t), 0)
        })
        .collect()
}

#[test]
fn logistic_recovers_the_generating_weight() {
    let data = rows(4000);
    let (w, b) = fit_weights(&data, &[WORST_GAP], 1e-4);
    assert!((w[0] - 6.0).abs() < 1.0, "{w:?} {b}");
    assert!((b + 3.0).abs() < 0.6, "{w:?} {b}");
}

#[test]
fn unit_fit_calibrates_the_unit_score_and_keeps_its_order() {
    let data = rows(4000);
    let fitted = fit(&data, &Procedure::UnitWeights);
    let m = &fitted.model;
    // weights are the Platt slope times the unit weights: the generating slope 6
    let slope = m.weights[NUMBERS];
    assert!((slope - 6.0).abs() < 1.0, "{m:?}");
    for (w, u) in m.weights.iter().zip(UNIT_WEIGHTS) {
        assert!((w - slope * u).abs() < 1e-9, "{m:?}");
    }
    assert!((m.bias + 3.0).abs() < 0.6, "{m:?}");
    // the calibrated score ranks as u does, and flags exactly below the u cut
    let cut = fitted.unit_cut.unwrap_or(f64::NAN);
    let mut by_u: Vec<(f64, f64)> = data
        .iter()
        .map(|r| (1.0 - unit_risk(&r.x), m.support(&r.x)))
        .collect();
    by_u.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(by_u.windows(2).all(|w| w[0].1 <= w[1].1));
    assert!(by_u.iter().all(|(u, s)| (*u < cut) == (*s < m.threshold)));
    // with true P(h) = σ(-3 + 6 t), balanced accuracy peaks at t = 0.5 (u = 0.5)
    assert!((cut - 0.5).abs() < 0.15, "{cut}");
}

#[test]
fn a_logistic_fit_leaves_out_a_feature_with_a_negative_weight() {
    let mut data = rows(3000);
    // feature 5 lowers the risk: its weight would be negative
    for (i, r) in data.iter_mut().enumerate() {
        r.x[5] = if r.hallucinated { 0.0 } else { (i % 3) as f64 };
    }
    let p = Procedure::Logistic {
        features: vec![WORST_GAP, 5],
        l2: 0.01,
    };
    let m = fit(&data, &p).model;
    assert!(m.weights[WORST_GAP] > 3.0 && m.weights[5] == 0.0, "{m:?}");
    assert!(m.threshold > 0.0 && m.threshold < 1.0);
}

#[test]
fn thresholds_maximise_balanced_accuracy() {
    let x = [0.0; NC];
    let data = [
        row(x, true, 0),
        row(x, true, 0),
        row(x, false, 0),
        row(x, false, 0),
    ];
    let t = best_threshold(&[0.1, 0.2, 0.8, 0.9], &data);
    assert!(t > 0.2 && t < 0.8, "{t}");
    assert!((logistic::log_loss(0.0, true) - std::f64::consts::LN_2).abs() < 1e-12);
    assert!(logistic::log_loss(-800.0, true).is_finite());
}

#[test]
fn lift_threshold_takes_the_middle_of_the_near_best_cuts() {
    // balanced accuracy 0.875 at the cuts 0.325 and 0.475, 0.75 at 0.375 between
    let x = [0.0; NC];
    let mut data = Vec::new();
    let mut scores = Vec::new();
    for (s, h) in [
        (0.1, true),
        (0.2, true),
        (0.3, true),
        (0.35, false),
        (0.45, true),
        (0.5, false),
        (0.6, false),
        (0.7, false),
    ] {
        scores.push(s);
        data.push(row(x, h, 0));
    }
    assert!((best_threshold(&scores, &data) - 0.325).abs() < 1e-12);
    assert!((lift_threshold(&scores, &data, 0.95) - 0.4).abs() < 1e-12);
    // a second set whose supported answers score 0.40-0.42 rules out the upper
    // cut: the worst set's balanced accuracy decides
    let mut two = data.clone();
    let mut both = scores.clone();
    for (s, h) in [(0.1, true), (0.15, false), (0.4, false), (0.42, false)] {
        both.push(s);
        two.push(row(x, h, 1));
    }
    assert!((lift_threshold(&both, &two, 0.95) - 0.325).abs() < 1e-12);
}
