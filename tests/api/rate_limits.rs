//! Rate limits (issue 18, acceptance 2): RPM, TPM and concurrency, counted
//! across two replicas through Redis, and per process without it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use futures_util::StreamExt;
use promptgate::limits::RateLimitRule;
use serde_json::{json, Value};

use crate::cache::redis_url;
use crate::helpers::{base_config, error_of, http_upstream, serve, spawn_app, TestApp, TestDb};

fn rule(team: Option<&str>, key: Option<&str>) -> RateLimitRule {
    RateLimitRule {
        team: team.map(Into::into),
        key: key.map(Into::into),
        model: None,
        rpm: None,
        tpm: None,
        concurrency: None,
    }
}

fn config(
    db: &TestDb,
    redis: Option<&str>,
    prefix: &str,
    upstream: Option<std::net::SocketAddr>,
    rules: &[RateLimitRule],
) -> promptgate::Config {
    let mut config = base_config(db.url());
    config.cache.redis_url = redis.map(str::to_owned);
    config.cache.prefix = prefix.to_owned();
    // Long enough that a loaded test machine does not look like a Redis
    // outage (which makes each replica count alone, as documented).
    config.cache.redis_timeout_ms = 5_000;
    if let Some(addr) = upstream {
        config.upstreams = vec![http_upstream("s", addr, &["s"], 30)];
    }
    config.rate_limits = rules.to_vec();
    config
}

/// Two replicas on one database and one Redis key prefix, with one rule.
async fn two_replicas(
    db: &TestDb,
    redis: &str,
    upstream: Option<std::net::SocketAddr>,
    limit: RateLimitRule,
) -> (TestApp, TestApp) {
    let prefix = prefix();
    let rules = [limit];
    let a = spawn_app(config(db, Some(redis), &prefix, upstream, &rules)).await;
    let b = spawn_app(config(db, Some(redis), &prefix, upstream, &rules)).await;
    (a, b)
}

/// A team "t" and a key for it, made before the replicas start (a rule can
/// then name the key's id). Returns (key, key id).
async fn key_in(db: &TestDb) -> (String, String) {
    let app = spawn_app(base_config(db.url())).await;
    let key = app.team_key("t").await;
    let id = app.state.store.active_keys().await.unwrap()[0].id.clone();
    app.stop().await;
    (key, id)
}

async fn chat(app: &TestApp, key: &str, model: &str, max_tokens: Option<u64>) -> reqwest::Response {
    let mut body = json!({"model": model, "messages": [{"role": "user", "content": "hello"}]});
    if let Some(m) = max_tokens {
        body["max_tokens"] = json!(m);
    }
    app.post(key, "/v1/chat/completions", body).await
}

fn prefix() -> String {
    format!("pgtest-{}", uuid::Uuid::new_v4().simple())
}

fn header<'a>(resp: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Sends `n` calls to each app, `parallel` at a time per app; returns the
/// statuses and the first 429.
async fn burst(
    apps: &[&TestApp],
    key: &str,
    model: &str,
    n: usize,
    parallel: usize,
) -> (Vec<u16>, Option<(reqwest::header::HeaderMap, Value)>) {
    let per_app = apps.iter().map(|app| {
        futures_util::stream::iter(0..n)
            .map(move |_| async move {
                let resp = chat(app, key, model, None).await;
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                let body: Value = resp.json().await.unwrap_or(Value::Null);
                (status, headers, body)
            })
            .buffer_unordered(parallel)
            .collect::<Vec<_>>()
    });
    let results: Vec<_> = futures_util::future::join_all(per_app)
        .await
        .into_iter()
        .flatten()
        .collect();
    let statuses = results.iter().map(|r| r.0).collect();
    let refused = results
        .into_iter()
        .find(|r| r.0 == 429)
        .map(|(_, h, b)| (h, b));
    (statuses, refused)
}

