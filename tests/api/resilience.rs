//! Retries, fallbacks and cooldowns against scripted upstreams that fail on
//! cue (issue 18, acceptance 1).

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::response::Response;
use promptgate::config::UpstreamConfig;
use promptgate::resilience::{CooldownConfig, RetryConfig};
use serde_json::{json, Value};

use crate::helpers::{base_config, error_of, http_upstream, spawn_app, TestApp, TestDb, ADMIN_KEY};
use crate::upstream_faults::{sequence, Arrivals, Script};

const HANG_GUARD: Duration = Duration::from_secs(20);

fn answer() -> Response {
    let body = json!({"id": "c1", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 1000, "total_tokens": 2000}});
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn error(status: u16, retry_after: Option<&str>) -> Response {
    let mut b = Response::builder()
        .status(status)
        .header("content-type", "application/json");
    if let Some(r) = retry_after {
        b = b.header("retry-after", r);
    }
    let body = json!({"error": {"message": format!("scripted {status}"), "type": "x", "param": null, "code": null}});
    b.body(Body::from(body.to_string())).unwrap()
}

fn too_many() -> Response {
    error(429, Some("1"))
}
fn server_error() -> Response {
    error(500, None)
}
fn bad_request() -> Response {
    error(400, None)
}

fn chunk(text: &str) -> String {
    let v = json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]});
    format!("data: {v}\n\n")
}

fn event_stream(body: Body) -> Response {
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(body)
        .unwrap()
}

fn good_stream() -> Response {
    event_stream(Body::from(format!("{}data: [DONE]\n\n", chunk("from-b"))))
}

/// An event stream that ends before its first event.
fn empty_stream() -> Response {
    event_stream(Body::empty())
}

/// One content chunk, then (once it surely went out) the connection breaks.
fn cut_after_first_chunk() -> Response {
    let parts = futures_util::stream::unfold(0, |n| async move {
        match n {
            0 => Some((Ok(Bytes::from(chunk("from-a"))), 1)),
            1 => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                Some((Err(std::io::Error::other("cut")), 2))
            }
            _ => None,
        }
    });
    event_stream(Body::from_stream(parts))
}

fn with_retry(mut up: UpstreamConfig, attempts: u32) -> UpstreamConfig {
    up.retry = Some(RetryConfig {
        attempts,
        backoff_ms: 10,
        ..RetryConfig::default()
    });
    up
}

async fn app(
    upstreams: Vec<UpstreamConfig>,
    alias: Option<Vec<&str>>,
) -> (TestDb, TestApp, String) {
    let db = TestDb::sqlite();
    let mut config = base_config(db.url());
    config.upstreams = upstreams;
    if let Some(targets) = alias {
        config.aliases.insert("g".into(), targets.into());
    }
    let app = spawn_app(config).await;
    let key = app.team_key("t").await;
    (db, app, key)
}

async fn ask(app: &TestApp, key: &str, model: &str, stream: bool) -> reqwest::Response {
    let body =
        json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "x"}]});
    tokio::time::timeout(HANG_GUARD, app.post(key, "/v1/chat/completions", body))
        .await
        .expect("the gateway answers")
}

fn header<'a>(resp: &'a reqwest::Response, name: &str) -> &'a str {
    resp.headers()[name].to_str().unwrap()
}

fn count(arrivals: &Arrivals) -> usize {
    arrivals.lock().unwrap().len()
}

