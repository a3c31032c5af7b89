//! The price table against the shipped `prices.toml`: lookups, fallbacks,
//! overrides and the errors that name a bad entry.

use super::*;
use rust_decimal_macros::dec;

fn builtin() -> PriceTable {
    PriceTable::builtin().expect("built-in prices load")
}

#[test]
fn builtin_loads_and_every_entry_has_source_and_date() {
    let t = builtin();
    assert!(t.len() >= 40, "{}", t.len());
    for p in t.iter() {
        assert!(!p.source.is_empty(), "{} has no source", p.model);
        assert!(p.as_of.len() == 10, "{} as_of {:?}", p.model, p.as_of);
        if p.vendor != "promptgate-mock" {
            assert!(p.source.starts_with("https://"), "{}", p.model);
        }
        if let Some(c) = p.cached_input {
            assert!(c <= p.input, "{}: cached dearer than input", p.model);
        }
    }
}

#[test]
fn exact_alias_and_case() {
    let t = builtin();
    assert_eq!(t.lookup("gpt-4o").map(|p| p.input), Some(dec!(2.5)));
    assert_eq!(t.lookup("GPT-4o-Mini").map(|p| p.output), Some(dec!(0.6)));
    assert_eq!(
        t.lookup("claude-opus-4-0").map(|p| p.model.as_str()),
        Some("claude-opus-4")
    );
    assert_eq!(t.lookup("claude-opus-4.5").map(|p| p.input), Some(dec!(5)));
}

#[test]
fn snapshots_latest_and_provider_prefix_fall_back() {
    let t = builtin();
    // (name as a client sends it, the table entry it resolves to)
    let cases = [
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4.1-mini-2025-04-14", "gpt-4.1-mini"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("claude-3-5-haiku-latest", "claude-3-5-haiku"),
        ("claude-3-7-sonnet-20250219", "claude-3-7-sonnet"),
        ("openai/gpt-4o-mini", "gpt-4o-mini"),
        (
            "openrouter/anthropic/claude-sonnet-4.5",
            "claude-sonnet-4-5",
        ),
        ("deepseek/deepseek-chat", "deepseek-chat"),
    ];
    for (asked, entry) in cases {
        let found = t.lookup(asked).map(|p| p.model.as_str());
        assert_eq!(found, Some(entry), "{asked}");
    }
}

#[test]
fn explicit_snapshot_beats_fallback() {
    let t = builtin();
    assert_eq!(
        t.lookup("gpt-4o-2024-05-13").map(|p| p.input),
        Some(dec!(5))
    );
    assert_eq!(
        t.lookup("gpt-4o-2024-11-20").map(|p| p.input),
        Some(dec!(2.5))
    );
}

#[test]
fn unknown_and_near_misses_are_unpriced() {
    let t = builtin();
    for m in [
        "",
        "llama-3-70b",
        "gpt-3.5-turbo-1106",
        "mistral-large-latest",
        "gpt-4o-2024-08",
        "-latest",
        "unknown/",
    ] {
        assert!(t.lookup(m).is_none(), "{m} should be unpriced");
    }
}

#[test]
fn mock_models_use_the_wildcard_price() {
    let t = builtin();
    for m in ["mock-1", "mock-echo", "mock-embedding", "mock/mock-1"] {
        let p = t.lookup(m).expect("mock priced");
        assert_eq!(p.vendor, "promptgate-mock");
        assert_eq!(p.input, dec!(1));
    }
    assert!(t.lookup("mockingbird").is_none());
}

fn ov(input: &str, output: &str) -> PriceOverride {
    PriceOverride {
        input: Some(input.into()),
        output: Some(output.into()),
        ..PriceOverride::default()
    }
}

#[test]
fn overrides_replace_extend_and_match_patterns() {
    let mut m = HashMap::new();
    m.insert("gpt-4o".to_string(), ov("1.5", "6"));
    m.insert("llama-3-70b".to_string(), ov("0.59", "0.79"));
    m.insert("ollama/*".to_string(), ov("0", "0"));
    m.insert("mock-*".to_string(), ov("3", "4"));
    let t = PriceTable::with_overrides(&m).expect("valid overrides");
    let gpt = t.lookup("gpt-4o-2024-08-06").expect("priced");
    assert_eq!(
        (gpt.input, gpt.cached_input, gpt.source.as_str()),
        (dec!(1.5), None, "config")
    );
    assert_eq!(t.lookup("llama-3-70b").map(|p| p.output), Some(dec!(0.79)));
    assert_eq!(t.lookup("ollama/qwen2.5").map(|p| p.input), Some(dec!(0)));
    assert_eq!(t.lookup("mock-1").map(|p| p.input), Some(dec!(3)));
    // Untouched entries survive.
    assert_eq!(t.lookup("o3").map(|p| p.input), Some(dec!(2)));
}

#[test]
fn override_errors_name_model_and_field() {
    let check = |o: PriceOverride, want: &str| {
        let mut m = HashMap::new();
        m.insert("my-model".to_string(), o);
        let err = PriceTable::with_overrides(&m).expect_err("invalid");
        let msg = err.to_string();
        assert!(msg.contains("my-model") && msg.contains(want), "{msg}");
    };
    check(ov("-1", "2"), "input");
    check(ov("1", "abc"), "output");
    check(ov("1e3", "1"), "input");
    check(
        PriceOverride {
            input: Some("1".into()),
            ..Default::default()
        },
        "output",
    );
    check(
        PriceOverride {
            cached_input: Some("-0.1".into()),
            ..ov("1", "2")
        },
        "cached_input",
    );
    check(ov("0.0000001", "1"), "decimal places");
    check(ov("1", "1000001"), "above");
}

#[test]
fn toml_errors_name_model_and_field() {
    let err = PriceTable::from_toml_str("[[model]]\nname = \"x\"\ninput = \"1\"\n")
        .expect_err("missing output");
    assert_eq!(
        err,
        PriceError::Missing {
            model: "x".into(),
            field: "output"
        }
    );
    let dup = "[[model]]\nname=\"a\"\ninput=\"1\"\noutput=\"1\"\n[[model]]\nname=\"A\"\ninput=\"1\"\noutput=\"1\"\n";
    assert!(matches!(
        PriceTable::from_toml_str(dup),
        Err(PriceError::BadName(_))
    ));
    assert!(matches!(
        PriceTable::from_toml_str("[[model]]\nname=\"a\"\ninput=1.5\noutput=\"1\"\n"),
        Err(PriceError::Toml(_))
    ));
}

#[test]
fn strip_date_rules() {
    assert_eq!(strip_date("gpt-4o-2024-08-06"), Some("gpt-4o"));
    assert_eq!(
        strip_date("claude-opus-4-1-20250805"),
        Some("claude-opus-4-1")
    );
    assert_eq!(strip_date("gpt-4-0613"), None);
    assert_eq!(strip_date("2024-08-06"), None);
    assert_eq!(strip_date("gemini-1.5-pro-002"), None);
}
