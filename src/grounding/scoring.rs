//! The grounding scorer: splits an answer into claims, computes each claim's
//! signals against the context, folds them into answer features and turns those
//! into `P(supported)` with the calibrated model.

use std::cell::RefCell;

use super::claims;
use super::features::{of_claim, Tally, NC};
use super::normalize::{tokenize, Lexicon, NormText, Token};
use super::report::{reasons, Claim, GroundingReport};
use super::scorer::Model;
use super::signals::{claim_signals, ContextIndex, Cues, Findings, Scratch};

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

    /// Scores `answer` against the context passages (flagged below the scorer's threshold).
    pub fn score(&self, context: &[impl AsRef<str>], answer: &str) -> GroundingReport {
        self.score_at(context, answer, self.model.threshold)
    }

    /// Scores `answer`, flagging it when its score is below `threshold` (a
    /// per-request override of the configured threshold).
    pub fn score_at(
        &self,
        context: &[impl AsRef<str>],
        answer: &str,
        threshold: f64,
    ) -> GroundingReport {
        let mut sc = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
        let report = self.score_with(context, answer, threshold, &mut sc);
        SCRATCH.with(|s| *s.borrow_mut() = sc);
        report
    }

    fn score_with(
        &self,
        context: &[impl AsRef<str>],
        answer: &str,
        threshold: f64,
        sc: &mut Scratch,
    ) -> GroundingReport {
        let ix = ContextIndex::build(context, &self.lex, sc);
        let nt = NormText::new(answer);
        let mut toks: Vec<Token> = Vec::new();
        tokenize(&nt.text, &self.lex, &mut toks, &mut sc.buf);
        let mut ranges = Vec::new();
        claims::split(&toks, &mut ranges);
        let mut claims_out = Vec::with_capacity(ranges.len());
        let mut tally = Tally::default();
        for &(a, b) in &ranges {
            let mut fd = Findings::default();
            let sig = claim_signals(&ix, &self.cues, &toks[a..b], sc, Some(&mut fd));
            tally.add(&sig);
            let x = of_claim(&sig);
            let (s, e) = (toks[a].start as usize, toks[b - 1].end as usize);
            let text = answer
                .get(nt.orig_byte(s)..nt.orig_byte(e))
                .unwrap_or("")
                .to_string();
            claims_out.push(Claim {
                text,
                start: nt.orig_char(s),
                end: nt.orig_char(e),
                support: shown(&self.model, &x),
                evidence: sig
                    .best
                    .map(|i| ix.evidence(i).to_string())
                    .unwrap_or_default(),
                reasons: reasons(&self.model, &nt.text, &x, &fd),
            });
        }
        let score = shown(&self.model, &tally.features());
        GroundingReport {
            score,
            flagged: score < threshold,
            threshold,
            claims: claims_out,
        }
    }

    /// The answer's features (what the model is fitted on).
    pub fn answer_features(&self, context: &[impl AsRef<str>], answer: &str) -> [f64; NC] {
        let mut sc = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
        let ix = ContextIndex::build(context, &self.lex, &mut sc);
        let nt = NormText::new(answer);
        let mut toks: Vec<Token> = Vec::new();
        tokenize(&nt.text, &self.lex, &mut toks, &mut sc.buf);
        let mut ranges = Vec::new();
        claims::split(&toks, &mut ranges);
        let mut tally = Tally::default();
        for &(a, b) in &ranges {
            tally.add(&claim_signals(&ix, &self.cues, &toks[a..b], &mut sc, None));
        }
        SCRATCH.with(|s| *s.borrow_mut() = sc);
        tally.features()
    }
}

/// The score a report shows for features `x`: the model's `P(supported)`,
/// except that an answer (or claim) with nothing against it (no feature the
/// model weighs fires) scores 1.0, as the API promises ("1 = fully
/// supported"). The order of scores is unchanged (that case is the model's
/// highest score, `σ(−b)`, since weights and features are never negative),
/// so flags at any threshold up to that value and every ranking metric stay
/// the same; the calibrated probability of such an answer is `σ(−b)`.
fn shown(model: &Model, x: &[f64; NC]) -> f64 {
    if model.logit(x) <= model.bias {
        1.0
    } else {
        model.support(x)
    }
}
