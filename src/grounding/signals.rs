//! Support signals of one claim against an indexed context.
//!
//! Every signal is a non-negative "evidence of non-support" value; 0 means the
//! signal found nothing wrong. The scorer turns the weighted sum of signals into
//! a claim support `exp(-λ)`.

use super::claims;
use super::normalize::{
    fnv, tokenize, Kind, Lexicon, NormText, Token, CAP, DIGITS, NEG, SCALED, STOP,
};

/// Number of signals per claim.
pub const NF: usize = 8;

/// Signal names, in weight order (also the keys of `weights.json`).
pub const FEATURES: [&str; NF] = [
    "novel_words",
    "novel_ratio",
    "cross_sentence_pairs",
    "numbers",
    "entities",
    "negation_added",
    "negation_dropped",
    "scatter",
];

pub(crate) const F_NOVEL: usize = 0;
pub(crate) const F_RATIO: usize = 1;
pub(crate) const F_PAIRS: usize = 2;
pub(crate) const F_NUM: usize = 3;
pub(crate) const F_ENT: usize = 4;
pub(crate) const F_NEG_ADD: usize = 5;
pub(crate) const F_NEG_DROP: usize = 6;
pub(crate) const F_SCATTER: usize = 7;

const K1: f32 = 1.2;
const B: f32 = 0.75;

struct Sent {
    item: u32,
    /// original byte range within the context item
    ob_start: u32,
    ob_end: u32,
    len: f32,
    neg: bool,
}

/// Per-call index of the context: postings for BM25, vocabulary, bigrams, numbers.
pub(crate) struct ContextIndex<'c> {
    items: Vec<&'c str>,
    sents: Vec<Sent>,
    /// (stem, sentence) sorted and deduplicated
    post: Vec<(u64, u32)>,
    /// (stem, first posting, end posting, idf)
    vocab: Vec<(u64, u32, u32, f32)>,
    numbers: Vec<(f64, u16)>,
    /// (stem of the counted word, value) for "<number> <word>" in the context
    counts: Vec<(u64, f64)>,
    avg_len: f32,
}

/// Reusable buffers.
#[derive(Default)]
pub(crate) struct Scratch {
    pub tokens: Vec<Token>,
    pub buf: String,
    pub ranges: Vec<(usize, usize)>,
    scores: Vec<f32>,
    touched: Vec<u32>,
    stems: Vec<u64>,
}

impl<'c> ContextIndex<'c> {
    pub fn build<S: AsRef<str>>(context: &'c [S], lex: &Lexicon, sc: &mut Scratch) -> Self {
        let mut ix = ContextIndex {
            items: Vec::with_capacity(context.len()),
            sents: Vec::new(),
            post: Vec::new(),
            vocab: Vec::new(),
            numbers: Vec::new(),
            counts: Vec::new(),
            avg_len: 1.0,
        };
        for (item_no, item) in context.iter().enumerate() {
            let item = item.as_ref();
            ix.items.push(item);
            let nt = NormText::new(item);
            tokenize(&nt.text, lex, &mut sc.tokens, &mut sc.buf);
            claims::split(&sc.tokens, &mut sc.ranges);
            ix.post.reserve(sc.tokens.len());
            for &(a, b) in &sc.ranges {
                let sid = ix.sents.len() as u32;
                let mut len = 0u32;
                let mut neg = false;
                for (k, t) in sc.tokens[a..b].iter().enumerate() {
                    match t.kind {
                        Kind::Punct => {}
                        Kind::Number => {
                            ix.numbers.push((t.value, t.flags));
                            if let Some(u) = sc.tokens[a..b].get(k + 1) {
                                if u.kind == Kind::Word {
                                    ix.counts.push((u.stem, t.value));
                                }
                            }
                        }
                        Kind::Word => {
                            if t.flags & STOP == 0 {
                                ix.post.push((t.stem, sid));
                                len += 1;
                            }
                            if t.flags & NEG != 0 {
                                neg = true;
                            }
                        }
                    }
                }
                let s = sc.tokens[a].start as usize;
                let e = sc.tokens[b - 1].end as usize;
                ix.sents.push(Sent {
                    item: item_no as u32,
                    ob_start: nt.orig_byte(s) as u32,
                    ob_end: nt.orig_byte(e) as u32,
                    len: len as f32,
                    neg,
                });
            }
        }
        ix.post.sort_unstable();
        ix.post.dedup();
        let n = ix.sents.len().max(1) as f32;
        let total: f32 = ix.sents.iter().map(|s| s.len).sum();
        ix.avg_len = (total / n).max(1.0);
        let mut i = 0usize;
        while i < ix.post.len() {
            let stem = ix.post[i].0;
            let mut j = i + 1;
            while j < ix.post.len() && ix.post[j].0 == stem {
                j += 1;
            }
            let df = (j - i) as f32;
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            ix.vocab.push((stem, i as u32, j as u32, idf));
            i = j;
        }
        sc.scores.clear();
        sc.scores.resize(ix.sents.len(), 0.0);
        ix
    }

