//! Text normalisation and tokenisation for the grounding scorer.
//!
//! Everything here works on a *normalised* copy of the input (Unicode NFKC,
//! only materialised when the input is not pure ASCII) and keeps a map back to
//! the original text so that claims can report offsets into what the client
//! sent. Tokens carry 64-bit hashes of their lower-cased surface form and of
//! their (Snowball English) stem; numbers carry their numeric value so that
//! `1,200`, `1200` and `1.2 thousand` compare equal.
//!
//! One job a file: [`hashing`] (ids), [`offsets`] (NFKC and the map back),
//! [`token`] (tokens and flags), [`word_lists`] (the data files in `words/`),
//! [`lexicon`] (word lists as hashes, stemmer, per-thread word cache) and
//! [`tokenizer`].

mod hashing;
mod lexicon;
mod offsets;
mod token;
mod tokenizer;
pub(crate) mod word_lists;

pub(crate) use lexicon::{sorted_hashes, Lexicon};
pub(crate) use offsets::NormText;
pub(crate) use token::{
    Kind, Token, ABBREV, CAP, CLAUSE_END, DIGITS, NEG, NEWLINE, SCALED, SENT_END, STOP,
};
pub(crate) use tokenizer::tokenize;

#[cfg(test)]
mod tests;
