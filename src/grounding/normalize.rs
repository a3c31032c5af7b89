//! Text normalisation and tokenisation for the grounding scorer.
//!
//! Everything here works on a *normalised* copy of the input (Unicode NFKC,
//! only materialised when the input is not pure ASCII) and keeps a map back to
//! the original text so that claims can report offsets into what the client
//! sent. Tokens carry 64-bit hashes of their lower-cased surface form and of
//! their (Snowball English) stem; numbers carry their numeric value so that
//! `1,200`, `1200` and `1.2 thousand` compare equal.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use rust_stemmers::{Algorithm, Stemmer};
use unicode_normalization::char::canonical_combining_class;
use unicode_normalization::UnicodeNormalization;

// ---------------------------------------------------------------- hashing

/// FNV-1a over bytes: tiny, allocation free, good enough for vocabulary ids.
#[inline]
pub(crate) fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Mixes two ids into one (used for bigrams and typed ids).
#[inline]
pub(crate) fn mix(a: u64, b: u64) -> u64 {
    let x = a.rotate_left(17) ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let x = (x ^ (x >> 31)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^ (x >> 29)
}

/// Hasher for keys that already are good 64-bit hashes.
#[derive(Default)]
pub(crate) struct IdHasher(u64);
impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = fnv(bytes);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}
pub(crate) type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

// ---------------------------------------------------------------- NFKC with offset map

/// A normalised view of a text plus the map back to the original.
pub(crate) struct NormText<'a> {
    pub text: Cow<'a, str>,
    /// For each byte of `text` (plus one sentinel): (original byte, original char) offset.
    /// `None` when the input is ASCII (then both offsets equal the byte offset).
    map: Option<Vec<(u32, u32)>>,
}

impl<'a> NormText<'a> {
    pub fn new(s: &'a str) -> Self {
        if s.is_ascii() {
            return NormText {
                text: Cow::Borrowed(s),
                map: None,
            };
        }
        let mut out = String::with_capacity(s.len() + 8);
        let mut map: Vec<(u32, u32)> = Vec::with_capacity(s.len() + 9);
        // Normalise chunk by chunk: a starter plus its combining marks. Composition
        // never crosses such a chunk for the scripts we care about, and each output
        // byte maps to the start of its chunk.
        let mut chunk_b = 0usize;
        let mut chunk_c = 0usize;
        let mut nchars = 0usize;
        for (b, c) in s.char_indices() {
            if b > chunk_b && canonical_combining_class(c) == 0 {
                push_chunk(&s[chunk_b..b], chunk_b, chunk_c, &mut out, &mut map);
                chunk_b = b;
                chunk_c = nchars;
            }
            nchars += 1;
        }
        if chunk_b < s.len() {
            push_chunk(&s[chunk_b..], chunk_b, chunk_c, &mut out, &mut map);
        }
        map.push((s.len() as u32, nchars as u32));
        NormText {
            text: Cow::Owned(out),
            map: Some(map),
        }
    }

    /// Original byte offset of normalised byte offset `nb`.
    #[inline]
    pub fn orig_byte(&self, nb: usize) -> usize {
        match &self.map {
            None => nb,
            Some(m) => m.get(nb).map_or(0, |x| x.0 as usize),
        }
    }

    /// Original char (Unicode scalar value) offset of normalised byte offset `nb`.
    #[inline]
    pub fn orig_char(&self, nb: usize) -> usize {
        match &self.map {
            None => nb,
            Some(m) => m.get(nb).map_or(0, |x| x.1 as usize),
        }
    }
}

fn push_chunk(chunk: &str, b: usize, c: usize, out: &mut String, map: &mut Vec<(u32, u32)>) {
    let before = out.len();
    if chunk.is_ascii() {
        out.push_str(chunk);
    } else {
        for ch in chunk.nfkc() {
            out.push(ch);
        }
    }
    for _ in before..out.len() {
        map.push((b as u32, c as u32));
    }
}

// ---------------------------------------------------------------- lexicon

