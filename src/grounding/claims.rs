//! Splitting a token stream into claims (sentences and clauses).

use super::normalize::{Kind, Token, ABBREV, CAP, CLAUSE_END, NEWLINE, SENT_END};

/// Splits `tokens` into half-open token ranges, one per sentence / clause.
/// Boundaries: `.`/`!`/`?` (not after an abbreviation or initial, and not before a
/// lower-case word), `;`, and line breaks. Ranges without any word or number are dropped.
pub(crate) fn split(tokens: &[Token], out: &mut Vec<(usize, usize)>) {
    out.clear();
    let mut start = 0usize;
    let n = tokens.len();
    let mut k = 0usize;
    while k < n {
        let t = &tokens[k];
        let mut boundary = false;
        let mut include = true;
        if t.kind == Kind::Punct {
            if t.has(NEWLINE) {
                boundary = true;
                include = false;
            } else if t.has(CLAUSE_END) {
                boundary = true;
            } else if t.has(SENT_END) {
                let prev_abbrev =
                    k > 0 && tokens[k - 1].kind == Kind::Word && tokens[k - 1].has(ABBREV);
                let next = tokens.get(k + 1);
                let next_lower_word =
                    matches!(next, Some(x) if x.kind == Kind::Word && !x.has(CAP));
                boundary = !prev_abbrev && !next_lower_word;
                // "...in the U.S. The next" is still ambiguous; we keep it joined.
            }
        }
        if boundary {
            let end = if include { k + 1 } else { k };
            push(tokens, start, end, out);
            start = k + 1;
        }
        k += 1;
    }
    push(tokens, start, n, out);
}

fn push(tokens: &[Token], a: usize, b: usize, out: &mut Vec<(usize, usize)>) {
    if a >= b {
        return;
    }
    // trim leading punctuation tokens
    let mut a = a;
    while a < b && tokens[a].kind == Kind::Punct {
        a += 1;
    }
    let mut words = 0;
    let mut numbers = 0;
    for t in &tokens[a..b] {
        match t.kind {
            Kind::Word => words += 1,
            Kind::Number => numbers += 1,
            Kind::Punct => {}
        }
    }
    // a lone list enumerator ("1.", "2)") is not a claim
    if words == 0 && numbers == 1 && b - a <= 2 && tokens[a].value < 100.0 {
        return;
    }
    if words + numbers > 0 {
        out.push((a, b));
    }
}

#[cfg(test)]
mod tests {
    use super::super::normalize::{tokenize, Lexicon, NormText};
    use super::*;

    fn sents(s: &str) -> Vec<String> {
        let lex = Lexicon::new();
        let nt = NormText::new(s);
        let mut toks = Vec::new();
        let mut buf = String::new();
        tokenize(&nt.text, &lex, &mut toks, &mut buf);
        let mut r = Vec::new();
        split(&toks, &mut r);
        r.iter()
            .map(|&(a, b)| nt.text[toks[a].start as usize..toks[b - 1].end as usize].to_string())
            .collect()
    }

    #[test]
    fn splits_sentences_and_clauses() {
        let s = sents("Dr. Smith lives in the U.S. since 2001. He earns $3.5 million; she doesn't! Why?\n- item one\n- item two");
        assert_eq!(
            s,
            vec![
                "Dr. Smith lives in the U.S. since 2001.",
                "He earns $3.5 million;",
                "she doesn't!",
                "Why?",
                "item one",
                "item two"
            ]
        );
    }

    #[test]
    fn lowercase_continuation_is_not_a_boundary() {
        assert_eq!(sents("Use e.g. apples. Then pears.").len(), 2);
    }
}
