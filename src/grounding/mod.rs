//! Grounding (hallucination) scorer: how well is an answer supported by its context?
//!
//! Fast tier: CPU only, no model, in line with the request. The answer is split
//! into claims (sentences / clauses); every claim is checked against the context
//! with lexical signals (content-word coverage after NFKC, case folding and Snowball
//! stemming; word pairs the context never uses together; numbers with `1,200` =
//! `1200` = `1.2 thousand`; capitalised names; added or dropped negations; facts
//! scattered over several passages). The best-matching context sentence (BM25) is
//! reported as evidence. Signals are combined with weights fitted on dev data
//! (`weights.json`, see [`scorer`] and [`eval`]).
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

pub mod claims;
pub mod eval;
pub(crate) mod normalize;
pub mod scorer;
pub mod signals;

use std::cell::RefCell;

use serde::Serialize;

use normalize::{tokenize, Lexicon, NormText, Token};
use scorer::Model;
use signals::{claim_signals, ClaimSignals, ContextIndex, Cues, Findings, Scratch, FEATURES, NF};

pub use eval::{Dataset, EvalReport};
pub use signals::FEATURES as SIGNALS;

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

/// The grounding scorer. Cheap to share (`Send + Sync`); build it once.
pub struct Scorer {
    model: Model,
    lex: Lexicon,
    cues: Cues,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

impl Default for Scorer {
    fn default() -> Self {
        Self::new()
    }
}

impl Scorer {
    /// Scorer with the built-in weights and threshold (`weights.json`).
    pub fn new() -> Self {
        Self::with_model(Model::builtin())
    }

    /// Scorer with explicit weights (used by the evaluation's cross-validation).
    pub fn with_model(model: Model) -> Self {
        Scorer {
            model,
            lex: Lexicon::new(),
            cues: Cues::new(),
        }
    }

    pub fn with_threshold(mut self, t: f64) -> Self {
        self.model.threshold = t;
        self
    }

    pub fn threshold(&self) -> f64 {
        self.model.threshold
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Scores `answer` against the context passages.
    pub fn score(&self, context: &[impl AsRef<str>], answer: &str) -> GroundingReport {
        let mut sc = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
        let report = self.score_with(context, answer, &mut sc);
        SCRATCH.with(|s| *s.borrow_mut() = sc);
        report
    }

    fn score_with(
        &self,
        context: &[impl AsRef<str>],
        answer: &str,
        sc: &mut Scratch,
    ) -> GroundingReport {
        let ix = ContextIndex::build(context, &self.lex, sc);
        let nt = NormText::new(answer);
        let mut toks: Vec<Token> = Vec::new();
        tokenize(&nt.text, &self.lex, &mut toks, &mut sc.buf);
        let mut ranges = Vec::new();
        claims::split(&toks, &mut ranges);
        let mut claims_out = Vec::with_capacity(ranges.len());
        let mut total = 0.0f64;
        for &(a, b) in &ranges {
            let mut fd = Findings::default();
            let sig = claim_signals(&ix, &self.cues, &toks[a..b], sc, Some(&mut fd));
            let lambda = if sig.refusal {
                0.0
            } else {
                self.model.lambda(&sig.f)
            };
            total += lambda;
            let (s, e) = (toks[a].start as usize, toks[b - 1].end as usize);
            let text = answer
                .get(nt.orig_byte(s)..nt.orig_byte(e))
                .unwrap_or("")
                .to_string();
            claims_out.push(Claim {
                text,
                start: nt.orig_char(s),
                end: nt.orig_char(e),
                support: (-lambda).exp(),
                evidence: sig
                    .best
                    .map(|i| ix.evidence(i).to_string())
                    .unwrap_or_default(),
                reasons: self.reasons(&nt.text, &sig, &fd),
            });
        }
        let score = (-total).exp();
        GroundingReport {
            score,
            flagged: score < self.model.threshold,
            threshold: self.model.threshold,
            claims: claims_out,
        }
    }

    /// Per-answer sums of the claim signals (what the model is fitted on).
    pub fn answer_signals(&self, context: &[impl AsRef<str>], answer: &str) -> [f64; NF] {
        let mut sc = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
        let ix = ContextIndex::build(context, &self.lex, &mut sc);
        let nt = NormText::new(answer);
        let mut toks: Vec<Token> = Vec::new();
        tokenize(&nt.text, &self.lex, &mut toks, &mut sc.buf);
        let mut ranges = Vec::new();
        claims::split(&toks, &mut ranges);
        let mut sum = [0.0; NF];
        for &(a, b) in &ranges {
            let sig = claim_signals(&ix, &self.cues, &toks[a..b], &mut sc, None);
            if !sig.refusal {
                for (total, x) in sum.iter_mut().zip(sig.f) {
                    *total += x;
                }
            }
        }
        SCRATCH.with(|s| *s.borrow_mut() = sc);
        sum
    }

    fn reasons(&self, text: &str, sig: &ClaimSignals, fd: &Findings) -> Vec<String> {
        use signals::*;
        let w = &self.model.weights;
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
}

/// Names of the signals, in weight order.
pub fn signal_names() -> [&'static str; NF] {
    FEATURES
}

#[cfg(test)]
mod tests;
