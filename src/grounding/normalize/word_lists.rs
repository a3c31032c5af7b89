//! The scorer's word lists, kept as data in `grounding/words/*.txt` so they can
//! be read and extended without touching code.
//!
//! Format: one entry a line; blank lines and lines starting with `#` are
//! ignored. Lists of pairs give the word, whitespace, then its value
//! (`million 1e6`, `march 3`). The files are compiled in and parsed once per
//! process; lookups hash them (see `lexicon`), so the order in a file does not
//! matter.

use std::str::FromStr;
use std::sync::LazyLock;

/// Every word list, parsed from the embedded data files.
pub(crate) struct WordLists {
    /// Stop words (negation cues included).
    pub stop: Vec<&'static str>,
    /// Low-information words summaries add freely; treated as stop words.
    pub generic: Vec<&'static str>,
    /// Words about the answer or the context itself ("the passage states").
    pub meta: Vec<&'static str>,
    pub negations: Vec<&'static str>,
    /// Words after which a `.` does not end a sentence.
    pub abbreviations: Vec<&'static str>,
    pub number_words: Vec<(&'static str, f64)>,
    pub scales: Vec<(&'static str, f64)>,
    pub months: Vec<(&'static str, u64)>,
    /// Refusal cues ("the passages do not mention…"): see `signals::Cues`.
    pub refusal_verbs: Vec<&'static str>,
    pub refusal_nouns: Vec<&'static str>,
    pub no_info: Vec<&'static str>,
}

pub(crate) static WORDS: LazyLock<WordLists> = LazyLock::new(|| WordLists {
    stop: words(include_str!("../words/stop.txt")),
    generic: words(include_str!("../words/generic.txt")),
    meta: words(include_str!("../words/meta.txt")),
    negations: words(include_str!("../words/negations.txt")),
    abbreviations: words(include_str!("../words/abbreviations.txt")),
    number_words: pairs(include_str!("../words/number_words.txt")),
    scales: pairs(include_str!("../words/scales.txt")),
    months: pairs(include_str!("../words/months.txt")),
    refusal_verbs: words(include_str!("../words/refusal_verbs.txt")),
    refusal_nouns: words(include_str!("../words/refusal_nouns.txt")),
    no_info: words(include_str!("../words/no_info.txt")),
});

/// The entry lines of a data file, trimmed, comments and blank lines left out.
fn entries(text: &'static str) -> impl Iterator<Item = &'static str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

fn words(text: &'static str) -> Vec<&'static str> {
    entries(text).collect()
}

/// `word value` lines. A line that does not parse is left out; a unit test
/// checks that every line of every shipped file parses.
fn pairs<T: FromStr>(text: &'static str) -> Vec<(&'static str, T)> {
    entries(text)
        .filter_map(|line| {
            let (word, value) = line.split_once(char::is_whitespace)?;
            Some((word, value.trim().parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pair_line_parses() {
        for text in [
            include_str!("../words/number_words.txt"),
            include_str!("../words/scales.txt"),
        ] {
            assert_eq!(pairs::<f64>(text).len(), entries(text).count());
        }
        let months = include_str!("../words/months.txt");
        assert_eq!(pairs::<u64>(months).len(), entries(months).count());
    }
}