#[tokio::test]
async fn rpm_100_for_a_key_holds_across_two_replicas_sharing_redis() {
    let Some(redis) = redis_url() else { return };
    let db = TestDb::sqlite();
    let (key, key_id) = key_in(&db).await;
    let mut limit = rule(None, Some(&key_id));
    limit.rpm = Some(100);
    let (a, b) = two_replicas(&db, &redis, None, limit).await;
    let (statuses, refused) = burst(&[&a, &b], &key, "mock-1", 200, 16).await;
    let accepted = statuses.iter().filter(|s| **s == 200).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(accepted + limited, 400, "{statuses:?}");
    eprintln!("RPM 100 on two replicas: {accepted} of 400 accepted");
    assert!(
        (100..=102).contains(&accepted),
        "accepted {accepted} of 400"
    );
    let (headers, body) = refused.expect("a 429");
    assert_eq!(
        error_of(&body),
        ("requests", None, Some("rate_limit_exceeded"))
    );
    assert!(body["error"]["message"].as_str().unwrap().contains("RPM"));
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after));
    assert_eq!(headers["x-ratelimit-limit-requests"], "100");
    assert_eq!(headers["x-ratelimit-remaining-requests"], "0");
    assert!(headers.contains_key("x-ratelimit-reset-requests"));
    a.stop().await;
    b.stop().await;
}

