//! Is a judge's quote really in the context? Both sides are compared after
//! NFKC, lower-casing and collapsing whitespace, so a quote that differs only
//! in line breaks, case or typographic forms still counts. Ellipses in a
//! quote (`…`, `...`) stand for left-out text: the pieces must appear in
//! order. Nothing else is forgiven: a paraphrase is not a quote.

use unicode_normalization::UnicodeNormalization;

/// Between passages, so that no quote can span two of them.
const PASSAGE_BREAK: char = '\u{1}';

/// Characters a judge may wrap a quote in.
const WRAPPERS: &[char] = &['"', '\'', '“', '”', '‘', '’', '`', '«', '»'];

/// NFKC, lower case, runs of whitespace as one space, trimmed.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.nfkc().flat_map(char::to_lowercase) {
        if c.is_whitespace() {
            space = !out.is_empty();
        } else {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    out
}

/// The context passages, normalised once for every quote of a verdict.
pub struct ContextText(String);

impl ContextText {
    pub fn new(passages: &[impl AsRef<str>]) -> ContextText {
        let mut text = String::new();
        for p in passages {
            text.push_str(&normalize(p.as_ref()));
            text.push(PASSAGE_BREAK);
        }
        ContextText(text)
    }

    /// Whether `quote` appears in one passage (with `…` gaps in order).
    /// A quote without a letter or digit quotes nothing.
    pub fn contains(&self, quote: &str) -> bool {
        let quote = quote.trim().trim_matches(WRAPPERS);
        // NFKC spells `…` as `...`.
        let normalized = normalize(quote);
        let pieces: Vec<&str> = normalized
            .split("...")
            .map(|p| p.trim().trim_matches(WRAPPERS).trim())
            .filter(|p| !p.is_empty())
            .collect();
        if !pieces.iter().any(|p| p.chars().any(char::is_alphanumeric)) {
            return false;
        }
        self.0.split(PASSAGE_BREAK).any(|passage| {
            let mut rest = passage;
            pieces.iter().all(|piece| match rest.find(piece) {
                Some(at) => {
                    rest = &rest[at + piece.len()..];
                    true
                }
                None => false,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTEXT: [&str; 2] = [
        "The Eiffel Tower is 330 metres tall.\nIt opened in 1889.",
        "Gustave Eiffel's company built it.",
    ];

    #[test]
    fn verbatim_quotes_are_found_despite_case_and_whitespace() {
        let ctx = ContextText::new(&CONTEXT);
        assert!(ctx.contains("The Eiffel Tower is 330 metres tall."));
        assert!(ctx.contains("  the EIFFEL tower   is 330\tmetres  "));
        assert!(ctx.contains("tall. It opened in 1889"));
        assert!(ctx.contains("\u{201c}It opened in 1889.\u{201d}"));
        // NFKC: a non-breaking space and a full-width digit are their plain forms.
        assert!(ctx.contains("opened\u{a0}in \u{ff11}889"));
    }

    #[test]
    fn paraphrases_and_inventions_are_not_found() {
        let ctx = ContextText::new(&CONTEXT);
        assert!(!ctx.contains("The Eiffel Tower opened in 1889."));
        assert!(!ctx.contains("It opened in 1925."));
        assert!(!ctx.contains(""));
        assert!(!ctx.contains(" ... "));
        assert!(!ctx.contains("\"\""));
    }

    #[test]
    fn ellipses_skip_text_in_order_within_one_passage() {
        let ctx = ContextText::new(&CONTEXT);
        assert!(ctx.contains("The Eiffel Tower … opened in 1889"));
        assert!(ctx.contains("The Eiffel Tower ... 1889."));
        assert!(!ctx.contains("1889 … The Eiffel Tower"));
        // A quote cannot join two passages.
        assert!(!ctx.contains("It opened in 1889. Gustave"));
        assert!(!ctx.contains("opened in 1889 … Gustave"));
    }
}
