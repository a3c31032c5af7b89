//! The whole gateway fed hostile requests: bodies that are not JSON, JSON of
//! the wrong shape, prompt references with odd variables, on every endpoint
//! that reads a body. Whatever comes in, the answer is never a 500, an error
//! is in the API's error shape, and the gateway keeps answering.
//!
//! Cases: `PROMPTGATE_FUZZ_CASES` (default 64) from a fixed seed; with
//! `PROMPTGATE_FUZZ_SECONDS` (set by `scripts/fuzz`), rounds from random seeds
//! until the time is up. A failing request is appended to
//! `fuzz-regressions/api_requests.jsonl` and replayed first on every run.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngSeed, TestRunner};
use serde_json::{json, Map, Value};

use crate::helpers::{base_config, spawn_app, TestApp, TestDb, ADMIN_KEY};

/// The endpoints that read a request body, and whether the admin key calls them.
const ENDPOINTS: &[(&str, bool)] = &[
    ("/v1/chat/completions", false),
    ("/v1/completions", false),
    ("/v1/embeddings", false),
    ("/v1/responses", false),
    ("/v1/messages", false),
    ("/v1/messages/count_tokens", false),
    ("/v1/grounding/score", false),
    ("/v1/prompts/fuzz/render", false),
    ("/v1/prompts/fuzz/versions", true),
    ("/v1/teams", true),
    ("/v1/teams/t/keys", true),
];

const REGRESSIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fuzz-regressions/api_requests.jsonl"
);

#[derive(Clone, Debug)]
struct Case {
    path: &'static str,
    admin: bool,
    body: Vec<u8>,
}

impl Case {
    fn to_line(&self) -> String {
        json!({"path": self.path, "admin": self.admin, "body": self.body}).to_string()
    }

    fn from_line(line: &str) -> Option<Case> {
        let v: Value = serde_json::from_str(line).ok()?;
        let path = ENDPOINTS
            .iter()
            .find(|(p, _)| Some(*p) == v["path"].as_str())?
            .0;
        let body = serde_json::from_value(v["body"].clone()).ok()?;
        Some(Case {
            path,
            admin: v["admin"].as_bool()?,
            body,
        })
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(vec![-1.5, 0.0, 1e300, 2.5e-308]).prop_map(|f| json!(f)),
        any::<String>().prop_map(Value::String),
        prop::sample::select(vec![
            "mock-1",
            "fuzz",
            "user",
            "system",
            "text",
            "chat",
            "{{role \"system\"}}",
            "",
            "{{q}}",
            "\u{0}",
            "*",
            "../../etc",
        ])
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    let key = prop::sample::select(vec![
        "model",
        "messages",
        "role",
        "content",
        "prompt",
        "id",
        "version",
        "label",
        "variables",
        "q",
        "stream",
        "include_usage",
        "type",
        "text",
        "ttl",
        "context",
        "answer",
        "x",
    ]);
    leaf.prop_recursive(4, 40, 5, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..5).prop_map(|m| Value::Object(
                m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

/// A request body: a JSON object with the fields the endpoints read, or bytes.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let field = prop::sample::select(vec![
        "model",
        "messages",
        "prompt",
        "prompt_id",
        "prompt_version",
        "prompt_label",
        "prompt_variables",
        "stream",
        "stream_options",
        "input",
        "max_tokens",
        "cache",
        "grounding",
        "metadata",
        "context",
        "answer",
        "threshold",
        "type",
        "template",
        "variables_schema",
        "system",
        "name",
        "variables",
        "tools",
        "response_format",
        "n",
    ]);
    let object = prop::collection::btree_map(field, json_value(), 0..8).prop_map(|m| {
        let mut o: Map<String, Value> = m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        o.entry("model").or_insert_with(|| json!("mock-1"));
        serde_json::to_vec(&Value::Object(o)).unwrap_or_default()
    });
    let bytes = prop::collection::vec(
        prop_oneof![
            prop::sample::select(vec![
                "{", "}", "[", "]", "\"", ":", ",", "\\u", "null", "1e999", "\u{0}", "é"
            ])
            .prop_map(|s| s.as_bytes().to_vec()),
            prop::collection::vec(any::<u8>(), 0..4),
        ],
        0..24,
    )
    .prop_map(|ps| ps.concat());
    prop_oneof![4 => object, 1 => bytes]
}

fn case() -> impl Strategy<Value = Case> {
    (prop::sample::select(ENDPOINTS), body()).prop_map(|((path, admin), body)| Case {
        path,
        admin,
        body,
    })
}

/// Sends `case`; `Err` says what was wrong with the answer.
async fn check(app: &TestApp, key: &str, case: &Case) -> Result<(), String> {
    let key = if case.admin { ADMIN_KEY } else { key };
    let resp = app
        .http
        .post(app.url(case.path))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(case.body.clone())
        .send()
        .await
        .map_err(|e| format!("no answer: {e}"))?;
    let status = resp.status().as_u16();
    let text = resp
        .text()
        .await
        .map_err(|e| format!("{status} cut short: {e}"))?;
    if status >= 500 {
        return Err(format!("{status}: {text}"));
    }
    if status >= 400 {
        let v: Value =
            serde_json::from_str(&text).map_err(|_| format!("{status} not JSON: {text}"))?;
        if !v["error"]["message"].is_string() {
            return Err(format!("{status} not in the error shape: {text}"));
        }
    }
    Ok(())
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.trim().parse().ok()
}

#[tokio::test]
async fn hostile_request_bodies_never_get_a_500() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let key = app.team_key("t").await;
    let prompt = json!({"type": "chat",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "{{q}}"}],
        "variables_schema": {"q": "string"}});
    let created = app
        .post(ADMIN_KEY, "/v1/prompts/fuzz/versions", prompt)
        .await;
    assert_eq!(created.status(), 201);

    let saved: Vec<Case> = std::fs::read_to_string(REGRESSIONS)
        .unwrap_or_default()
        .lines()
        .filter_map(Case::from_line)
        .collect();
    for case in &saved {
        if let Err(why) = check(&app, &key, case).await {
            panic!("saved case {case:?} fails again: {why}");
        }
    }

    let cases = env_number("PROMPTGATE_FUZZ_CASES").unwrap_or(64);
    let seconds = env_number("PROMPTGATE_FUZZ_SECONDS");
    let deadline = seconds.map(|s| Instant::now() + Duration::from_secs(s));
    let mut config = Config::default();
    if deadline.is_none() {
        config.rng_seed = RngSeed::Fixed(0x5eed_f022);
    }
    let mut runner = TestRunner::new(config);
    let strategy = case();
    let mut sent = 0u64;
    loop {
        for _ in 0..cases {
            let case = strategy.new_tree(&mut runner).expect("a case").current();
            if let Err(why) = check(&app, &key, &case).await {
                let mut file = std::fs::read_to_string(REGRESSIONS).unwrap_or_default();
                file.push_str(&case.to_line());
                file.push('\n');
                let _ = std::fs::write(REGRESSIONS, file);
                panic!("{case:?} (saved to fuzz-regressions/): {why}");
            }
            sent += 1;
        }
        if deadline.is_none_or(|d| Instant::now() >= d) {
            break;
        }
    }
    if seconds.is_some() {
        eprintln!("fuzz target api_requests: {sent} requests, no failure");
    }
    // Still up and answering after all of it.
    assert_eq!(app.chat(&key, "mock-1").await.status(), 200);
    app.stop().await;
}
