//! What scoring an answer returns: the score, the flag, and per claim its
//! offsets, support, evidence and the reasons it lost support.

use serde::Serialize;

use super::features::{
    ANSWER_GAP, NAMES, NC, NEG_ADDED, NEG_DROPPED, NUMBERS, PAIR_RATE, WORST_GAP, WORST_SCATTER,
};
use super::scorer::Model;
use super::signals::Findings;

/// Result of scoring one answer.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct GroundingReport {
    /// Probability that the answer is supported by the context (calibrated on the
    /// evaluation data, see `docs/grounding.md`).
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
    /// The same probability for the claim on its own.
    pub support: f64,
    /// Best-matching context sentence (empty when nothing matches).
    pub evidence: String,
    /// Why the claim lost support, most important first.
    pub reasons: Vec<String>,
}

/// What a claim's signals found, most important first: ordered by what each
/// finding costs the claim under the model (`weight × feature`); findings the
/// model gives no weight are listed last, as notes.
pub(crate) fn reasons(model: &Model, text: &str, x: &[f64; NC], fd: &Findings) -> Vec<String> {
    let w = &model.weights;
    let surf = |r: &(u32, u32)| {
        text.get(r.0 as usize..r.1 as usize)
            .unwrap_or("")
            .to_string()
    };
    let cost = |j: usize| w[j] * x[j];
    let mut out: Vec<(f64, String)> = Vec::new();
    for r in &fd.numbers {
        out.push((cost(NUMBERS), format!("number {} not in context", surf(r))));
    }
    for r in &fd.entities {
        out.push((cost(NAMES), format!("name \"{}\" not in context", surf(r))));
    }
    if !fd.novel.is_empty() {
        let words: Vec<String> = fd.novel.iter().map(&surf).collect();
        out.push((
            cost(WORST_GAP) + cost(ANSWER_GAP),
            format!(
                "words not in context ({:.0}% of content words): {}",
                100.0 * x[WORST_GAP],
                words.join(", ")
            ),
        ));
    }
    if let Some(cue) = &fd.negation {
        out.push((
            cost(NEG_ADDED),
            format!("negation \"{}\" not backed by the evidence", surf(cue)),
        ));
    }
    if x[NEG_DROPPED] > 0.0 {
        out.push((
            cost(NEG_DROPPED),
            "the evidence is negated but the claim is not".to_string(),
        ));
    }
    if fd.pairs > 0 {
        out.push((
            cost(PAIR_RATE),
            format!(
                "{} word pair(s) never used together in the context",
                fd.pairs
            ),
        ));
    }
    if x[WORST_SCATTER] > 0.0 {
        out.push((
            cost(WORST_SCATTER),
            "combines words from different context sentences".to_string(),
        ));
    }
    // stable: equal costs keep the order above
    out.sort_by(|a, b| b.0.total_cmp(&a.0));
    out.into_iter().map(|x| x.1).collect()
}