async fn one_upstream(steps: Vec<Script>, attempts: u32) -> (TestDb, TestApp, String, Arrivals) {
    let (addr, arrivals) = sequence(steps).await;
    let up = with_retry(http_upstream("a", addr, &["m"], 10), attempts);
    let (db, app, key) = app(vec![up], None).await;
    (db, app, key, arrivals)
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_once_after_waiting() {
    let (_db, app, key, arrivals) = one_upstream(vec![too_many, answer], 3).await;
    let resp = ask(&app, &key, "m", false).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-promptgate-attempts"), "2");
    let at = arrivals.lock().unwrap().clone();
    assert_eq!(at.len(), 2);
    assert!(
        at[1] - at[0] >= Duration::from_secs(1),
        "waited {:?}",
        at[1] - at[0]
    );
    app.stop().await;
}

#[tokio::test]
async fn two_500s_then_a_200_succeed_within_the_attempts() {
    let (_db, app, key, arrivals) = one_upstream(vec![server_error, server_error, answer], 3).await;
    let resp = ask(&app, &key, "m", false).await;
    assert_eq!(resp.status(), 200);
    let id = header(&resp, "x-request-id").to_owned();
    assert_eq!(count(&arrivals), 3);
    let rec = app.record(&key, &id).await;
    assert_eq!(rec["attempts"], 3);
    assert_eq!(rec["outcome"], "ok");
    let metrics = app.get(ADMIN_KEY, "/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"promptgate_upstream_retries_total{upstream="a",reason="5xx"}"#),
        "{metrics}"
    );
    app.stop().await;
}

#[tokio::test]
async fn too_few_attempts_pass_the_last_failure_on() {
    let (_db, app, key, arrivals) = one_upstream(vec![server_error, server_error, answer], 2).await;
    let resp = ask(&app, &key, "m", false).await;
    assert_eq!(resp.status(), 502);
    assert_eq!(count(&arrivals), 2);
    app.stop().await;
}

#[tokio::test]
async fn a_400_is_not_retried() {
    let (_db, app, key, arrivals) = one_upstream(vec![bad_request, answer], 3).await;
    let resp = ask(&app, &key, "m", false).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(header(&resp, "x-promptgate-attempts"), "1");
    assert_eq!(count(&arrivals), 1);
    app.stop().await;
}

#[tokio::test]
async fn connect_refused_on_the_first_target_is_answered_by_the_second_and_priced_for_it() {
    let (b, b_arrivals) = sequence(vec![answer]).await;
    let dead = http_upstream("a", "127.0.0.1:9".parse().unwrap(), &["a-only"], 5);
    let db = TestDb::sqlite();
    let mut config = base_config(db.url());
    config.upstreams = vec![dead, http_upstream("b", b, &["b-only"], 5)];
    config
        .aliases
        .insert("g".into(), vec!["a/m-cheap", "b/m-dear"].into());
    for (model, usd) in [("m-cheap", "1"), ("m-dear", "3")] {
        let price = json!({"input": usd, "output": usd});
        config
            .prices
            .insert(model.into(), serde_json::from_value(price).unwrap());
    }
    let app = spawn_app(config).await;
    let key = app.team_key("t").await;
    let resp = ask(&app, &key, "g", false).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-promptgate-upstream"), "b");
    assert_eq!(header(&resp, "x-promptgate-attempts"), "2");
    // 2000 tokens at 3 USD per million, not at the first target's 1 USD
    assert_eq!(header(&resp, "x-promptgate-cost-usd"), "0.006");
    let id = header(&resp, "x-request-id").to_owned();
    assert_eq!(count(&b_arrivals), 1);
    let rec = app.record(&key, &id).await;
    assert_eq!(rec["upstream"], "b");
    assert_eq!(rec["model"], "b/m-dear");
    assert_eq!(rec["attempts"], 2);
    assert_eq!(rec["cost_usd"], "0.006");
    app.stop().await;
}

#[tokio::test]
async fn a_stream_that_fails_before_its_first_chunk_falls_back() {
    let (a, a_arrivals) = sequence(vec![empty_stream]).await;
    let (b, b_arrivals) = sequence(vec![good_stream]).await;
    let ups = vec![
        http_upstream("a", a, &["a-m"], 5),
        http_upstream("b", b, &["b-m"], 5),
    ];
    let (_db, app, key) = app(ups, Some(vec!["a-m", "b-m"])).await;
    let resp = ask(&app, &key, "g", true).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-promptgate-upstream"), "b");
    let text = resp.text().await.unwrap();
    assert!(text.contains("from-b") && text.contains("[DONE]"), "{text}");
    assert_eq!((count(&a_arrivals), count(&b_arrivals)), (1, 1));
    app.stop().await;
}

#[tokio::test]
async fn a_stream_that_fails_after_its_first_chunk_does_not_fall_back() {
    let (a, a_arrivals) = sequence(vec![cut_after_first_chunk]).await;
    let (b, b_arrivals) = sequence(vec![good_stream]).await;
    let a_up = with_retry(http_upstream("a", a, &["a-m"], 5), 3);
    let ups = vec![a_up, http_upstream("b", b, &["b-m"], 5)];
    let (_db, app, key) = app(ups, Some(vec!["a-m", "b-m"])).await;
    let resp = ask(&app, &key, "g", true).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-promptgate-upstream"), "a");
    let id = header(&resp, "x-request-id").to_owned();
    let text = resp.text().await.unwrap();
    // the client sees the first chunk, then the cut
    assert!(text.contains("from-a"), "{text}");
    assert!(
        !text.contains("from-b") && !text.contains("[DONE]"),
        "{text}"
    );
    assert!(text.contains("upstream_unavailable"), "{text}");
    assert_eq!((count(&a_arrivals), count(&b_arrivals)), (1, 0));
    assert_eq!(app.record(&key, &id).await["outcome"], "upstream_error");
    app.stop().await;
}

#[tokio::test]
async fn an_upstream_that_keeps_failing_cools_down_and_is_skipped() {
    let (a, a_arrivals) = sequence(vec![server_error]).await;
    let (b, b_arrivals) = sequence(vec![answer]).await;
    let mut a_up = http_upstream("a", a, &["a-m"], 5);
    a_up.cooldown = Some(CooldownConfig {
        failures: 2,
        window_ms: 60_000,
        cooldown_ms: 60_000,
    });
    let ups = vec![a_up, http_upstream("b", b, &["b-m"], 5)];
    let (_db, app, key) = app(ups, Some(vec!["a-m", "b-m"])).await;
    for _ in 0..5 {
        assert_eq!(ask(&app, &key, "g", false).await.status(), 200);
    }
    // two failures opened it: the three calls after went straight to b
    assert_eq!((count(&a_arrivals), count(&b_arrivals)), (2, 5));
    // alone, a cooling upstream is a 503 with Retry-After, not a call
    let resp = ask(&app, &key, "a-m", false).await;
    assert_eq!(resp.status(), 503);
    let retry: u64 = header(&resp, "retry-after").parse().unwrap();
    assert!(retry > 0 && retry <= 60);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(error_of(&body).2, Some("upstream_cooling_down"));
    assert_eq!(count(&a_arrivals), 2);
    let metrics = app.get(ADMIN_KEY, "/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("promptgate_upstream_cooldowns_total"),
        "{metrics}"
    );
    assert!(metrics.contains("promptgate_fallbacks_total"), "{metrics}");
    app.stop().await;
}

#[tokio::test]
async fn a_cooldown_opened_on_one_replica_is_seen_by_the_other_through_redis() {
    let Some(redis) = crate::cache::redis_url() else {
        return;
    };
    let (a, a_arrivals) = sequence(vec![server_error]).await;
    let db = TestDb::sqlite();
    let prefix = format!("pgtest-{}", uuid::Uuid::new_v4().simple());
    let replica = || {
        let mut config = base_config(db.url());
        config.cache.redis_url = Some(redis.clone());
        config.cache.prefix = prefix.clone();
        let mut up = http_upstream("a", a, &["a-m"], 5);
        up.cooldown = Some(CooldownConfig {
            failures: 2,
            window_ms: 60_000,
            cooldown_ms: 60_000,
        });
        config.upstreams = vec![up];
        config
    };
    let one = spawn_app(replica()).await;
    let two = spawn_app(replica()).await;
    let key = one.team_key("t").await;
    for _ in 0..2 {
        assert_eq!(ask(&one, &key, "a-m", false).await.status(), 502);
    }
    // replica two never saw a failure; it learns of the cooldown from Redis
    let start = std::time::Instant::now();
    while ask(&two, &key, "a-m", false).await.status() != 503 {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "replica two never cooled down"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let calls_at_a = count(&a_arrivals);
    assert_eq!(ask(&two, &key, "a-m", false).await.status(), 503);
    assert_eq!(ask(&one, &key, "a-m", false).await.status(), 503);
    assert_eq!(count(&a_arrivals), calls_at_a);
    one.stop().await;
    two.stop().await;
}

#[test]
fn retries_fallbacks_cooldowns_and_limits_read_from_toml() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    let toml = r#"
[[upstreams]]
name = "openai"
base_url = "https://api.openai.com/v1"
models = ["gpt-4o*"]
retry = { attempts = 3, on = [429, 503, "connect"] }
cooldown = { failures = 3 }

[aliases]
fast = "gpt-4o-mini"
"gpt-4o" = ["openai/gpt-4o", "mock/mock-1"]

[[rate_limits]]
team = "*"
rpm = 600

[[rate_limits]]
team = "search"
model = "gpt-4o"
tpm = 200000
concurrency = 8
"#;
    std::fs::write(&path, toml).unwrap();
    let config = promptgate::Config::load(Some(&path)).unwrap();
    let up = &config.upstreams[0];
    let retry = up.retry.as_ref().unwrap();
    assert_eq!(
        (retry.attempts, retry.backoff_ms, retry.on.len()),
        (3, 250, 3)
    );
    assert_eq!(up.cooldown.as_ref().unwrap().failures, 3);
    assert_eq!(config.aliases["fast"].primary(), "gpt-4o-mini");
    assert_eq!(config.aliases["gpt-4o"].fallbacks(), ["mock/mock-1"]);
    assert_eq!(config.rate_limits.len(), 2);
    assert_eq!(config.rate_limits[1].concurrency, Some(8));

    std::fs::write(&path, toml.replace("[429, 503", "[400, 503")).unwrap();
    let err = promptgate::Config::load(Some(&path))
        .unwrap_err()
        .to_string();
    assert!(err.contains("upstreams[0].retry.on"), "{err}");
    std::fs::write(&path, toml.replace("rpm = 600", "rpm = 600\nkey = \"k\"")).unwrap();
    let err = promptgate::Config::load(Some(&path))
        .unwrap_err()
        .to_string();
    assert!(err.contains("rate_limits[0].key"), "{err}");
}
