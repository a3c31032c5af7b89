//! What scoring an answer returns: the score, the flag, and per claim its
//! offsets, support, evidence and the reasons it lost support.

use serde::Serialize;

use super::scorer::Model;
use super::signals::{
    ClaimSignals, Findings, F_ENT, F_NEG_ADD, F_NEG_DROP, F_NOVEL, F_NUM, F_PAIRS, F_RATIO,
    F_SCATTER,
};

/// Result of scoring one answer.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct GroundingReport {
    /// 1.0 when every claim is fully supported; product of the claim supports.
    pub score: f64,
    /// `score < threshold`
    pub flagged: bool,
    pub threshold: f64,
    pub claims: Vec<Claim>,
}

/// One claim of the answer.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Claim {
    pub text: String,
    /// Code point offset of the claim's first character in the answer.
    pub start: usize,
    /// Code point offset one past the claim's last character.
    pub end: usize,
    /// 0.0–1.0; 1.0 when no signal found anything unsupported.
    pub support: f64,
    /// Best-matching context sentence (empty when nothing matches).
    pub evidence: String,
    /// Why the claim lost support, most important first.
    pub reasons: Vec<String>,
}

/// Why a claim lost support, most important (largest weighted signal) first.
pub(crate) fn reasons(model: &Model, text: &str, sig: &ClaimSignals, fd: &Findings) -> Vec<String> {
    let w = &model.weights;
    let surf = |r: &(u32, u32)| {
        text.get(r.0 as usize..r.1 as usize)
            .unwrap_or("")
            .to_string()
    };
    let mut out: Vec<(f64, String)> = Vec::new();
    let contrib = |j: usize| w[j] * sig.f[j];
    if contrib(F_NUM) > 0.0 {
        for r in &fd.numbers {
            out.push((w[F_NUM], format!("number {} not in context", surf(r))));
        }
    }
    if contrib(F_ENT) > 0.0 {
        for r in &fd.entities {
            out.push((w[F_ENT], format!("name \"{}\" not in context", surf(r))));
        }
    }
    let novel_c = contrib(F_NOVEL) + contrib(F_RATIO);
    if novel_c > 0.0 && !fd.novel.is_empty() {
        let words: Vec<String> = fd.novel.iter().map(&surf).collect();
        out.push((
            novel_c,
            format!(
                "words not in context ({:.0}% of content words): {}",
                100.0 * sig.f[F_RATIO],
                words.join(", ")
            ),
        ));
    }
    if contrib(F_NEG_ADD) > 0.0 {
        let cue = fd.negation.as_ref().map(&surf).unwrap_or_default();
        out.push((
            contrib(F_NEG_ADD),
            format!("negation \"{cue}\" not backed by the evidence"),
        ));
    }
    if contrib(F_NEG_DROP) > 0.0 {
        out.push((
            contrib(F_NEG_DROP),
            "the evidence is negated but the claim is not".to_string(),
        ));
    }
    if contrib(F_PAIRS) > 0.0 {
        out.push((
            contrib(F_PAIRS),
            format!(
                "{} word pair(s) never used together in the context",
                fd.pairs
            ),
        ));
    }
    if contrib(F_SCATTER) > 0.0 {
        out.push((
            contrib(F_SCATTER),
            "combines words from different context sentences".to_string(),
        ));
    }
    out.sort_by(|a, b| b.0.total_cmp(&a.0));
    out.into_iter().map(|x| x.1).collect()
}