pub(crate) const STOP: u16 = 1;
pub(crate) const CAP: u16 = 2;
pub(crate) const NEG: u16 = 4;
pub(crate) const PERCENT: u16 = 8;
pub(crate) const SCALED: u16 = 16;
pub(crate) const SENT_END: u16 = 32;
pub(crate) const CLAUSE_END: u16 = 64;
pub(crate) const NEWLINE: u16 = 128;
pub(crate) const COLON: u16 = 256;
pub(crate) const META: u16 = 512;
pub(crate) const ABBREV: u16 = 1024;
pub(crate) const SHORT: u16 = 2048;
/// a number written with digits
pub(crate) const DIGITS: u16 = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Word,
    Number,
    Punct,
}

/// One token. Offsets are byte offsets into the *normalised* text.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Token {
    pub start: u32,
    pub end: u32,
    /// hash of the lower-cased surface form
    pub hash: u64,
    /// hash of the stem (numbers: of the value; months: of the month number)
    pub stem: u64,
    pub value: f64,
    pub kind: Kind,
    pub flags: u16,
}

impl Token {
    #[inline]
    pub fn has(&self, f: u16) -> bool {
        self.flags & f != 0
    }
}

const STOPWORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "few",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "me",
    "more",
    "most",
    "my",
    "myself",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "out",
    "over",
    "own",
    "same",
    "she",
    "should",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "yours",
    "may",
    "might",
    "must",
    "shall",
    "one",
    "ones",
    "within",
    "upon",
    "via",
    "yet",
    "however",
    "moreover",
    "furthermore",
    "additionally",
    "overall",
    "thus",
    "therefore",
    "hence",
    "also",
    "well",
    "another",
    "including",
    "s",
    "t",
    "etc",
    "eg",
    "ie",
    "us",
    "let",
    "lets",
    "here's",
    "there's",
    "it's",
    "that's",
    "they're",
    "we're",
    "you're",
    "i'm",
    "i've",
    "i'd",
    "i'll",
    "whose",
    "whether",
    "although",
    "though",
    "since",
    "unless",
    "among",
    "amongst",
    "around",
    "along",
    "across",
    "behind",
    "beyond",
    "toward",
    "towards",
    "onto",
    "per",
    "many",
    "much",
    "several",
    "various",
    "certain",
    // negation cues are stop words too (they are scored by their own signal)
    "not",
    "no",
    "never",
    "none",
    "nobody",
    "nothing",
    "neither",
    "nor",
    "without",
    "cannot",
    "nowhere",
    "yes",
];

/// Words that describe the answer or the context itself ("the passage states…").
const META_WORDS: &[&str] = &[
    "passage",
    "passages",
    "context",
    "contexts",
    "document",
    "documents",
    "text",
    "texts",
    "article",
    "articles",
    "source",
    "sources",
    "summary",
    "summaries",
    "summarize",
    "summarizes",
    "summarized",
    "summarise",
    "summarised",
    "excerpt",
    "snippet",
    "provided",
    "given",
    "information",
    "info",
    "mention",
    "mentions",
    "mentioned",
    "state",
    "states",
    "stated",
    "according",
    "describes",
    "described",
    "discusses",
    "discussed",
    "concise",
    "brief",
    "briefly",
    "key",
    "main",
    "points",
    "point",
    "details",
    "detail",
    "highlights",
    "highlighted",
    "notes",
    "noted",
    "explains",
    "explained",
    "indicates",
    "indicated",
    "specify",
    "specifies",
    "specified",
    "say",
    "says",
    "said",
    "reports",
    "reported",
    "answer",
    "question",
    "based",
    "following",
    "above",
    "below",
    "core",
    "pieces",
    "piece",
    "covering",
    "covers",
    "provides",
    "provide",
    "contains",
    "contain",
    "know",
];

/// Generic, low-information words that paraphrases and summaries add freely
/// ("two different films", "known as", "a film titled"). Treated like stop words.
const GENERIC_WORDS: &[&str] = &[
    "different",
    "separate",
    "distinct",
    "multiple",
    "numerous",
    "various",
    "titled",
    "entitled",
    "called",
    "named",
    "known",
    "new",
    "former",
    "previously",
    "previous",
    "initially",
    "currently",
    "current",
    "later",
    "subsequently",
    "individual",
    "individuals",
    "entity",
    "entities",
    "total",
    "number",
    "specific",
    "particular",
    "notable",
    "notably",
    "significant",
    "significantly",
    "respectively",
    "approximately",
    "roughly",
    "nearly",
    "almost",
    "around",
    "solely",
    "mainly",
    "primarily",
    "especially",
    "particularly",
    "including",
    "includes",
    "included",
    "involves",
    "involved",
    "involving",
    "related",
    "regarding",
    "concerning",
    "focuses",
    "focused",
    "focusing",
    "serves",
    "served",
    "serving",
    "refers",
    "referred",
    "referring",
    "consists",
    "consisting",
    "features",
    "featured",
    "featuring",
    "topic",
    "topics",
    "subject",
    "subjects",
    "aspect",
    "aspects",
    "thing",
    "things",
    "event",
    "events",
    "made",
    "make",
    "makes",
    "took",
    "take",
    "takes",
    "became",
    "become",
    "becomes",
];

