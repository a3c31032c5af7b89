//! The tokeniser: words (lower-cased, stemmed, flagged), numbers (with their
//! value, so `1,200` = `1200` = `1.2 thousand`) and the punctuation that
//! splits claims.

use super::hashing::{fnv, mix, IdMap};
use super::lexicon::{word_info, Lexicon, WordClass, WordInfo, WORD_CACHE};
use super::token::{
    Kind, Token, ABBREV, CAP, CLAUSE_END, COLON, DIGITS, NEG, NEWLINE, PERCENT, SCALED, SENT_END,
    SHORT, STOP,
};

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
