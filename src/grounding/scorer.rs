//! The calibrated combination model.
//!
//! `P(hallucinated) = σ(b + Σ_j w_j · x_j)` over the answer's risk features `x`
//! ([`super::features`]), with `w_j >= 0`; the score is `P(supported) = 1 - P(h)`.
//! The shipped weights are fixed unit weights times one fitted slope (a plain, not
//! class-weighted, logistic calibration), so the score is a probability on the data
//! it was fitted on; `flagged = score < threshold`. A weight of 0 means the feature
//! is not used. The fitting is in [`super::fit`].

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::features::{CANDIDATES, NC};

/// Fitted weights, intercept and flag threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    pub weights: [f64; NC],
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

/// Fallback if the embedded JSON failed to parse (a unit test checks it parses):
/// the one-signal coverage rule, flagging an answer whose least covered claim has
/// under about half of its content words in the context.
const FALLBACK: Model = Model {
    weights: [6.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    bias: -3.0,
    threshold: 0.5,
};

const MODEL_TEXT: &str =
    "score = P(supported) = 1 - sigmoid(bias + sum_j w_j * x_j); flagged = score < threshold";

/// `σ(z)` without overflow for large `|z|`.
#[inline]
pub(crate) fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

impl Model {
    pub fn from_json(s: &str) -> Result<Model, String> {
        let f: WeightsFile = serde_json::from_str(s).map_err(|e| format!("weights.json: {e}"))?;
        if let Some(k) = f.weights.keys().find(|k| !CANDIDATES.contains(&k.as_str())) {
            return Err(format!("weights.json: unknown feature {k}"));
        }
        let mut weights = [0.0; NC];
        for (i, name) in CANDIDATES.iter().enumerate() {
            let w = f.weights.get(*name).copied().unwrap_or(0.0);
            if !(w.is_finite() && w >= 0.0) {
                return Err(format!(
                    "weights.json: weight {name} must be finite and >= 0"
                ));
            }
            weights[i] = w;
        }
        if !f.bias.is_finite() {
            return Err("weights.json: bias must be finite".into());
        }
        if !(f.threshold > 0.0 && f.threshold < 1.0) {
            return Err("weights.json: threshold must be in (0, 1)".into());
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

    /// Serialises to the `weights.json` format (features with a weight only). `fit` is
    /// free-form provenance.
    pub fn to_json(&self, fit: serde_json::Value) -> String {
        let f = WeightsFile {
            model: MODEL_TEXT.into(),
            weights: CANDIDATES
                .iter()
                .zip(self.weights.iter())
                .filter(|(_, w)| **w > 0.0)
                .map(|(k, v)| ((*k).to_string(), round6(*v)))
                .collect(),
            bias: round6(self.bias),
            threshold: round6(self.threshold),
            fit,
        };
        serde_json::to_string_pretty(&f).unwrap_or_default()
    }

    /// The linear predictor of `P(hallucinated)`.
    #[inline]
    pub fn logit(&self, x: &[f64; NC]) -> f64 {
        self.bias + self.weights.iter().zip(x).map(|(w, v)| w * v).sum::<f64>()
    }

    /// `P(supported)` of an answer (or claim) with features `x`.
    #[inline]
    pub fn support(&self, x: &[f64; NC]) -> f64 {
        sigmoid(-self.logit(x))
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_weights_parse_and_round_trip() {
        let m = Model::from_json(WEIGHTS_JSON);
        assert!(m.is_ok(), "{m:?}");
        let m = Model::builtin();
        assert!(m.weights.iter().all(|w| *w >= 0.0));
        assert!(m.weights.iter().any(|w| *w > 0.0), "{m:?}");
        let back = Model::from_json(&m.to_json(serde_json::Value::Null));
        assert_eq!(back.ok().map(|b| b.weights), Some(m.weights));
    }

    #[test]
    fn bad_files_are_refused() {
        let ok = r#"{"weights": {"worst_claim_gap": 1.0}, "bias": 0.0, "threshold": 0.5}"#;
        assert!(Model::from_json(ok).is_ok());
        for bad in [
            r#"{"weights": {"nope": 1.0}, "bias": 0.0, "threshold": 0.5}"#,
            r#"{"weights": {"answer_gap": -1.0}, "bias": 0.0, "threshold": 0.5}"#,
            r#"{"weights": {}, "bias": 0.0, "threshold": 1.0}"#,
        ] {
            assert!(Model::from_json(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn support_falls_as_risk_rises() {
        let m = FALLBACK;
        let mut x = [0.0; NC];
        let full = m.support(&x);
        x[0] = 0.5;
        let half = m.support(&x);
        x[0] = 1.0;
        let none = m.support(&x);
        assert!(full > half && half > none, "{full} {half} {none}");
        assert!((half - 0.5).abs() < 1e-12);
        assert!(sigmoid(-1000.0) >= 0.0 && sigmoid(1000.0) <= 1.0);
    }
}
