//! Answer-level features: the claim signals of an answer folded into a few
//! numbers the calibrated model ([`super::scorer`]) combines.
//!
//! Every feature is a "risk": 0 when nothing is wrong, larger when less of the
//! answer is backed by the context, so the model's weights can be held `>= 0`
//! (more missing content never raises the support). How the shipped model
//! weighs them is decided in [`super::fit`], not here.

use super::signals::{
    ClaimSignals, F_ENT, F_NEG_ADD, F_NEG_DROP, F_NOVEL, F_NUM, F_PAIRS, F_SCATTER,
};

/// Number of candidate features.
pub const NC: usize = 8;

/// Candidate feature names, in weight order (the keys of `weights.json`).
pub const CANDIDATES: [&str; NC] = [
    "worst_claim_gap",
    "answer_gap",
    "numbers",
    "names",
    "negation_added",
    "negation_dropped",
    "pair_rate",
    "worst_scatter",
];

/// Index of the one-signal baseline's feature: `1 - coverage` of the answer's
/// least covered claim, coverage = share of its content words in the context.
pub const WORST_GAP: usize = 0;
// The others follow in `CANDIDATES` order.
pub(crate) const ANSWER_GAP: usize = WORST_GAP + 1;
pub(crate) const NUMBERS: usize = ANSWER_GAP + 1;
pub(crate) const NAMES: usize = NUMBERS + 1;
pub(crate) const NEG_ADDED: usize = NAMES + 1;
pub(crate) const NEG_DROPPED: usize = NEG_ADDED + 1;
pub(crate) const PAIR_RATE: usize = NEG_DROPPED + 1;
pub(crate) const WORST_SCATTER: usize = PAIR_RATE + 1;

/// Counts of hard evidence are capped: a third unsupported number says little
/// more than the second, and an uncapped count lets one long answer dominate a fit.
const COUNT_CAP: f64 = 2.0;

/// Running totals over the claims of an answer (refusals left out).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Tally {
    content: f64,
    novel: f64,
    worst_gap: f64,
    numbers: f64,
    names: f64,
    neg_added: f64,
    neg_dropped: f64,
    pairs: f64,
    worst_scatter: f64,
}

impl Tally {
    pub fn add(&mut self, sig: &ClaimSignals) {
        if sig.refusal {
            return;
        }
        let f = &sig.f;
        let content = sig.content as f64;
        self.content += content;
        self.novel += f[F_NOVEL];
        if content > 0.0 {
            self.worst_gap = self.worst_gap.max(f[F_NOVEL] / content);
        }
        self.numbers += f[F_NUM];
        self.names += f[F_ENT];
        self.neg_added += f[F_NEG_ADD];
        self.neg_dropped += f[F_NEG_DROP];
        self.pairs += f[F_PAIRS];
        self.worst_scatter = self.worst_scatter.max(f[F_SCATTER]);
    }

    /// The candidate features, in [`CANDIDATES`] order.
    pub fn features(&self) -> [f64; NC] {
        let per_word = |x: f64| {
            if self.content > 0.0 {
                x / self.content
            } else {
                0.0
            }
        };
        let mut x = [0.0; NC];
        x[WORST_GAP] = self.worst_gap;
        x[ANSWER_GAP] = per_word(self.novel);
        x[NUMBERS] = self.numbers.min(COUNT_CAP);
        x[NAMES] = self.names.min(COUNT_CAP);
        x[NEG_ADDED] = self.neg_added.min(COUNT_CAP);
        x[NEG_DROPPED] = self.neg_dropped.min(COUNT_CAP);
        x[PAIR_RATE] = per_word(self.pairs).min(1.0);
        x[WORST_SCATTER] = self.worst_scatter;
        x
    }
}

/// The features of one claim on its own (the per-claim support).
pub(crate) fn of_claim(sig: &ClaimSignals) -> [f64; NC] {
    let mut t = Tally::default();
    t.add(sig);
    t.features()
}
