//! Tokens and their flags: what the tokeniser produces and every signal reads.

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
