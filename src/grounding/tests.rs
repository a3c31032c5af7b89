//! Scorer-level tests: JSON contract, offsets, and randomized property tests.

use super::*;

/// Small deterministic PRNG (SplitMix64) for the fixed-seed property tests.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

const FIRST: &[&str] = &[
    "Alice", "Bruno", "Chiara", "Dmitri", "Elena", "Farid", "Grace", "Hiroshi", "Ingrid", "Jonas",
];
const LAST: &[&str] = &[
    "Moreau",
    "Okafor",
    "Lindqvist",
    "Tanaka",
    "Rossi",
    "Novak",
    "Schmidt",
    "Alvarez",
    "Kowalski",
    "Haddad",
];
const CITY: &[&str] = &[
    "Lyon", "Porto", "Kraków", "Osaka", "Tampere", "Valencia", "Leipzig", "Gdańsk", "Bergen",
    "Turin",
];
const THING: &[&str] = &[
    "bakery",
    "observatory",
    "shipyard",
    "library",
    "orchestra",
    "brewery",
    "museum",
    "vineyard",
];
const OTHER_NAMES: &[&str] = &["Zebulon", "Quentin", "Yolanda", "Xavier", "Wilhelmina"];

struct Fact {
    sentence: String,
    number: String,
    name: String,
    negatable: (String, String),
}

fn fact(r: &mut Rng) -> Fact {
    let first = r.pick(FIRST);
    let last = r.pick(LAST);
    let city = r.pick(CITY);
    let thing = r.pick(THING);
    let year = r.range(1850, 2020).to_string();
    let n = r.range(2, 90_000);
    let n_s = if n >= 1000 {
        format!("{},{:03}", n / 1000, n % 1000)
    } else {
        n.to_string()
    };
    match r.next() % 3 {
        0 => Fact {
            sentence: format!("{first} {last} founded the {thing} in {city} in {year}."),
            number: year.clone(),
            name: last.to_string(),
            negatable: ("founded".into(), "did not found".into()),
        },
        1 => Fact {
            sentence: format!("The {thing} in {city} was visited by {n_s} people during {year}."),
            number: n_s.clone(),
            name: city.to_string(),
            negatable: ("was visited".into(), "was never visited".into()),
        },
        _ => Fact {
            sentence: format!("{first} {last} was elected mayor of {city} with {n_s} votes."),
            number: n_s.clone(),
            name: last.to_string(),
            negatable: ("was elected".into(), "was not elected".into()),
        },
    }
}

fn world(r: &mut Rng, k: usize) -> Vec<Fact> {
    (0..k).map(|_| fact(r)).collect()
}

