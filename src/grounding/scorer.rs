//! The combination model and its fitting.
//!
//! Each claim gets `λ = Σ_j w_j · s_j` from its non-negative signals `s_j` with
//! non-negative weights `w_j`; its support is `exp(-λ)` (so a claim with no
//! negative signal has support exactly 1). The answer score is the product of the
//! claim supports, `exp(-Σ λ)`. For fitting, the probability that an answer is
//! hallucinated is modelled as a noisy-OR over its claims plus a base rate:
//! `P(h) = 1 - exp(-(b + Σ λ))`, a concave log-likelihood in `(w, b)` that is
//! maximised by projected gradient ascent with an L2 penalty and class weights.
//! Because the answer-level `Σ λ` is linear in the weights, fitting only needs the
//! per-answer sums of the claim signals.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::signals::{FEATURES, NF};

/// Fitted weights, base rate and flag threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    pub weights: [f64; NF],
    pub bias: f64,
    pub threshold: f64,
}

#[derive(Serialize, Deserialize)]
struct WeightsFile {
    #[serde(default)]
    model: String,
    weights: BTreeMap<String, f64>,
    bias: f64,
    threshold: f64,
    #[serde(default)]
    fit: serde_json::Value,
}

/// Built-in weights (shipped as data).
pub(crate) const WEIGHTS_JSON: &str = include_str!("weights.json");

/// Conservative hand-set fallback, only used if the embedded JSON failed to parse.
const FALLBACK: Model = Model {
    weights: [0.15, 0.5, 0.1, 1.0, 0.5, 1.0, 0.3, 0.2],
    bias: 0.05,
    threshold: 0.5,
};

impl Model {
    pub fn from_json(s: &str) -> Result<Model, String> {
        let f: WeightsFile = serde_json::from_str(s).map_err(|e| format!("weights.json: {e}"))?;
        let mut weights = [0.0; NF];
        for (i, name) in FEATURES.iter().enumerate() {
            let w = f
                .weights
                .get(*name)
                .copied()
                .ok_or_else(|| format!("weights.json: missing weight {name}"))?;
            if !(w.is_finite() && w >= 0.0) {
                return Err(format!(
                    "weights.json: weight {name} must be finite and >= 0"
                ));
            }
            weights[i] = w;
        }
        if !(f.threshold > 0.0 && f.threshold <= 1.0) {
            return Err("weights.json: threshold must be in (0, 1]".into());
        }
        Ok(Model {
            weights,
            bias: f.bias,
            threshold: f.threshold,
        })
    }

    pub fn builtin() -> Model {
        Model::from_json(WEIGHTS_JSON).unwrap_or(FALLBACK)
    }

    /// Serialises to the `weights.json` format. `fit` is free-form provenance.
    pub fn to_json(&self, fit: serde_json::Value) -> String {
        let f = WeightsFile {
            model: "claim support = exp(-sum_j w_j * signal_j); answer score = product of claim supports; flagged = score < threshold".into(),
            weights: FEATURES.iter().zip(self.weights.iter()).map(|(k, v)| ((*k).to_string(), round6(*v))).collect(),
            bias: round6(self.bias),
            threshold: round6(self.threshold),
            fit,
        };
        serde_json::to_string_pretty(&f).unwrap_or_default()
    }

    #[inline]
    pub fn lambda(&self, f: &[f64; NF]) -> f64 {
        self.weights.iter().zip(f).map(|(w, x)| w * x).sum()
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Fitting options.
#[derive(Clone, Debug)]
pub struct FitOptions {
    /// L2 penalty on the (feature-scaled) weights.
    pub l2: f64,
    pub iters: usize,
    /// Weight the classes equally (we optimise balanced accuracy).
    pub balanced: bool,
    /// Signals whose weight is fitted; the others keep their `fixed` weight.
    pub mask: [bool; NF],
    /// Weights of the signals that are not fitted (hard evidence: a single
    /// unsupported number, name or negation should flag on its own).
    pub fixed: [f64; NF],
    /// Threshold rule: `false` = maximise balanced accuracy on the training data;
    /// `true` = the class-balanced decision point of the fitted model,
    /// `P(h) = 1/2`, i.e. `t = exp(b) / 2` (smoother, less prone to overfit).
    pub calibrated_threshold: bool,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            l2: 0.02,
            iters: 400,
            balanced: true,
            //      novel  ratio  pairs  num    ent    neg+   neg-   scatter
            mask: [true, false, true, false, false, false, false, true],
            fixed: [0.0, 0.0, 0.0, 1.5, 1.0, 1.5, 0.5, 0.0],
            calibrated_threshold: true,
        }
    }
}

