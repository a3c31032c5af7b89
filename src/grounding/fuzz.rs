//! Fuzz targets for the grounding scorer, which reads client text (the
//! answer it scores and the RAG context): the NFKC normaliser with its map
//! back to the original, the number/entity tokeniser, and the whole scorer.
//! Run by [`crate::fuzzing::check`]; see `scripts/fuzz`.

use proptest::prelude::*;

use super::normalize::{tokenize, Kind, Lexicon, NormText};
use super::Scorer;
use crate::fuzzing::check;

/// Text full of what the number and entity rules look at: digit groups,
/// scales, currencies, ordinals, Unicode digits and compatibility forms
/// (NFKC changes their length), combining marks, and noise.
fn numbery_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        6 => prop::sample::select(vec![
            "1,200", "1.2", "0.000", "1,2,3", ",", ".", " ", "  ", "\n", "-", "+", "$", "€", "%",
            " percent", " thousand", " million", " billion", " trillion", "two ", "twenty-one ",
            "1990s", "21st", "3rd", "1e308", "1e-400", "NaN", "inf", "½", "①", "²", "٣", "੫",
            "ﬁ", "Å", "e\u{301}", "\u{301}", "\u{fdfa}", "ﷺ", "Dr.", "U.S.", "Paris", "not ",
            "never ", "January", "Jan.", "12:30", "1/2", "10^6", "\u{0}", "\u{feff}", "\t",
        ])
        .prop_map(str::to_owned),
        1 => (1usize..400).prop_map(|n| "9".repeat(n)),
        1 => (1usize..60).prop_map(|n| "1,000".repeat(n)),
        2 => any::<String>(),
    ];
    prop::collection::vec(piece, 0..30).prop_map(|ps| ps.concat())
}

#[test]
fn tokens_of_any_text_stay_inside_it_and_map_back() {
    let lex = Lexicon::new();
    check("normalize", numbery_text(), |text| {
        let norm = NormText::new(&text);
        let mut tokens = Vec::new();
        let mut buf = String::new();
        tokenize(&norm.text, &lex, &mut tokens, &mut buf);
        let n = norm.text.len();
        let chars = text.chars().count();
        prop_assert!(
            tokens.len() <= n,
            "{} tokens from {} bytes",
            tokens.len(),
            n
        );
        let mut last_end = 0;
        for t in &tokens {
            let (start, end) = (t.start as usize, t.end as usize);
            prop_assert!(
                start <= end && end <= n,
                "token {start}..{end} of {n} bytes"
            );
            prop_assert!(norm.text.is_char_boundary(start) && norm.text.is_char_boundary(end));
            prop_assert!(start >= last_end, "tokens overlap or go back");
            last_end = end;
            for at in [start, end] {
                prop_assert!(text.is_char_boundary(norm.orig_byte(at)));
                prop_assert!(norm.orig_char(at) <= chars);
            }
            prop_assert!(norm.orig_byte(start) <= norm.orig_byte(end));
            if t.kind == Kind::Number {
                prop_assert!(
                    !t.value.is_nan(),
                    "a number token of NaN: {:?}",
                    &norm.text[start..end]
                );
            }
        }
        Ok(())
    });
}

#[test]
fn scoring_any_answer_gives_a_probability_and_claims_inside_it() {
    let scorer = Scorer::new();
    let input = (prop::collection::vec(numbery_text(), 0..4), numbery_text());
    check("scorer", input, |(context, answer)| {
        let report = scorer.score(&context, &answer);
        prop_assert!(
            (0.0..=1.0).contains(&report.score),
            "score {}",
            report.score
        );
        let chars = answer.chars().count();
        prop_assert!(report.claims.len() <= chars.max(1));
        for claim in &report.claims {
            prop_assert!(claim.start <= claim.end && claim.end <= chars);
            prop_assert!(
                (0.0..=1.0).contains(&claim.support),
                "support {}",
                claim.support
            );
            prop_assert!(claim.text.len() <= answer.len());
        }
        Ok(())
    });
}