const NEGATIONS: &[&str] = &[
    "not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "without", "cannot",
    "nowhere",
];

const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "inc", "ltd", "co", "corp",
    "no", "vol", "fig", "approx", "est", "dept", "gen", "gov", "sen", "rep", "lt", "col", "capt",
    "sgt", "mt", "ft", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct",
    "nov", "dec", "e.g", "i.e", "al",
];

const NUMBER_WORDS: &[(&str, f64)] = &[
    ("zero", 0.0),
    ("two", 2.0),
    ("three", 3.0),
    ("four", 4.0),
    ("five", 5.0),
    ("six", 6.0),
    ("seven", 7.0),
    ("eight", 8.0),
    ("nine", 9.0),
    ("ten", 10.0),
    ("eleven", 11.0),
    ("twelve", 12.0),
    ("thirteen", 13.0),
    ("fourteen", 14.0),
    ("fifteen", 15.0),
    ("sixteen", 16.0),
    ("seventeen", 17.0),
    ("eighteen", 18.0),
    ("nineteen", 19.0),
    ("twenty", 20.0),
    ("thirty", 30.0),
    ("forty", 40.0),
    ("fifty", 50.0),
    ("sixty", 60.0),
    ("seventy", 70.0),
    ("eighty", 80.0),
    ("ninety", 90.0),
    ("dozen", 12.0),
    ("twice", 2.0),
    ("thrice", 3.0),
    ("half", 0.5),
];

const SCALES: &[(&str, f64)] = &[
    ("hundred", 1e2),
    ("thousand", 1e3),
    ("million", 1e6),
    ("millions", 1e6),
    ("billion", 1e9),
    ("billions", 1e9),
    ("trillion", 1e12),
    ("bn", 1e9),
    ("mn", 1e6),
];

const MONTHS: &[(&str, u64)] = &[
    ("january", 1),
    ("jan", 1),
    ("february", 2),
    ("feb", 2),
    ("march", 3),
    ("mar", 3),
    ("april", 4),
    ("apr", 4),
    ("may", 5),
    ("june", 6),
    ("jun", 6),
    ("july", 7),
    ("jul", 7),
    ("august", 8),
    ("aug", 8),
    ("september", 9),
    ("sep", 9),
    ("sept", 9),
    ("october", 10),
    ("oct", 10),
    ("november", 11),
    ("nov", 11),
    ("december", 12),
    ("dec", 12),
];

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
    may: u64,
    stemmer: Stemmer,
}