/// Fits weights and base rate on per-answer signal sums `xs` with labels `ys`
/// (`true` = hallucinated), then picks the threshold maximising balanced accuracy.
pub fn fit(xs: &[[f64; NF]], ys: &[bool], opt: &FitOptions) -> Model {
    let n = xs.len();
    let npos = ys.iter().filter(|y| **y).count();
    let nneg = n - npos;
    if n == 0 || npos == 0 || nneg == 0 {
        return Model::builtin();
    }
    // feature scaling: divide by the mean (all signals are >= 0)
    let mut scale = [1.0f64; NF];
    for j in 0..NF {
        let m = xs.iter().map(|x| x[j]).sum::<f64>() / n as f64;
        scale[j] = if m > 1e-9 { m } else { 1.0 };
    }
    let cw = |y: bool| -> f64 {
        if !opt.balanced {
            1.0
        } else if y {
            n as f64 / (2.0 * npos as f64)
        } else {
            n as f64 / (2.0 * nneg as f64)
        }
    };
    const BMIN: f64 = 1e-3;
    // contribution of the fixed (not fitted) weights
    let off: Vec<f64> = xs
        .iter()
        .map(|x| {
            (0..NF)
                .filter(|&j| !opt.mask[j])
                .map(|j| opt.fixed[j] * x[j])
                .sum()
        })
        .collect();
    let loss = |u: &[f64; NF], b: f64| -> f64 {
        let mut l = 0.0;
        for ((x, &y), o) in xs.iter().zip(ys).zip(&off) {
            let mut z = b + o;
            for j in 0..NF {
                z += u[j] * x[j] / scale[j];
            }
            let ll = if y { (-(-z).exp_m1()).ln() } else { -z };
            l -= cw(y) * ll;
        }
        l / n as f64 + opt.l2 * u.iter().map(|v| v * v).sum::<f64>()
    };
    let mut u: [f64; NF] = std::array::from_fn(|j| if opt.mask[j] { 0.1 } else { 0.0 });
    let mut b = 0.3f64;
    let mut step = 1.0f64;
    let mut cur = loss(&u, b);
    for _ in 0..opt.iters {
        let mut gu = [0.0f64; NF];
        let mut gb = 0.0f64;
        for ((x, &y), o) in xs.iter().zip(ys).zip(&off) {
            let mut z = b + o;
            for j in 0..NF {
                z += u[j] * x[j] / scale[j];
            }
            // d(-ll)/dz
            let g = if y { -1.0 / z.exp_m1() } else { 1.0 } * cw(y);
            gb += g;
            for j in 0..NF {
                gu[j] += g * x[j] / scale[j];
            }
        }
        gb /= n as f64;
        for j in 0..NF {
            gu[j] = gu[j] / n as f64 + 2.0 * opt.l2 * u[j];
        }
        // backtracking projected step
        let mut accepted = false;
        for _ in 0..30 {
            let mut nu = u;
            for j in 0..NF {
                nu[j] = if opt.mask[j] {
                    (u[j] - step * gu[j]).max(0.0)
                } else {
                    0.0
                };
            }
            let nb = (b - step * gb).max(BMIN);
            let nl = loss(&nu, nb);
            if nl <= cur {
                u = nu;
                b = nb;
                cur = nl;
                accepted = true;
                step *= 1.5;
                break;
            }
            step *= 0.5;
        }
        if !accepted {
            break;
        }
    }
    let mut weights = [0.0; NF];
    for j in 0..NF {
        weights[j] = if opt.mask[j] {
            u[j] / scale[j]
        } else {
            opt.fixed[j]
        };
    }
    let mut m = Model {
        weights,
        bias: b,
        threshold: 0.5,
    };
    let scores: Vec<f64> = xs.iter().map(|x| (-m.lambda(x)).exp()).collect();
    m.threshold = if opt.calibrated_threshold && opt.balanced {
        (0.5 * b.exp()).clamp(1e-6, 1.0)
    } else {
        best_threshold(&scores, ys)
    };
    m
}

/// Threshold on the score (`flagged = score < t`) maximising balanced accuracy.
/// Among equally good cut points the midpoint of the widest gap is taken.
pub fn best_threshold(scores: &[f64], ys: &[bool]) -> f64 {
    let npos = ys.iter().filter(|y| **y).count() as f64;
    let nneg = ys.len() as f64 - npos;
    if npos == 0.0 || nneg == 0.0 {
        return 0.5;
    }
    let mut v: Vec<(f64, bool)> = scores.iter().copied().zip(ys.iter().copied()).collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    // flagged = the first k (lowest scores)
    let mut best = (-1.0f64, 0.5f64);
    let mut tp = 0.0;
    let mut fp = 0.0;
    let mut k = 0usize;
    while k < v.len() {
        let s = v[k].0;
        while k < v.len() && v[k].0 == s {
            if v[k].1 {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            k += 1;
        }
        let next = if k < v.len() { v[k].0 } else { 1.0 + 1e-9 };
        let ba = 0.5 * (tp / npos + (nneg - fp) / nneg);
        if ba > best.0 + 1e-12 {
            best = (ba, 0.5 * (s + next));
        }
    }
    best.1.clamp(1e-6, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_weights_parse() {
        let m = Model::from_json(WEIGHTS_JSON);
        assert!(m.is_ok(), "{m:?}");
        let m = Model::builtin();
        assert!(m.weights.iter().all(|w| *w >= 0.0));
        let back = Model::from_json(&m.to_json(serde_json::Value::Null));
        assert_eq!(back.ok().map(|b| b.weights), Some(m.weights));
    }

    #[test]
    fn fit_recovers_a_signal() {
        // label = hallucinated iff feature 3 > 0; feature 0 is noise
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        let mut seed = 7u64;
        for i in 0..200 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let mut x = [0.0; NF];
            x[0] = ((seed >> 33) % 4) as f64;
            x[3] = if i % 2 == 0 { 1.0 } else { 0.0 };
            xs.push(x);
            ys.push(i % 2 == 0);
        }
        let m = fit(
            &xs,
            &ys,
            &FitOptions {
                mask: [true; NF],
                ..FitOptions::default()
            },
        );
        assert!(m.weights[3] > 1.0, "{m:?}");
        assert!(m.weights[3] > 5.0 * m.weights[0], "{m:?}");
        let s_bad = (-m.lambda(&xs[0])).exp();
        let s_ok = (-m.lambda(&xs[1])).exp();
        assert!(s_bad < m.threshold && s_ok >= m.threshold, "{m:?}");
    }

    #[test]
    fn threshold_maximises_balanced_accuracy() {
        let t = best_threshold(&[0.1, 0.2, 0.8, 0.9], &[true, true, false, false]);
        assert!(t > 0.2 && t < 0.8);
    }
}