/// Answers after `delay`, with a fixed usage; counts the calls in flight.
async fn slow_upstream(
    delay: Duration,
    usage: (u64, u64),
) -> (std::net::SocketAddr, Arc<(AtomicUsize, AtomicUsize)>) {
    // (in flight now, most ever in flight)
    let gauge: Arc<(AtomicUsize, AtomicUsize)> = Arc::default();
    let g = gauge.clone();
    let router = axum::Router::new().fallback(move || {
        let g = g.clone();
        async move {
            let now = g.0.fetch_add(1, Ordering::SeqCst) + 1;
            g.1.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            g.0.fetch_sub(1, Ordering::SeqCst);
            let body = json!({"id": "c", "object": "chat.completion", "created": 1, "model": "s",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": usage.0, "completion_tokens": usage.1, "total_tokens": usage.0 + usage.1}});
            Response::builder()
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap()
        }
    });
    (serve(router).await, gauge)
}

#[tokio::test]
async fn concurrency_4_never_lets_more_than_4_reach_the_upstream() {
    let Some(redis) = redis_url() else { return };
    let db = TestDb::sqlite();
    let (key, _) = key_in(&db).await;
    let (upstream, gauge) = slow_upstream(Duration::from_millis(300), (5, 5)).await;
    let mut limit = rule(Some("t"), None);
    limit.concurrency = Some(4);
    let (a, b) = two_replicas(&db, &redis, Some(upstream), limit).await;
    let (statuses, refused) = burst(&[&a, &b], &key, "s", 20, 10).await;
    let accepted = statuses.iter().filter(|s| **s == 200).count();
    let most = gauge.1.load(Ordering::SeqCst);
    assert!(most <= 4, "{most} calls in flight at the upstream");
    assert!(accepted >= 4, "{statuses:?}");
    let (_, body) = refused.expect("some calls were refused");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("concurrent"));
    // the places are freed: a later call gets in
    assert_eq!(chat(&a, &key, "s", None).await.status(), 200);
    a.stop().await;
    b.stop().await;
}

/// A client that waits for each answer before it sends the next call holds
/// at most one place, so concurrency 1 never refuses it, whichever replica
/// it reaches. Replica `b` talks to Redis through a link that holds what it
/// sends for 20 ms: a place given back by a task that runs after the answer
/// (as it was) is still taken when the next call reaches `a`.
#[tokio::test]
async fn sequential_calls_at_concurrency_1_are_never_refused() {
    let Some(redis) = redis_url() else { return };
    let DelayedPair {
        a, b, key, slow, ..
    } = concurrency_1_with_a_delayed_replica(&redis, None).await;
    slow.delay_requests(Duration::from_millis(20));
    for i in 0..16 {
        let app = if i % 2 == 0 { &b } else { &a };
        assert_answered(app, &key, &format!("call {i}")).await;
    }
    a.stop().await;
    b.stop().await;
}

/// Redis runs an admission but answers it after the replica's deadline:
/// the replica counts the call alone, and the place Redis gave it must not
/// stay taken for the lease (10 minutes) once the call has ended.
#[tokio::test]
async fn an_admission_redis_answered_too_late_does_not_keep_its_place() {
    let Some(redis) = redis_url() else { return };
    let DelayedPair {
        a, b, key, slow, ..
    } = concurrency_1_with_a_delayed_replica(&redis, Some(250)).await;
    // b's connection is made and its scripts loaded while Redis is quick
    assert_eq!(chat(&b, &key, "s", None).await.status(), 200);
    slow.delay_answers(Duration::from_millis(600));
    assert_eq!(chat(&b, &key, "s", None).await.status(), 200);
    slow.delay_answers(Duration::ZERO);
    // past the second b's link sits out after a failed command
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for (i, app) in [&b, &a, &b].into_iter().enumerate() {
        assert_answered(app, &key, &format!("call {i} after Redis is quick again")).await;
    }
    a.stop().await;
    b.stop().await;
}

/// Two replicas under one concurrency-1 rule for team "t" and its key.
struct DelayedPair {
    /// On Redis directly.
    a: TestApp,
    /// On Redis through `slow`.
    b: TestApp,
    key: String,
    slow: DelayedRedis,
    _db: TestDb,
}

/// A [`DelayedPair`] to an upstream that answers at once; `b` gets its own
/// Redis deadline, if given.
async fn concurrency_1_with_a_delayed_replica(
    redis: &str,
    b_redis_timeout_ms: Option<u64>,
) -> DelayedPair {
    let db = TestDb::sqlite();
    let (key, _) = key_in(&db).await;
    let (upstream, _) = slow_upstream(Duration::ZERO, (5, 5)).await;
    let mut limit = rule(Some("t"), None);
    limit.concurrency = Some(1);
    let rules = [limit];
    let prefix = prefix();
    let slow = DelayedRedis::start(redis).await;
    let a = spawn_app(config(&db, Some(redis), &prefix, Some(upstream), &rules)).await;
    let mut late = config(&db, Some(&slow.url), &prefix, Some(upstream), &rules);
    if let Some(ms) = b_redis_timeout_ms {
        late.cache.redis_timeout_ms = ms;
    }
    let b = spawn_app(late).await;
    DelayedPair {
        a,
        b,
        key,
        slow,
        _db: db,
    }
}

async fn assert_answered(app: &TestApp, key: &str, what: &str) {
    let resp = chat(app, key, "s", None).await;
    let status = resp.status();
    let body = resp.text().await.unwrap();
    assert_eq!(status, 200, "{what}: {body}");
}

/// A TCP relay to Redis that can hold each chunk, in order, on its way to
/// Redis or back.
struct DelayedRedis {
    url: String,
    requests_ms: Arc<std::sync::atomic::AtomicU64>,
    answers_ms: Arc<std::sync::atomic::AtomicU64>,
}

impl DelayedRedis {
    async fn start(redis_url: &str) -> DelayedRedis {
        let rest = redis_url.trim_start_matches("redis://");
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let target: std::net::SocketAddr =
            host.parse().expect("PROMPTGATE_TEST_REDIS_URL host:port");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (requests_ms, answers_ms) = (Arc::default(), Arc::default());
        let (up_ms, down_ms) = (Arc::clone(&requests_ms), Arc::clone(&answers_ms));
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let Ok(outbound) = tokio::net::TcpStream::connect(target).await else {
                    continue;
                };
                let (from_client, to_client) = inbound.into_split();
                let (from_redis, to_redis) = outbound.into_split();
                tokio::spawn(relay(from_client, to_redis, Arc::clone(&up_ms)));
                tokio::spawn(relay(from_redis, to_client, Arc::clone(&down_ms)));
            }
        });
        let url = if path.is_empty() {
            format!("redis://{addr}")
        } else {
            format!("redis://{addr}/{path}")
        };
        DelayedRedis {
            url,
            requests_ms,
            answers_ms,
        }
    }

    fn delay_requests(&self, d: Duration) {
        self.requests_ms
            .store(d.as_millis() as u64, Ordering::SeqCst);
    }

    fn delay_answers(&self, d: Duration) {
        self.answers_ms
            .store(d.as_millis() as u64, Ordering::SeqCst);
    }
}