fn sorted_hashes(words: &[&str]) -> Vec<u64> {
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
        Lexicon {
            stop: sorted_hashes(&[STOPWORDS, GENERIC_WORDS].concat()),
            meta: sorted_hashes(META_WORDS),
            neg: sorted_hashes(NEGATIONS),
            abbrev: sorted_hashes(ABBREVIATIONS),
            numbers: sorted_pairs(NUMBER_WORDS),
            scales: sorted_pairs(SCALES),
            months: sorted_pairs(MONTHS),
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

// ---------------------------------------------------------------- stem cache

const STEM_CACHE_MAX: usize = 1 << 17;

/// What the lexicon knows about a lower-cased word, cached per thread.
#[derive(Clone, Copy)]
pub(crate) struct WordInfo {
    stem: u64,
    /// STOP / NEG / META / ABBREV
    flags: u16,
    /// number word value, or scale factor
    value: f64,
    class: WordClass,
}

#[derive(Clone, Copy, PartialEq)]
enum WordClass {
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
    static WORD_CACHE: RefCell<IdMap<WordInfo>> = RefCell::new(IdMap::default());
}

fn word_info(lex: &Lexicon, cache: &mut IdMap<WordInfo>, hash: u64, word: &str) -> WordInfo {
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

// ---------------------------------------------------------------- tokeniser

#[inline]
fn char_at(text: &str, i: usize) -> (char, usize) {
    let b = text.as_bytes()[i];
    if b < 0x80 {
        return (b as char, 1);
    }
    match text[i..].chars().next() {
        Some(c) => (c, c.len_utf8()),
        None => (' ', 1),
    }
}

#[inline]
fn is_apostrophe(c: char) -> bool {
    c == '\'' || c == '\u{2019}'
}

fn only_spaces(text: &str, from: usize, to: usize) -> bool {
    from <= to
        && text.as_bytes()[from..to]
            .iter()
            .all(|b| *b == b' ' || *b == b'\t')
}

/// Tokenise `text` (already normalised) into `out` (cleared first). `buf` is scratch.
pub(crate) fn tokenize(text: &str, lex: &Lexicon, out: &mut Vec<Token>, buf: &mut String) {
    WORD_CACHE.with(|cell| match cell.try_borrow_mut() {
        Ok(mut cache) => tokenize_with(text, lex, out, buf, &mut cache),
        // re-entrant use (cannot happen in practice): use a private cache
        Err(_) => tokenize_with(text, lex, out, buf, &mut IdMap::default()),
    })
}

fn tokenize_with(
    text: &str,
    lex: &Lexicon,
    out: &mut Vec<Token>,
    buf: &mut String,
    cache: &mut IdMap<WordInfo>,
) {
    out.clear();
    let bytes = text.as_bytes();
    let n = bytes.len();
    let mut i = 0usize;
    while i < n {
        let (c, clen) = char_at(text, i);
        if c.is_ascii_digit() {
            i = scan_number(text, i, lex, out, buf);
        } else if c.is_alphanumeric() {
            i = scan_word(text, i, lex, out, buf, cache);
        } else {
            let start = i;
            i += clen;
            let flags = match c {
                '.' | '!' | '?' | '\u{2026}' => {
                    while i < n && matches!(bytes[i], b'.' | b'!' | b'?') {
                        i += 1;
                    }
                    SENT_END
                }
                ';' => CLAUSE_END,
                ':' => COLON,
                '\n' => NEWLINE,
                '%' => {
                    if let Some(last) = out.last_mut() {
                        if last.kind == Kind::Number && last.end as usize == start {
                            last.flags |= PERCENT;
                            last.end = i as u32;
                        }
                    }
                    continue;
                }
                _ => continue,
            };
            out.push(Token {
                start: start as u32,
                end: i as u32,
                hash: 0,
                stem: 0,
                value: 0.0,
                kind: Kind::Punct,
                flags,
            });
        }
    }
}

fn scan_number(
    text: &str,
    start: usize,
    lex: &Lexicon,
    out: &mut Vec<Token>,
    buf: &mut String,
) -> usize {
    let b = text.as_bytes();
    let n = b.len();
    let mut i = start;
    let mut v = 0.0f64;
    let mut frac = 0.0f64;
    let mut scale = 1.0f64;
    let mut in_frac = false;
    while i < n {
        let c = b[i];
        if c.is_ascii_digit() {
            let d = f64::from(c - b'0');
            if in_frac {
                scale *= 0.1;
                frac += d * scale;
            } else {
                v = v * 10.0 + d;
            }
            i += 1;
        } else if c == b','
            && !in_frac
            && i + 4 <= n
            && b[i + 1..i + 4].iter().all(u8::is_ascii_digit)
            && (i + 4 == n || !b[i + 4].is_ascii_digit())
        {
            i += 1;
        } else if c == b'.' && !in_frac && i + 1 < n && b[i + 1].is_ascii_digit() {
            in_frac = true;
            i += 1;
        } else {
            break;
        }
    }
    let value = v + frac;
    // letters glued to the digits: ordinals / decades stay numbers, the rest are words
    let num_end = i;
    let mut j = i;
    while j < n {
        let (c, l) = char_at(text, j);
        if c.is_alphanumeric() {
            j += l;
        } else {
            break;
        }
    }
    if j > num_end {
        let suffix = &text[num_end..j];
        let ordinal = matches!(
            suffix.to_ascii_lowercase().as_str(),
            "st" | "nd" | "rd" | "th" | "s"
        );
        if !ordinal {
            // a mixed token such as "mp3" or "covid19": hash it as a word
            buf.clear();
            for ch in text[start..j].chars() {
                for lc in ch.to_lowercase() {
                    buf.push(lc);
                }
            }
            let hash = fnv(buf.as_bytes());
            out.push(Token {
                start: start as u32,
                end: j as u32,
                hash,
                stem: hash,
                value: 0.0,
                kind: Kind::Word,
                flags: 0,
            });
            return j;
        }
        i = j;
    }
    push_number(text, start, i, value, DIGITS, lex, out);
    i
}

fn push_number(
    text: &str,
    start: usize,
    end: usize,
    value: f64,
    flags: u16,
    _lex: &Lexicon,
    out: &mut Vec<Token>,
) {
    let _ = text;
    out.push(Token {
        start: start as u32,
        end: end as u32,
        hash: number_id(value),
        stem: number_id(value),
        value,
        kind: Kind::Number,
        flags,
    });
}

#[inline]
pub(crate) fn number_id(v: f64) -> u64 {
    // round to 9 significant digits so that 1.2e3 and 1200 share an id
    let r = if v == 0.0 { 0.0 } else { format_sig(v) };
    mix(0x6e75_6d62_6572, r.to_bits())
}

#[inline]
fn format_sig(v: f64) -> f64 {
    let mag = v.abs().log10().floor();
    let p = 10f64.powf(8.0 - mag);
    (v * p).round() / p
}

fn scan_word(
    text: &str,
    start: usize,
    lex: &Lexicon,
    out: &mut Vec<Token>,
    buf: &mut String,
    cache: &mut IdMap<WordInfo>,
) -> usize {
    let n = text.len();
    let mut i = start;
    buf.clear();
    let mut first_upper = false;
    let mut all_ascii = true;
    let mut nchars = 0usize;
    while i < n {
        let (c, l) = char_at(text, i);
        if c.is_alphanumeric() {
            if nchars == 0 {
                first_upper = c.is_uppercase();
            }
            if c.is_ascii() {
                buf.push(c.to_ascii_lowercase());
            } else {
                all_ascii = false;
                for lc in c.to_lowercase() {
                    buf.push(lc);
                }
            }
            nchars += 1;
            i += l;
        } else if is_apostrophe(c) && i + l < n && char_at(text, i + l).0.is_alphabetic() {
            buf.push('\'');
            i += l;
        } else {
            break;
        }
    }
    let _ = all_ascii;
    let mut flags = 0u16;
    if first_upper {
        flags |= CAP;
    }
    // clitics
    let mut core_len = buf.len();
    if buf.ends_with("n't") {
        flags |= NEG | STOP;
        core_len -= 3;
    } else if buf.ends_with("'s") {
        core_len -= 2;
    }
    buf.truncate(core_len);
    let hash = fnv(buf.as_bytes());

    let info = word_info(lex, cache, hash, buf);
    flags |= info.flags;
    if nchars == 1 && first_upper {
        flags |= ABBREV;
    }
    if nchars <= 2 {
        flags |= SHORT;
    }
    // number words and scales
    if info.class == WordClass::Scale {
        if let Some(last) = out.last_mut() {
            if last.kind == Kind::Number
                && only_spaces(text, last.end as usize, start)
                && !last.has(SCALED)
            {
                last.value *= info.value;
                last.flags |= SCALED;
                last.end = i as u32;
                last.hash = number_id(last.value);
                last.stem = last.hash;
                return i;
            }
        }
    }
    if info.class == WordClass::Percent {
        if let Some(last) = out.last_mut() {
            if last.kind == Kind::Number && only_spaces(text, last.end as usize, start) {
                last.flags |= PERCENT;
                last.end = i as u32;
                return i;
            }
        }
    }
    if info.class == WordClass::NumberWord {
        let v = info.value;
        out.push(Token {
            start: start as u32,
            end: i as u32,
            hash: number_id(v),
            stem: number_id(v),
            value: v,
            kind: Kind::Number,
            flags: flags & CAP,
        });
        return i;
    }
    let mut stem = info.stem;
    if info.class == WordClass::Month {
        if hash == lex.may && !first_upper {
            // the modal verb
            flags |= STOP;
            stem = hash;
        } else {
            flags &= !STOP;
        }
    }
    out.push(Token {
        start: start as u32,
        end: i as u32,
        hash,
        stem,
        value: 0.0,
        kind: Kind::Word,
        flags,
    });
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Token> {
        let lex = Lexicon::new();
        let mut out = Vec::new();
        let mut buf = String::new();
        let nt = NormText::new(s);
        tokenize(&nt.text, &lex, &mut out, &mut buf);
        out
    }

    fn nums(s: &str) -> Vec<f64> {
        toks(s)
            .iter()
            .filter(|t| t.kind == Kind::Number)
            .map(|t| t.value)
            .collect()
    }

    #[test]
    fn numbers_normalise() {
        assert_eq!(nums("grossed $181,674,817 worldwide"), vec![181_674_817.0]);
        assert_eq!(nums("1,200 and 1200"), vec![1200.0, 1200.0]);
        assert_eq!(nums("1.2 thousand"), vec![1200.0]);
        assert_eq!(nums("$160 million"), vec![160e6]);
        assert_eq!(nums("two million people"), vec![2e6]);
        assert_eq!(nums("the 1990s and the 21st"), vec![1990.0, 21.0]);
        assert_eq!(nums("version 3.5."), vec![3.5]);
        assert_eq!(nums("1,2,3"), vec![1.0, 2.0, 3.0]);
        let a = toks("1,200");
        let b = toks("1.2 thousand");
        assert_eq!(a[0].stem, b[0].stem);
    }

    #[test]
    fn percentages() {
        let t = toks("rose 45% then 45 percent");
        let n: Vec<&Token> = t.iter().filter(|t| t.kind == Kind::Number).collect();
        assert_eq!(n.len(), 2);
        assert!(n.iter().all(|t| t.has(PERCENT) && t.value == 45.0));
    }

    #[test]
    fn dates_and_months() {
        let a = toks("born March 2, 1991");
        let b = toks("born 2 Mar. 1991");
        let sa: Vec<u64> = a
            .iter()
            .filter(|t| t.kind != Kind::Punct)
            .map(|t| t.stem)
            .collect();
        let mut sb: Vec<u64> = b
            .iter()
            .filter(|t| t.kind != Kind::Punct)
            .map(|t| t.stem)
            .collect();
        sb.swap(1, 2);
        assert_eq!(sa, sb);
        // "may" the modal verb is not a month
        let m = toks("it may rain in May");
        assert_ne!(m[1].stem, m[4].stem);
    }

    #[test]
    fn stemming_and_case() {
        let a = toks("Running runners RAN");
        let b = toks("run runner ran");
        assert_eq!(a[0].stem, b[0].stem);
        assert_eq!(a[1].stem, b[1].stem);
        assert_eq!(a[2].stem, b[2].stem);
        assert!(a[0].has(CAP));
    }

    #[test]
    fn negation_and_clitics() {
        let t = toks("He didn't go; Poseidon's budget was not small");
        assert!(t[1].has(NEG));
        assert!(t.iter().any(|x| x.kind == Kind::Punct && x.has(CLAUSE_END)));
        let p = toks("Poseidon");
        assert_eq!(t[4].stem, p[0].stem);
        assert!(t.iter().filter(|x| x.has(NEG)).count() == 2);
    }

    #[test]
    fn nfkc_and_offsets() {
        let s = "Ｔｏｋｙｏ has １２ wards — café";
        let nt = NormText::new(s);
        assert!(nt.text.starts_with("Tokyo has 12 wards"));
        let t = toks(s);
        assert_eq!(t[2].value, 12.0);
        // map back: "café" starts at char 22 of the original
        let pos = nt.text.find("caf").unwrap_or(0);
        assert_eq!(
            nt.orig_char(pos),
            s.chars().position(|c| c == 'c').unwrap_or(0)
        );
        assert_eq!(nt.orig_char(nt.text.len()), s.chars().count());
        let decomposed = "cafe\u{301} open";
        let nt2 = NormText::new(decomposed);
        assert_eq!(&*nt2.text, "café open");
    }

    #[test]
    fn full_width_numbers_match_ascii() {
        assert_eq!(toks("１，２００")[0].stem, toks("1,200")[0].stem);
    }
}
