//! Grounding (hallucination) scorer: how well is an answer supported by its context?
//!
//! Fast tier: CPU only, no model, in line with the request. The answer is split
//! into claims (sentences / clauses); every claim is checked against the context
//! with lexical signals (content-word coverage after NFKC, case folding and Snowball
//! stemming; word pairs the context never uses together; numbers with `1,200` =
//! `1200` = `1.2 thousand`; capitalised names; added or dropped negations; facts
//! scattered over several passages). The best-matching context sentence (BM25) is
//! reported as evidence. The claim signals are folded into a few answer features
//! ([`features`]); a fixed unit-weight sum of them, calibrated by a one-feature
//! logistic fit, is the probability that the answer is supported (`weights.json`,
//! see [`scorer`]; fitted by [`fit`] with the procedure [`eval`] cross-validates).
//!
//! Offsets: `Claim::start` / `Claim::end` are **Unicode scalar value (code point)
//! offsets** into the answer, half-open, i.e. Python `answer[start:end]`. (JavaScript
//! strings index UTF-16 code units: convert with `Array.from(answer).slice(start, end)`.)
//!
//! ```ignore
//! use promptgate::grounding::Scorer;
//! let scorer = Scorer::new();
//! let ctx = ["Poseidon grossed $181,674,817 on a budget of $160 million."];
//! let r = scorer.score(&ctx, "Poseidon grossed $181.7 million on a $160 million budget.");
//! assert!(!r.flagged);
//! let r = scorer.score(&ctx, "Poseidon grossed $250 million on a $160 million budget.");
//! assert!(r.flagged);
//! ```
mod claims;
pub mod eval;
mod features;
pub mod fit;
pub mod judge;
pub(crate) mod normalize;
mod report;
mod scorer;
mod scoring;
mod signals;

pub use eval::{Dataset, EvalReport};
pub use features::CANDIDATES as FEATURES;
pub use report::{Claim, GroundingReport};
pub use scoring::Scorer;

/// A flag threshold must lie in [0, 1] (0: never flag; 1: flag every answer).
pub fn valid_threshold(t: f64) -> bool {
    (0.0..=1.0).contains(&t)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod fuzz;
