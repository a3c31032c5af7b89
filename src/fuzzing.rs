//! The runner behind every fuzz target (`cargo test --lib fuzz`): proptest
//! on stable Rust, with a budget set from the environment.
//!
//! - In CI and `cargo test`, each target runs `PROMPTGATE_FUZZ_CASES` cases
//!   (default [`DEFAULT_CASES`]) from a fixed seed, so a run is repeatable and
//!   short.
//! - `scripts/fuzz` sets `PROMPTGATE_FUZZ_SECONDS`: the target then runs
//!   rounds from fresh random seeds until the time is up.
//!
//! A failing input is shrunk and its seed is written to
//! `fuzz-regressions/<target>.txt` (checked in); every later run replays the
//! seeds in that file first, so a crash once found stays a test case.

use std::time::{Duration, Instant};

use proptest::strategy::Strategy;
use proptest::test_runner::{
    Config, FileFailurePersistence, RngSeed, TestCaseResult, TestError, TestRunner,
};

/// Cases per target when nothing else is asked: the whole set of targets
/// stays within a few seconds of test time.
pub const DEFAULT_CASES: u32 = 64;

/// The seed of the bounded runs (any fixed value: it makes CI repeatable).
const FIXED_SEED: u64 = 0x5eed_f022;

/// Runs `test` on inputs from `strategy` within the budget; panics with the
/// smallest failing input found.
pub fn check<S>(target: &'static str, strategy: S, test: impl Fn(S::Value) -> TestCaseResult)
where
    S: Strategy,
    S::Value: std::fmt::Debug,
{
    let cases = env_number("PROMPTGATE_FUZZ_CASES").unwrap_or(DEFAULT_CASES.into());
    let seconds = env_number("PROMPTGATE_FUZZ_SECONDS");
    let deadline = seconds.map(|s| Instant::now() + Duration::from_secs(s));
    let mut rounds = 0u64;
    loop {
        let mut config = Config {
            cases: u32::try_from(cases).unwrap_or(u32::MAX),
            failure_persistence: Some(Box::new(FileFailurePersistence::Direct(regressions_file(
                target,
            )))),
            // Shrinking a slow input must not eat the whole budget.
            max_shrink_time: 30_000,
            ..Config::default()
        };
        if deadline.is_none() {
            config.rng_seed = RngSeed::Fixed(FIXED_SEED);
        }
        let mut runner = TestRunner::new(config);
        match runner.run(&strategy, &test) {
            Ok(()) => {}
            Err(TestError::Fail(why, input)) => {
                panic!("fuzz target {target} failed: {why}\nminimal input: {input:#?}")
            }
            Err(TestError::Abort(why)) => panic!("fuzz target {target} aborted: {why}"),
        }
        rounds += 1;
        match deadline {
            Some(d) if Instant::now() < d => continue,
            _ => break,
        }
    }
    if seconds.is_some() {
        eprintln!("fuzz target {target}: {rounds} x {cases} cases, no failure");
    }
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.trim().parse().ok()
}

/// `fuzz-regressions/<target>.txt` below the crate root (cargo runs tests
/// there). Leaked: proptest wants a `&'static str`, and a target asks once.
fn regressions_file(target: &str) -> &'static str {
    let path = format!(
        "{}/fuzz-regressions/{target}.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    Box::leak(path.into_boxed_str())
}

/// Bytes that look like what a parser of JSON or SSE expects, more often
/// than uniform random bytes would: pieces of the grammar mixed with noise.
pub fn near_json_bytes(max_len: usize) -> impl Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    let piece = prop_oneof![
        4 => prop::sample::select(vec![
            "{", "}", "[", "]", ",", ":", "\"", "\\", "\\u", "\\ud800", "null", "true", "1e999",
            "-0", "\"usage\"", "\"usage\":null", "\"usage\":{", "data:", "data: ", "event: ",
            "\n", "\r", "\r\n", "\n\n", "\r\n\r\n", "[DONE]", " ", "\u{0}", "é", "\u{feff}",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..4),
    ];
    prop::collection::vec(piece, 0..max_len).prop_map(|ps| ps.concat())
}

/// Any JSON value, nested a few levels, with object keys drawn from `keys`
/// (so a target can keep some keys out of nested objects).
pub fn json_value(keys: &'static str) -> impl Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter_map("finite", serde_json::Number::from_f64)
            // serde_json parses some floats a unit off in the last place:
            // keep those out so that targets may compare values after a trip.
            .prop_filter("reads back the same", |n| {
                serde_json::from_str::<serde_json::Number>(&n.to_string())
                    .ok()
                    .as_ref()
                    == Some(n)
            })
            .prop_map(Value::Number),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(keys, inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// `value` as JSON text, compact or with the blanks a pretty printer adds
/// (`pretty`): parsers must not care.
pub fn to_json(value: &serde_json::Value, pretty: bool) -> String {
    let text = if pretty {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    };
    text.unwrap_or_default()
}
