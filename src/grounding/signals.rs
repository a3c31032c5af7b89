//! Support signals of one claim against an indexed context.
//!
//! Every signal is a non-negative "evidence of non-support" value; 0 means the
//! signal found nothing wrong. The scorer turns the weighted sum of signals into
//! a claim support `exp(-λ)`.

//!
//! The context index the claims are checked against is in [`context`], the
//! refusal detection in [`cues`].

mod context;
mod cues;

pub(crate) use context::{ContextIndex, Scratch};
pub(crate) use cues::Cues;

use super::normalize::{Kind, Token, CAP, DIGITS, NEG, STOP};

/// Number of signals per claim.
pub const NF: usize = 8;

// Signal indices (claim-level; `features` folds them per answer).
pub(crate) const F_NOVEL: usize = 0;
pub(crate) const F_RATIO: usize = 1;
pub(crate) const F_PAIRS: usize = 2;
pub(crate) const F_NUM: usize = 3;
pub(crate) const F_ENT: usize = 4;
pub(crate) const F_NEG_ADD: usize = 5;
pub(crate) const F_NEG_DROP: usize = 6;
pub(crate) const F_SCATTER: usize = 7;

/// BM25 parameters (the usual defaults) for picking the evidence sentence.
const K1: f32 = 1.2;
const B: f32 = 0.75;

/// Details of what a claim's signals found, for the reasons list.
#[derive(Default, Debug)]
pub(crate) struct Findings {
    pub novel: Vec<(u32, u32)>,
    pub numbers: Vec<(u32, u32)>,
    pub entities: Vec<(u32, u32)>,
    pub negation: Option<(u32, u32)>,
    pub pairs: u32,
}

/// Signals of one claim.
pub(crate) struct ClaimSignals {
    pub f: [f64; NF],
    /// unique content stems of the claim (the denominator of its coverage)
    pub content: usize,
    pub best: Option<usize>,
    pub refusal: bool,
}

/// Computes the signals of the claim made of `toks` (a slice of the answer's tokens).
pub(crate) fn claim_signals(
    ix: &ContextIndex<'_>,
    cues: &Cues,
    toks: &[Token],
    sc: &mut Scratch,
    mut find: Option<&mut Findings>,
) -> ClaimSignals {
    let mut f = [0.0f64; NF];
    if cues.is_refusal(toks) {
        return ClaimSignals {
            f,
            content: 0,
            best: None,
            refusal: true,
        };
    }
    // unique content stems of the claim
    sc.stems.clear();
    let mut first_word = true;
    let mut novel = 0usize;
    let n_words = toks.iter().filter(|t| t.kind != Kind::Punct).count();
    for (k, t) in toks.iter().enumerate() {
        if t.kind == Kind::Word {
            // a capitalised claim-initial word is only taken for a name when the claim is a
            // bare phrase or the next word is capitalised too ("Malcolm Smith was ...")
            let initial = first_word
                && n_words > 3
                && !toks
                    .get(k + 1)
                    .is_some_and(|u| u.kind == Kind::Word && u.flags & CAP != 0);
            first_word = false;
            if t.flags & STOP != 0 {
                continue;
            }
            if sc.stems.contains(&t.stem) {
                continue;
            }
            sc.stems.push(t.stem);
            if ix.vocab_entry(t.stem).is_none() {
                novel += 1;
                if let Some(fd) = find.as_deref_mut() {
                    fd.novel.push((t.start, t.end));
                }
                if t.flags & CAP != 0 && !initial {
                    f[F_ENT] += 1.0;
                    if let Some(fd) = find.as_deref_mut() {
                        fd.entities.push((t.start, t.end));
                    }
                }
            }
        } else if t.kind == Kind::Number {
            first_word = false;
            // spelled-out counts ("two films") are summaries' bread and butter: they are
            // only checked when the context counts the same thing ("two moons" vs "three moons")
            let checked = t.flags & DIGITS != 0 || ix.counts_differently(t, toks.get(k + 1));
            if checked && !ix.number_supported(t) {
                f[F_NUM] += 1.0;
                if let Some(fd) = find.as_deref_mut() {
                    fd.numbers.push((t.start, t.end));
                }
            }
        }
    }
    let content = sc.stems.len();
    f[F_NOVEL] = novel as f64;
    if content > 0 {
        f[F_RATIO] = novel as f64 / content as f64;
    }

    // BM25 over context sentences -> best evidence
    let mut best: Option<usize> = None;
    if !ix.sents.is_empty() {
        sc.touched.clear();
        for &stem in &sc.stems {
            if let Some(e) = ix.vocab_entry(stem) {
                for &(_, sid) in &ix.post[e.1 as usize..e.2 as usize] {
                    let s = &ix.sents[sid as usize];
                    let norm = 1.0 + K1 * (1.0 - B + B * s.len / ix.avg_len);
                    let slot = &mut sc.scores[sid as usize];
                    if *slot == 0.0 {
                        sc.touched.push(sid);
                    }
                    *slot += e.3 * (K1 + 1.0) / norm;
                }
            }
        }
        let mut best_score = 0.0f32;
        for &sid in &sc.touched {
            let v = sc.scores[sid as usize];
            if v > best_score || (v == best_score && best.is_some_and(|b| (sid as usize) < b)) {
                best_score = v;
                best = Some(sid as usize);
            }
            sc.scores[sid as usize] = 0.0;
        }
    }

    // coverage inside the best sentence (scatter) and negation agreement
    let known = content - novel;
    let mut in_best = 0usize;
    if let Some(b) = best {
        for &stem in &sc.stems {
            if let Some(e) = ix.vocab_entry(stem) {
                if ix.in_sentence(e, b as u32) {
                    in_best += 1;
                }
            }
        }
        if known > 0 {
            f[F_SCATTER] = (known - in_best) as f64 / content as f64;
        }
    }
    // a bare "No." has nothing to negate
    let claim_neg = if content > 0 {
        toks.iter()
            .find(|t| t.kind == Kind::Word && t.flags & NEG != 0)
    } else {
        None
    };
    let best_neg = best.is_some_and(|b| ix.sents[b].neg);
    if let Some(t) = claim_neg {
        if !best_neg {
            f[F_NEG_ADD] = 1.0;
            if let Some(fd) = find.as_deref_mut() {
                fd.negation = Some((t.start, t.end));
            }
        }
    } else if best_neg && content >= 3 && in_best * 2 >= content {
        f[F_NEG_DROP] = 1.0;
    }

    // consecutive content words (stop words skipped) that the context knows but
    // never uses in the same sentence: facts recombined across sentences
    let mut prev: Option<&(u64, u32, u32, f32)> = None;
    let mut pairs = 0u32;
    for t in toks {
        if t.kind != Kind::Word || t.flags & STOP != 0 {
            continue;
        }
        let e = ix.vocab_entry(t.stem);
        if let (Some(p), Some(e)) = (prev, e) {
            if p.0 != e.0 && !ix.co_occur(p, e) {
                pairs += 1;
            }
        }
        prev = e;
    }
    f[F_PAIRS] = f64::from(pairs);
    if let Some(fd) = find {
        fd.pairs = pairs;
    }
    ClaimSignals {
        f,
        content,
        best,
        refusal: false,
    }
}

#[cfg(test)]
mod tests;
