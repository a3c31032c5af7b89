//! What the scorer knows about words: the word lists as sorted hashes, the
//! stemmer, and a per-thread cache of each word's stem and lexical flags.

use std::cell::RefCell;

use rust_stemmers::{Algorithm, Stemmer};

use super::hashing::{fnv, mix, IdMap};
use super::token::{ABBREV, META, NEG, STOP};
use super::word_lists::WORDS;

/// Static word lists (as hashes) and the stemmer. Built once per `Scorer`.
pub(crate) struct Lexicon {
    stop: Vec<u64>,
    meta: Vec<u64>,
    neg: Vec<u64>,
    abbrev: Vec<u64>,
    numbers: Vec<(u64, f64)>,
    scales: Vec<(u64, f64)>,
    months: Vec<(u64, u64)>,
    percent: u64,
    /// "may": a month, or the modal verb when not capitalised.
    pub(super) may: u64,
    stemmer: Stemmer,
}

/// Hashes of `words`, sorted and deduplicated for `binary_search`.
pub(crate) fn sorted_hashes(words: &[&str]) -> Vec<u64> {
    let mut v: Vec<u64> = words.iter().map(|w| fnv(w.as_bytes())).collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn sorted_pairs<T: Copy>(words: &[(&str, T)]) -> Vec<(u64, T)> {
    let mut v: Vec<(u64, T)> = words.iter().map(|(w, x)| (fnv(w.as_bytes()), *x)).collect();
    v.sort_unstable_by_key(|p| p.0);
    v
}

#[inline]
fn lookup<T: Copy>(v: &[(u64, T)], h: u64) -> Option<T> {
    v.binary_search_by_key(&h, |p| p.0).ok().map(|i| v[i].1)
}

impl Lexicon {
    pub fn new() -> Self {
        let words = &*WORDS;
        Lexicon {
            stop: sorted_hashes(&[words.stop.as_slice(), words.generic.as_slice()].concat()),
            meta: sorted_hashes(&words.meta),
            neg: sorted_hashes(&words.negations),
            abbrev: sorted_hashes(&words.abbreviations),
            numbers: sorted_pairs(&words.number_words),
            scales: sorted_pairs(&words.scales),
            months: sorted_pairs(&words.months),
            percent: fnv(b"percent"),
            may: fnv(b"may"),
            stemmer: Stemmer::create(Algorithm::English),
        }
    }

    #[inline]
    pub fn is_meta(&self, h: u64) -> bool {
        self.meta.binary_search(&h).is_ok()
    }
}

impl Default for Lexicon {
    fn default() -> Self {
        Self::new()
    }
}

const STEM_CACHE_MAX: usize = 1 << 17;

/// What the lexicon knows about a lower-cased word, cached per thread.
#[derive(Clone, Copy)]
pub(super) struct WordInfo {
    pub(super) stem: u64,
    /// STOP / NEG / META / ABBREV
    pub(super) flags: u16,
    /// number word value, or scale factor
    pub(super) value: f64,
    pub(super) class: WordClass,
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum WordClass {
    Plain,
    NumberWord,
    Scale,
    Percent,
    Month,
}

thread_local! {
    /// surface hash -> word info (stem hash, lexical flags). Vocabulary is Zipfian, so
    /// after warm-up almost every token is one hash probe and the Snowball stemmer
    /// runs only for new words.
    pub(super) static WORD_CACHE: RefCell<IdMap<WordInfo>> = RefCell::new(IdMap::default());
}

pub(super) fn word_info(
    lex: &Lexicon,
    cache: &mut IdMap<WordInfo>,
    hash: u64,
    word: &str,
) -> WordInfo {
    if let Some(w) = cache.get(&hash) {
        return *w;
    }
    let mut flags = 0u16;
    if lex.abbrev.binary_search(&hash).is_ok() {
        flags |= ABBREV;
    }
    if lex.neg.binary_search(&hash).is_ok() {
        flags |= NEG;
    }
    let (class, value) = if let Some(v) = lookup(&lex.scales, hash) {
        (WordClass::Scale, v)
    } else if hash == lex.percent {
        (WordClass::Percent, 0.0)
    } else if let Some(v) = lookup(&lex.numbers, hash) {
        (WordClass::NumberWord, v)
    } else if let Some(m) = lookup(&lex.months, hash) {
        (WordClass::Month, m as f64)
    } else {
        (WordClass::Plain, 0.0)
    };
    if lex.stop.binary_search(&hash).is_ok() {
        flags |= STOP;
    }
    if lex.is_meta(hash) {
        flags |= META | STOP;
    }
    let stem = if class == WordClass::Month {
        mix(0x006d_6f6e_7468, value as u64)
    } else if flags & STOP != 0 || word.is_empty() {
        hash
    } else {
        fnv(lex.stemmer.stem(word).as_bytes())
    };
    let info = WordInfo {
        stem,
        flags,
        value,
        class,
    };
    if cache.len() >= STEM_CACHE_MAX {
        cache.clear();
    }
    cache.insert(hash, info);
    info
}