fn context_of(facts: &[Fact]) -> Vec<String> {
    // two passages
    let mid = facts.len() / 2;
    vec![
        facts[..mid]
            .iter()
            .map(|f| f.sentence.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        facts[mid..]
            .iter()
            .map(|f| f.sentence.as_str())
            .collect::<Vec<_>>()
            .join(" "),
    ]
}

fn answer_of(facts: &[Fact], idx: &[usize]) -> String {
    idx.iter()
        .map(|&i| facts[i].sentence.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The score of an answer none of whose signals found anything: the highest the
/// calibrated model gives.
fn top_score(scorer: &Scorer) -> f64 {
    scorer.score(&["x"], "").score
}

/// Verbatim answers get the top score; every edit lowers it, so at the strictest
/// threshold (just below the top) verbatim answers pass and every edit is flagged.
/// (At the shipped threshold one wrong number alone need not flag: see
/// `docs/grounding.md` for the operating points.)
#[test]
fn property_context_sentences_are_supported_and_edits_flag() {
    let top = top_score(&Scorer::new());
    let scorer = Scorer::new().with_threshold(top - 1e-9);
    let mut r = Rng(0x5eed_1234);
    for case in 0..200 {
        let facts = world(&mut r, 8);
        let ctx = context_of(&facts);
        let picks: Vec<usize> = (0..3).map(|_| (r.next() % 8) as usize).collect();
        let answer = answer_of(&facts, &picks);
        let base = scorer.score(&ctx, &answer);
        assert!(
            !base.flagged,
            "case {case}: verbatim answer flagged: {base:?}"
        );
        assert_eq!(base.score, top, "case {case}: {base:?}");

        let target = &facts[picks[0]];
        // 1. change a number
        let new_num = if target.number.len() == 4 && !target.number.contains(',') {
            (target.number.parse::<u64>().unwrap_or(1900) + 1 + r.next() % 7).to_string()
        } else {
            format!("{}7", target.number)
        };
        let changed = answer.replacen(&target.number, &new_num, 1);
        if !ctx.iter().any(|c| c.contains(&new_num)) {
            let rep = scorer.score(&ctx, &changed);
            assert!(
                rep.score < base.score && rep.flagged,
                "case {case}: number edit {changed:?} -> {rep:?}"
            );
            assert!(
                rep.claims
                    .iter()
                    .any(|c| c.reasons.iter().any(|x| x.contains("number"))),
                "{rep:?}"
            );
        }
        // 2. change a name
        let other = r.pick(OTHER_NAMES);
        let changed = answer.replacen(&target.name, other, 1);
        let rep = scorer.score(&ctx, &changed);
        assert!(
            rep.score < base.score && rep.flagged,
            "case {case}: name edit {changed:?} -> {rep:?}"
        );
        // 3. add a negation
        let changed = answer.replacen(&target.negatable.0, &target.negatable.1, 1);
        let rep = scorer.score(&ctx, &changed);
        assert!(
            rep.score < base.score && rep.flagged,
            "case {case}: negation {changed:?} -> {rep:?}"
        );
    }
}

#[test]
fn json_shape_and_char_offsets() {
    let scorer = Scorer::new();
    let ctx = ["Der Bäcker in Köln verkaufte 1.200 Brote. Poseidon grossed $181,674,817 on a budget of $160 million."];
    let answer =
        "Ünïcode first: Poseidon grossed $181,674,817. It cost $1.2 thousand dollars to make.";
    let r = scorer.score(&ctx, answer);
    let v = serde_json::to_value(&r).unwrap();
    let obj = v.as_object().unwrap();
    let mut keys: Vec<&String> = obj.keys().collect();
    keys.sort();
    assert_eq!(keys, ["claims", "flagged", "score", "threshold"]);
    let c0 = v["claims"][0].as_object().unwrap();
    let mut ck: Vec<&String> = c0.keys().collect();
    ck.sort();
    assert_eq!(
        ck,
        ["end", "evidence", "reasons", "start", "support", "text"]
    );
    let chars: Vec<char> = answer.chars().collect();
    for c in &r.claims {
        let s: String = chars[c.start..c.end].iter().collect();
        assert_eq!(s, c.text);
        assert!((0.0..=1.0).contains(&c.support));
    }
    assert_eq!(
        r.claims[0].evidence,
        "Poseidon grossed $181,674,817 on a budget of $160 million."
    );
    assert!(
        r.claims.iter().any(|c| c
            .reasons
            .iter()
            .any(|x| x == "number 1.2 thousand not in context")),
        "{r:?}"
    );
}

#[test]
fn refusals_and_empty_answers_are_supported() {
    let scorer = Scorer::new();
    let ctx = ["The bridge opened in 1932 and is 503 metres long."];
    for a in [
        "The passages do not say who designed the bridge.",
        "I don't know.",
        "",
        "   ",
    ] {
        let r = scorer.score(&ctx, a);
        assert_eq!(r.score, top_score(&scorer), "{a:?} {r:?}");
        assert!(!r.flagged);
    }
    let r = scorer.score(
        &ctx,
        "The bridge opened in 1932. The context does not mention its architect.",
    );
    assert_eq!(r.score, top_score(&scorer), "{r:?}");
    let r = scorer.score(&ctx, "The bridge opened in 1932 in Lisbon.");
    assert!(r.score < top_score(&scorer), "{r:?}");
}

#[test]
fn threshold_controls_flag() {
    let s = Scorer::new().with_threshold(0.0);
    assert_eq!(s.threshold(), 0.0);
    let r = s.score(&["a b c"], "Completely unrelated statement about Jupiter.");
    assert!(!r.flagged);
    assert!(r.score < 1.0);
    let s = Scorer::new().with_threshold(1.0);
    assert!(s.score(&["a b c"], "Jupiter.").flagged);
    let r = Scorer::new().score_at(&["a b c"], "Jupiter.", 0.0);
    assert!(!r.flagged && r.threshold == 0.0);
}

#[test]
fn context_passages_may_be_strings_or_strs() {
    let scorer = Scorer::new();
    let owned = vec![String::from("Mars has two moons, Phobos and Deimos.")];
    let r = scorer.score(&owned, "Mars has two moons.");
    assert_eq!(r.score, top_score(&scorer));
    let r = scorer.score_at(&owned, "Mars has three moons.", top_score(&scorer) - 1e-9);
    assert!(r.flagged, "{r:?}");
    assert_eq!(r.claims[0].reasons[0], "number three not in context");
}

mod prop {
    use super::super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        /// Arbitrary Unicode never panics, offsets are valid code point offsets, scores in range.
        #[test]
        fn arbitrary_text_is_safe(ctx in "\\PC{0,200}", answer in "\\PC{0,200}") {
            let scorer = Scorer::new();
            let r = scorer.score(&[ctx.as_str()], &answer);
            prop_assert!((0.0..=1.0).contains(&r.score));
            let chars: Vec<char> = answer.chars().collect();
            for c in &r.claims {
                prop_assert!(c.start <= c.end && c.end <= chars.len());
                let s: String = chars[c.start..c.end].iter().collect();
                prop_assert_eq!(&s, &c.text);
                prop_assert!((0.0..=1.0).contains(&c.support));
            }
        }

        /// Any answer copied from the context is fully supported.
        #[test]
        fn copied_sentences_are_supported(words in proptest::collection::vec("[A-Za-z]{1,9}|[0-9]{1,5}", 1..40)) {
            let ctx = words.join(" ") + ".";
            let scorer = Scorer::new();
            let r = scorer.score(&[ctx.as_str()], &ctx);
            prop_assert_eq!(r.score, super::top_score(&scorer), "{:?}", r);
            prop_assert!(!r.flagged);
        }
    }
}

#[test]
fn an_answer_with_nothing_against_it_scores_one_as_the_api_promises() {
    let scorer = Scorer::new();
    let ctx = ["The Eiffel Tower is 330 metres tall and stands in Paris."];
    let clean = scorer.score(&ctx, "The Eiffel Tower is 330 metres tall.");
    assert_eq!(clean.score, 1.0, "{clean:?}");
    assert!(clean.claims.iter().all(|c| c.support == 1.0));
    assert!(!clean.flagged);
    let wrong = scorer.score(&ctx, "The Eiffel Tower is 340 metres tall.");
    assert!(wrong.score < 1.0, "{wrong:?}");
    // Below 1.0 the score is the calibrated probability, at most σ(−b).
    assert!(wrong.score <= scorer.model().support(&[0.0; super::features::NC]));
}
