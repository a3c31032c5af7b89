use super::*;
use crate::grounding::normalize::{tokenize, Lexicon, NormText};

fn signals(ctx: &[&str], claim: &str) -> ClaimSignals {
    let lex = Lexicon::new();
    let cues = Cues::new();
    let mut sc = Scratch::default();
    let ix = ContextIndex::build(ctx, &lex, &mut sc);
    let nt = NormText::new(claim);
    let mut toks = Vec::new();
    let mut buf = String::new();
    tokenize(&nt.text, &lex, &mut toks, &mut buf);
    claim_signals(&ix, &cues, &toks, &mut sc, None)
}

const CTX: &[&str] = &[
    "Poseidon grossed $181,674,817 at the worldwide box office on a budget of $160 million.",
    "The film was directed by Wolfgang Petersen. It was not a critical success.",
];

#[test]
fn supported_claim_has_no_signal() {
    let s = signals(
        CTX,
        "Poseidon grossed $181,674,817 worldwide on a $160 million budget.",
    );
    assert_eq!(s.f[F_NOVEL], 0.0);
    assert_eq!(s.f[F_NUM], 0.0);
    assert_eq!(s.f[F_ENT], 0.0);
    assert_eq!(s.best, Some(0));
}

#[test]
fn content_word_coverage_uses_stems() {
    let s = signals(CTX, "The films were directed by Petersen.");
    assert_eq!(s.f[F_NOVEL], 0.0);
    let s = signals(CTX, "The film was produced by Petersen.");
    assert_eq!(s.f[F_NOVEL], 1.0);
    assert!(s.f[F_RATIO] > 0.0);
}

const MOONS: &[&str] = &["Mars has two moons, Phobos and Deimos."];

/// (context, claim, signal, expected value of that signal)
const SIGNAL_CASES: &[(&[&str], &str, usize, f64)] = &[
    // numbers
    (CTX, "It cost 160 million dollars to make.", F_NUM, 0.0),
    (CTX, "Poseidon grossed about $181.7 million.", F_NUM, 0.0),
    (CTX, "Poseidon had a budget of $150 million.", F_NUM, 1.0),
    (MOONS, "Mars has three moons.", F_NUM, 1.0),
    (MOONS, "Mars has 2 moons.", F_NUM, 0.0),
    // spelled-out counts of things the context does not count are not checked
    (MOONS, "The passage names two different moons.", F_NUM, 0.0),
    // names
    (
        CTX,
        "The film was directed by Steven Spielberg.",
        F_ENT,
        2.0,
    ),
    (
        CTX,
        "The film was directed by Wolfgang Petersen.",
        F_ENT,
        0.0,
    ),
    // negation
    (CTX, "Poseidon did not gross $181,674,817.", F_NEG_ADD, 1.0),
    (CTX, "It was not a critical success.", F_NEG_ADD, 0.0),
    (CTX, "The film was a critical success.", F_NEG_DROP, 1.0),
];

#[test]
fn numbers_entity_and_negation_signals() {
    for &(ctx, claim, signal, expected) in SIGNAL_CASES {
        assert_eq!(
            signals(ctx, claim).f[signal],
            expected,
            "signal {} of {claim:?}",
            signal
        );
    }
}

#[test]
fn pairs_and_scatter() {
    let s = signals(CTX, "Wolfgang Petersen grossed a budget.");
    assert_eq!(s.f[F_PAIRS], 1.0);
    assert!(s.f[F_SCATTER] > 0.0);
    assert_eq!(
        signals(CTX, "The film was directed by Wolfgang Petersen.").f[F_PAIRS],
        0.0
    );
}

#[test]
fn refusals() {
    for r in [
        "The passages do not say who wrote the score.",
        "I don't know.",
        "The context does not mention the composer.",
        "There is no information about sequels in the provided text.",
    ] {
        assert!(signals(CTX, r).refusal, "{r}");
    }
    assert!(!signals(CTX, "The article states that Petersen did not direct it.").refusal);
}
