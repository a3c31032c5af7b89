//! Refusals ("the passages do not say", "I don't know"): claims that score as
//! fully supported because they assert nothing. The cue words are data
//! (`words/refusal_*.txt`, `words/no_info.txt`).

use crate::grounding::normalize::word_lists::WORDS;
use crate::grounding::normalize::{sorted_hashes, Kind, Token, NEG};

/// Lexical cues for refusals ("the passages do not say", "I don't know").
pub(crate) struct Cues {
    refusal_verbs: Vec<u64>,
    refusal_nouns: Vec<u64>,
    no_info: Vec<u64>,
}

impl Cues {
    pub fn new() -> Self {
        let words = &*WORDS;
        Cues {
            refusal_verbs: sorted_hashes(&words.refusal_verbs),
            refusal_nouns: sorted_hashes(&words.refusal_nouns),
            no_info: sorted_hashes(&words.no_info),
        }
    }

    pub(super) fn is_refusal(&self, toks: &[Token]) -> bool {
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
