//! NFKC normalisation that keeps a map back to the original text, so claims
//! can report offsets into what the client sent.

use std::borrow::Cow;

use unicode_normalization::char::canonical_combining_class;
use unicode_normalization::UnicodeNormalization;

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
