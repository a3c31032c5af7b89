//! The per-call index of the context passages: sentences, BM25 postings,
//! vocabulary with idf, and the numbers the context states. Built once per
//! scored answer; every claim of the answer is checked against it.

use crate::grounding::claims;
use crate::grounding::normalize::{tokenize, Kind, Lexicon, NormText, Token, NEG, SCALED, STOP};

pub(super) struct Sent {
    item: u32,
    /// original byte range within the context item
    ob_start: u32,
    ob_end: u32,
    /// content words (stop words left out), for BM25's length normalisation
    pub(super) len: f32,
    /// the sentence contains a negation cue
    pub(super) neg: bool,
}

/// Per-call index of the context: postings for BM25, vocabulary, bigrams, numbers.
pub(crate) struct ContextIndex<'c> {
    items: Vec<&'c str>,
    pub(super) sents: Vec<Sent>,
    /// (stem, sentence) sorted and deduplicated
    pub(super) post: Vec<(u64, u32)>,
    /// (stem, first posting, end posting, idf)
    vocab: Vec<(u64, u32, u32, f32)>,
    numbers: Vec<(f64, u16)>,
    /// (stem of the counted word, value) for "<number> <word>" in the context
    counts: Vec<(u64, f64)>,
    pub(super) avg_len: f32,
}

/// Reusable buffers.
#[derive(Default)]
pub(crate) struct Scratch {
    pub tokens: Vec<Token>,
    pub buf: String,
    pub ranges: Vec<(usize, usize)>,
    /// BM25 score per context sentence (all zero between claims)
    pub(super) scores: Vec<f32>,
    /// sentences with a non-zero score
    pub(super) touched: Vec<u32>,
    /// unique content stems of the current claim
    pub(super) stems: Vec<u64>,
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
    pub(super) fn vocab_entry(&self, stem: u64) -> Option<&(u64, u32, u32, f32)> {
        self.vocab
            .binary_search_by_key(&stem, |v| v.0)
            .ok()
            .map(|i| &self.vocab[i])
    }

    #[inline]
    pub(super) fn in_sentence(&self, entry: &(u64, u32, u32, f32), sid: u32) -> bool {
        self.post[entry.1 as usize..entry.2 as usize]
            .binary_search_by_key(&sid, |p| p.1)
            .is_ok()
    }

    /// Spelled number followed by a word that the context counts with other numbers only.
    pub(super) fn counts_differently(&self, t: &Token, next: Option<&Token>) -> bool {
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
    pub(super) fn co_occur(&self, a: &(u64, u32, u32, f32), b: &(u64, u32, u32, f32)) -> bool {
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

    pub(super) fn number_supported(&self, t: &Token) -> bool {
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