    #[inline]
    fn vocab_entry(&self, stem: u64) -> Option<&(u64, u32, u32, f32)> {
        self.vocab
            .binary_search_by_key(&stem, |v| v.0)
            .ok()
            .map(|i| &self.vocab[i])
    }

    #[inline]
    fn in_sentence(&self, entry: &(u64, u32, u32, f32), sid: u32) -> bool {
        self.post[entry.1 as usize..entry.2 as usize]
            .binary_search_by_key(&sid, |p| p.1)
            .is_ok()
    }

    /// Spelled number followed by a word that the context counts with other numbers only.
    fn counts_differently(&self, t: &Token, next: Option<&Token>) -> bool {
        let Some(u) = next.filter(|u| u.kind == Kind::Word) else {
            return false;
        };
        let mut seen = false;
        for &(stem, v) in &self.counts {
            if stem == u.stem {
                if (v - t.value).abs() < 1e-9 {
                    return false;
                }
                seen = true;
            }
        }
        seen
    }

    /// Do the two vocabulary entries share a context sentence? (sorted merge)
    fn co_occur(&self, a: &(u64, u32, u32, f32), b: &(u64, u32, u32, f32)) -> bool {
        let pa = &self.post[a.1 as usize..a.2 as usize];
        let pb = &self.post[b.1 as usize..b.2 as usize];
        let (mut i, mut j) = (0, 0);
        while i < pa.len() && j < pb.len() {
            match pa[i].1.cmp(&pb[j].1) {
                std::cmp::Ordering::Equal => return true,
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
            }
        }
        false
    }

    fn number_supported(&self, t: &Token) -> bool {
        let v = t.value;
        let tol = if t.flags & SCALED != 0 { 0.01 } else { 1e-9 };
        self.numbers.iter().any(|&(x, _)| {
            let d = (v - x).abs();
            d <= tol * x.abs().max(1e-9) || d < 1e-9
        })
    }

    /// Original text of sentence `sid` (the evidence span).
    pub fn evidence(&self, sid: usize) -> &'c str {
        match self.sents.get(sid) {
            Some(s) => {
                let item = self.items.get(s.item as usize).copied().unwrap_or("");
                item.get(s.ob_start as usize..s.ob_end as usize)
                    .unwrap_or("")
            }
            None => "",
        }
    }
}

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
    pub best: Option<usize>,
    pub refusal: bool,
}

/// Lexical cues for refusals ("the passages do not say", "I don't know").
pub(crate) struct Cues {
    refusal_verbs: Vec<u64>,
    refusal_nouns: Vec<u64>,
    no_info: Vec<u64>,
}

impl Cues {
    pub fn new() -> Self {
        let h = |ws: &[&str]| {
            let mut v: Vec<u64> = ws.iter().map(|w| fnv(w.as_bytes())).collect();
            v.sort_unstable();
            v
        };
        Cues {
            refusal_verbs: h(&[
                "mention",
                "mentions",
                "mentioned",
                "say",
                "says",
                "said",
                "specify",
                "specifies",
                "specified",
                "state",
                "states",
                "stated",
                "provide",
                "provides",
                "provided",
                "contain",
                "contains",
                "know",
                "indicate",
                "indicates",
                "include",
                "includes",
                "discuss",
                "discusses",
                "give",
                "gives",
                "answer",
                "determine",
                "tell",
                "clear",
                "sure",
                "address",
                "addresses",
                "explicitly",
                "enough",
                "sufficient",
                "any",
                "information",
            ]),
            refusal_nouns: h(&[
                "passage",
                "passages",
                "context",
                "document",
                "documents",
                "text",
                "article",
                "source",
                "sources",
                "information",
                "i",
                "excerpt",
                "snippet",
                "data",
            ]),
            no_info: h(&[
                "unable",
                "unclear",
                "insufficient",
                "unknown",
                "unavailable",
            ]),
        }
    }