async fn relay(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay_ms: Arc<std::sync::atomic::AtomicU64>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    while let Ok(n @ 1..) = from.read(&mut buf).await {
        let ms = delay_ms.load(Ordering::SeqCst);
        if ms > 0 {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
}

/// The documented TPM bound: a call holds its prompt (estimated) and its
/// `max_tokens`; what it uses beyond that is counted when it ends. So the
/// tokens counted in a window exceed the limit by at most what the calls
/// admitted while it was not yet full used beyond their hold — here at most
/// one call per client in flight, two clients, each call using 100 tokens
/// beyond its hold of a few.
#[tokio::test]
async fn tpm_holds_across_two_replicas_within_the_documented_bound() {
    let Some(redis) = redis_url() else { return };
    let db = TestDb::sqlite();
    let (key, _) = key_in(&db).await;
    let (upstream, _) = slow_upstream(Duration::from_millis(20), (10, 90)).await;
    let mut limit = rule(Some("t"), None);
    limit.tpm = Some(2_000);
    let (a, b) = two_replicas(&db, &redis, Some(upstream), limit).await;
    let (statuses, refused) = burst(&[&a, &b], &key, "s", 40, 1).await;
    let accepted = statuses.iter().filter(|s| **s == 200).count() as u64;
    let counted = accepted * 100;
    let clients = 2;
    eprintln!("TPM 2000: {accepted} calls of 100 tokens accepted ({counted} tokens)");
    assert!(
        counted <= 2_000 + clients * 100,
        "{counted} tokens accepted"
    );
    assert!(
        counted >= 2_000 - 100,
        "{counted} tokens accepted: the limit was not used up"
    );
    let (headers, body) = refused.expect("a 429");
    assert_eq!(error_of(&body).0, "tokens");
    assert_eq!(headers["x-ratelimit-limit-tokens"], "2000");
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn without_redis_each_process_counts_and_answers_carry_the_headers() {
    let db = TestDb::sqlite();
    let (key, _) = key_in(&db).await;
    let mut limit = rule(Some("*"), None);
    limit.rpm = Some(3);
    limit.tpm = Some(1_000_000);
    let app = spawn_app(config(&db, None, &prefix(), None, &[limit])).await;
    let first = chat(&app, &key, "mock-1", Some(10)).await;
    assert_eq!(first.status(), 200);
    assert_eq!(header(&first, "x-ratelimit-limit-requests"), Some("3"));
    assert_eq!(header(&first, "x-ratelimit-remaining-requests"), Some("2"));
    assert_eq!(header(&first, "x-ratelimit-limit-tokens"), Some("1000000"));
    let remaining: u64 = header(&first, "x-ratelimit-remaining-tokens")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        remaining < 1_000_000 - 10,
        "{remaining}: the prompt and max_tokens are held"
    );
    for _ in 0..2 {
        assert_eq!(chat(&app, &key, "mock-1", None).await.status(), 200);
    }
    let refused = chat(&app, &key, "mock-1", None).await;
    assert_eq!(refused.status(), 429);
    assert!(header(&refused, "retry-after").is_some());
    let id = header(&refused, "x-request-id").unwrap().to_owned();
    let body: Value = refused.json().await.unwrap();
    assert_eq!(error_of(&body).2, Some("rate_limit_exceeded"));
    let rec = app.record(&key, &id).await;
    assert_eq!(
        (rec["status"].as_i64(), rec["outcome"].as_str()),
        (Some(429), Some("rejected"))
    );
    let metrics = app
        .get(crate::helpers::ADMIN_KEY, "/metrics")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"promptgate_rate_limited_total{scope="team",limit="rpm"}"#),
        "{metrics}"
    );
    // the admin key is never limited
    let admin = chat(&app, crate::helpers::ADMIN_KEY, "mock-1", None).await;
    assert_eq!(admin.status(), 200);
    app.stop().await;
}

#[test]
fn bad_rules_are_refused_at_start_with_the_key_named() {
    let mut config = base_config("sqlite://x.db");
    config.rate_limits = vec![rule(Some("a"), Some("k"))];
    let err = config.validate().unwrap_err().to_string();
    assert!(err.contains("rate_limits[0].key"), "{err}");
}
