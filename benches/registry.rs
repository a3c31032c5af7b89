//! Prompt registry on the request path: resolve a label with a 90/10 rollout,
//! render a typical 3-message prompt with 3 variables, and rewrite the request
//! body (what the proxy's prompt stage does for every call that names a prompt).
//!
//! The registry is the real [`LiveRegistry`], loaded from a throwaway SQLite
//! store, so resolution goes through the same snapshot, rollout choice and
//! compiled-template cache as in the gateway. Sticky keys cycle through 1,024
//! users so both sides of the rollout are exercised.
//!
//! Besides criterion's estimates, prints p50 / p99 / p99.9 / max of 100,000
//! individually timed calls for each stage.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use promptgate::api::Endpoint;
use promptgate::gateway::body::RequestBody;
use promptgate::gateway::prompting;
use promptgate::registry::live::{LiveRegistry, Selector};
use promptgate::registry::service;
use promptgate::registry::{NewVersion, Source, Target};
use serde_json::{json, Map, Value};

const NAME: &str = "support/answer";
const USERS: usize = 1024;
const TIMED_CALLS: usize = 100_000;

fn version(system: &str) -> NewVersion {
    serde_json::from_value(json!({
        "type": "chat",
        "messages": [
            {"role": "system", "content": system},
            {"role": "assistant", "content": "Hello! I can help with {{product}}. What is your question?"},
            {"role": "user", "content": "Question about {{product}}: {{question}}"}
        ],
        "config": {"model": "gpt-4o-mini", "temperature": 0.2, "max_tokens": 400},
        "variables_schema": {
            "product": "string",
            "question": "string",
            "docs": {"type": "array", "items": "string"}
        },
        "grounding_variable": "docs"
    }))
    .expect("version body")
}

/// A registry with two versions of `support/answer` and `production` at 90/10.
fn registry() -> (Arc<LiveRegistry>, tempfile::TempDir) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let live = rt.block_on(async {
        let store = promptgate::store::connect(&url, 1).await.expect("store");
        let live = Arc::new(LiveRegistry::load(store.as_ref()).await.expect("load"));
        for system in [
            "You are a support assistant for {{product}}. Answer only from the passages below.\n\
             {{#each docs}}- {{this}}\n{{/each}}",
            "You are a support assistant for {{product}}. Answer only from the passages below; \
             if they do not contain the answer, say so.\n{{#each docs}}- {{this}}\n{{/each}}",
        ] {
            service::create_version(
                store.as_ref(),
                &live,
                NAME,
                version(system),
                Some("bench"),
                Source::Api,
            )
            .await
            .expect("create version");
        }
        let target: Target = serde_json::from_value(
            json!({"rollout": [{"version": 1, "weight": 90}, {"version": 2, "weight": 10}]}),
        )
        .expect("target");
        service::move_label(
            store.as_ref(),
            &live,
            NAME,
            "production",
            &target,
            None,
            Some("bench"),
        )
        .await
        .expect("move label");
        live
    });
    (live, dir)
}

fn variables() -> Map<String, Value> {
    let docs: Vec<String> = (1..=3)
        .map(|i| {
            format!(
                "Passage {i}: to reset your password open Settings, then Security, then \
                 'Reset password'. A link valid for 30 minutes is sent to your e-mail address."
            )
        })
        .collect();
    match json!({
        "product": "Acme Cloud",
        "question": "How do I reset my password if I no longer have access to my e-mail?",
        "docs": docs
    }) {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

/// A typical client body: the prompt reference plus one message of its own.
fn client_body(vars: &Map<String, Value>) -> Bytes {
    Bytes::from(
        serde_json::to_vec(&json!({
            "prompt": {"id": NAME, "variables": vars},
            "messages": [{"role": "user", "content": "Please answer in English."}],
            "metadata": {"user": "u-1"}
        }))
        .expect("body"),
    )
}

fn percentiles(mut v: Vec<f64>) -> (f64, f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let p = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (p(0.5), p(0.99), p(0.999), v[v.len() - 1])
}

fn report(label: &str, times_us: Vec<f64>) {
    let n = times_us.len();
    let (p50, p99, p999, max) = percentiles(times_us);
    println!(
        "{label:<34} p50 {p50:>7.2} µs  p99 {p99:>7.2} µs  p99.9 {p999:>7.2} µs  max {max:>8.2} µs  ({n} calls)"
    );
}

fn bench(c: &mut Criterion) {
    let (live, _dir) = registry();
    let vars = variables();
    let raw = client_body(&vars);
    let users: Vec<String> = (0..USERS).map(|i| format!("u-{i}")).collect();
    let selector = Selector::default();

    // Sanity: the rollout serves both versions, ~10% the second.
    let second = users
        .iter()
        .filter(|u| {
            live.resolve(NAME, &selector, u)
                .expect("resolve")
                .version
                .version
                == 2
        })
        .count();
    println!(
        "rollout: version 2 serves {second} of {USERS} users ({:.1}%)",
        100.0 * second as f64 / USERS as f64
    );

    let resolve_render = |user: &str| {
        let v = live.resolve(NAME, &selector, user).expect("resolve");
        v.compiled.render(&vars).expect("render")
    };
    let prompt_stage = |user: &str| {
        let mut body = RequestBody::parse(&raw).expect("parse");
        let prompt = prompting::take_prompt_ref(&mut body, Endpoint::Chat)
            .expect("prompt ref")
            .expect("has prompt");
        let v = prompting::apply(&live, &prompt, user, Endpoint::Chat, &mut body).expect("apply");
        black_box(v.version.version);
        body.to_bytes(&raw)
    };
    let out = prompt_stage("u-1");
    println!(
        "upstream body: {} bytes ({} bytes from the client)",
        out.len(),
        raw.len()
    );

    // Individually timed calls (warm-up first).
    for i in 0..2_000 {
        black_box(prompt_stage(&users[i % USERS]));
    }
    let mut times = Vec::with_capacity(TIMED_CALLS);
    for i in 0..TIMED_CALLS {
        let user = &users[i % USERS];
        let t = Instant::now();
        black_box(
            live.resolve(NAME, &selector, black_box(user))
                .expect("resolve"),
        );
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    report("resolve (90/10 rollout)", times);
    let mut times = Vec::with_capacity(TIMED_CALLS);
    for i in 0..TIMED_CALLS {
        let user = &users[i % USERS];
        let t = Instant::now();
        black_box(resolve_render(black_box(user)));
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    report("resolve + render", times);
    let mut times = Vec::with_capacity(TIMED_CALLS);
    for i in 0..TIMED_CALLS {
        let user = &users[i % USERS];
        let t = Instant::now();
        black_box(prompt_stage(black_box(user)));
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    report("prompt stage (parse+apply+bytes)", times);

    let mut i = 0usize;
    c.bench_function("registry resolve (90/10 rollout)", |b| {
        b.iter(|| {
            i = (i + 1) % USERS;
            live.resolve(NAME, &selector, black_box(&users[i]))
                .expect("resolve")
        })
    });
    c.bench_function("registry resolve + render (3 messages, 3 vars)", |b| {
        b.iter(|| {
            i = (i + 1) % USERS;
            resolve_render(black_box(&users[i]))
        })
    });
    c.bench_function(
        "prompt stage: parse + resolve + render + rewrite body",
        |b| {
            b.iter(|| {
                i = (i + 1) % USERS;
                prompt_stage(black_box(&users[i]))
            })
        },
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