    fn is_refusal(&self, toks: &[Token]) -> bool {
        let has_noun = toks
            .iter()
            .any(|t| t.kind == Kind::Word && self.refusal_nouns.binary_search(&t.hash).is_ok());
        if !has_noun {
            return false;
        }
        for (k, t) in toks.iter().enumerate() {
            if t.kind != Kind::Word {
                continue;
            }
            if self.no_info.binary_search(&t.hash).is_ok() {
                return true;
            }
            if t.flags & NEG != 0 {
                // the negated verb within the next three words
                for u in toks.iter().skip(k + 1).take(3) {
                    if u.kind == Kind::Word && self.refusal_verbs.binary_search(&u.hash).is_ok() {
                        return true;
                    }
                }
            }
        }
        false
    }
}

impl Default for Cues {
    fn default() -> Self {
        Self::new()
    }
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
        best,
        refusal: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signals(ctx: &[&str], claim: &str) -> ClaimSignals {
        let lex = Lexicon::new();
        let cues = Cues::new();
        let mut sc = Scratch::default();
        let ix = ContextIndex::build(ctx, &lex, &mut sc);
        let nt = NormText::new(claim);
        let mut toks = Vec::new();
        let mut buf = String::new();
        tokenize(&nt.text, &lex, &mut toks, &mut buf);
        claim_signals(&ix, &cues, &toks, &mut sc, None)
    }

    const CTX: &[&str] = &[
        "Poseidon grossed $181,674,817 at the worldwide box office on a budget of $160 million.",
        "The film was directed by Wolfgang Petersen. It was not a critical success.",
    ];

    #[test]
    fn supported_claim_has_no_signal() {
        let s = signals(
            CTX,
            "Poseidon grossed $181,674,817 worldwide on a $160 million budget.",
        );
        assert_eq!(s.f[F_NOVEL], 0.0);
        assert_eq!(s.f[F_NUM], 0.0);
        assert_eq!(s.f[F_ENT], 0.0);
        assert_eq!(s.best, Some(0));
    }

    #[test]
    fn content_word_coverage_uses_stems() {
        let s = signals(CTX, "The films were directed by Petersen.");
        assert_eq!(s.f[F_NOVEL], 0.0);
        let s = signals(CTX, "The film was produced by Petersen.");
        assert_eq!(s.f[F_NOVEL], 1.0);
        assert!(s.f[F_RATIO] > 0.0);
    }

    #[test]
    fn numbers_signal() {
        assert_eq!(
            signals(CTX, "It cost 160 million dollars to make.").f[F_NUM],
            0.0
        );
        assert_eq!(
            signals(CTX, "Poseidon grossed about $181.7 million.").f[F_NUM],
            0.0
        );
        assert_eq!(
            signals(CTX, "Poseidon had a budget of $150 million.").f[F_NUM],
            1.0
        );
        let moons = &["Mars has two moons, Phobos and Deimos."];
        assert_eq!(signals(moons, "Mars has three moons.").f[F_NUM], 1.0);
        assert_eq!(signals(moons, "Mars has 2 moons.").f[F_NUM], 0.0);
        // spelled-out counts of things the context does not count are not checked
        assert_eq!(
            signals(moons, "The passage names two different moons.").f[F_NUM],
            0.0
        );
    }

    #[test]
    fn entity_signal() {
        let s = signals(CTX, "The film was directed by Steven Spielberg.");
        assert_eq!(s.f[F_ENT], 2.0);
        assert_eq!(
            signals(CTX, "The film was directed by Wolfgang Petersen.").f[F_ENT],
            0.0
        );
    }

    #[test]
    fn negation_signals() {
        assert_eq!(
            signals(CTX, "Poseidon did not gross $181,674,817.").f[F_NEG_ADD],
            1.0
        );
        assert_eq!(
            signals(CTX, "It was not a critical success.").f[F_NEG_ADD],
            0.0
        );
        assert_eq!(
            signals(CTX, "The film was a critical success.").f[F_NEG_DROP],
            1.0
        );
    }

    #[test]
    fn pairs_and_scatter() {
        let s = signals(CTX, "Wolfgang Petersen grossed a budget.");
        assert_eq!(s.f[F_PAIRS], 1.0);
        assert!(s.f[F_SCATTER] > 0.0);
        assert_eq!(
            signals(CTX, "The film was directed by Wolfgang Petersen.").f[F_PAIRS],
            0.0
        );
    }

    #[test]
    fn refusals() {
        for r in [
            "The passages do not say who wrote the score.",
            "I don't know.",
            "The context does not mention the composer.",
            "There is no information about sequels in the provided text.",
        ] {
            assert!(signals(CTX, r).refusal, "{r}");
        }
        assert!(!signals(CTX, "The article states that Petersen did not direct it.").refusal);
    }
}
