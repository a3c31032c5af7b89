//! The response cache over real sockets: opt-in policy, team scope, stream
//! replay in both directions, failures not stored, stampede coalescing, the
//! Redis shared tier and a Redis that dies mid-test.
//!
//! Every test routes `mock-*` to its own `mock_upstream()` on a real port, so
//! `GET /v1/stats` on that upstream counts the calls that reached it: a hit is
//! proven by the counter not moving, not by timing.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{
    base_config, counter, error_of, http_upstream, mock_upstream, spawn_app, TestApp, TestDb,
};

/// A bound on how long one step may take so that a hang fails the test
/// instead of stalling the suite; not a performance assertion.
const HANG_GUARD: Duration = Duration::from_secs(30);

/// The Redis server for tests, from `PROMPTGATE_TEST_REDIS_URL`.
/// Under CI its absence is a failure; elsewhere the test is skipped with a notice.
pub fn redis_url() -> Option<String> {
    match std::env::var("PROMPTGATE_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("PROMPTGATE_TEST_REDIS_URL must be set in CI");
            }
            eprintln!("notice: PROMPTGATE_TEST_REDIS_URL is not set; skipping this Redis test");
            None
        }
    }
}

/// A key prefix of its own for one test.
fn test_prefix() -> String {
    format!("pgtest-{}", uuid::Uuid::new_v4().simple())
}

// --- one app, one upstream ------------------------------------------------------

struct Setup {
    _db: TestDb,
    app: TestApp,
    key: String,
    upstream: SocketAddr,
}

/// An app whose `mock-*` models go to a fresh HTTP mock upstream; `tweak`
/// adjusts the config (cache rules, Redis, …) before the app starts.
async fn setup_with(upstream: SocketAddr, tweak: impl FnOnce(&mut promptgate::Config)) -> Setup {
    let db = TestDb::sqlite();
    let Replica { app, key } = replica(&db, upstream, tweak).await;
    Setup {
        _db: db,
        app,
        key,
        upstream,
    }
}

/// An app on `db` (which the caller owns, and may share between replicas)
/// whose `mock-*` models go to `upstream`, with a key of team `t`.
async fn replica(
    db: &TestDb,
    upstream: SocketAddr,
    tweak: impl FnOnce(&mut promptgate::Config),
) -> Replica {
    let mut config = base_config(db.url());
    config.upstreams = vec![http_upstream("up", upstream, &["mock-*"], 30)];
    // No key revocations here, so no periodic key refresh: a refresh that read
    // the store just before a key was created overwrites the in-memory key map
    // without it (see auth.rs `KeyCache::refresh`), and the new key gets 401
    // until the next refresh.
    config.keys.refresh_ms = 3_600_000;
    tweak(&mut config);
    let app = spawn_app(config).await;
    let key = app.team_key("t").await;
    Replica { app, key }
}

/// An app and its team key.
struct Replica {
    app: TestApp,
    key: String,
}

async fn setup() -> Setup {
    setup_with(mock_upstream().await, |_| {}).await
}

/// Requests the mock upstream has served so far.
async fn served(upstream: SocketAddr) -> u64 {
    let v: Value = reqwest::get(format!("http://{upstream}/v1/stats"))
        .await
        .expect("stats")
        .json()
        .await
        .expect("stats json");
    v["served"].as_u64().expect("served")
}

/// One complete answer, read to its end.
#[derive(Debug)]
struct Got {
    status: u16,
    cache: Option<String>,
    id: String,
    content_type: String,
    text: String,
}

impl Got {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    fn cache(&self) -> &str {
        self.cache
            .as_deref()
            .unwrap_or("<no x-promptgate-cache header>")
    }

    fn content(&self) -> String {
        self.json()["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or_else(|| panic!("no message content: {}", self.text))
            .to_owned()
    }
}

async fn read(resp: reqwest::Response) -> Got {
    let status = resp.status().as_u16();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let cache = header("x-promptgate-cache");
    let id = header("x-request-id").unwrap_or_default();
    let content_type = header("content-type").unwrap_or_default();
    let text = tokio::time::timeout(HANG_GUARD, resp.text())
        .await
        .expect("body within the hang guard")
        .expect("body");
    Got {
        status,
        cache,
        id,
        content_type,
        text,
    }
}

async fn send_with(
    app: &TestApp,
    key: &str,
    path: &str,
    body: &Value,
    headers: &[(&str, &str)],
) -> Got {
    let mut req = app.http.post(app.url(path)).bearer_auth(key).json(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    read(
        tokio::time::timeout(HANG_GUARD, req.send())
            .await
            .expect("answer within the hang guard")
            .expect("request"),
    )
    .await
}

async fn send(app: &TestApp, key: &str, path: &str, body: &Value) -> Got {
    send_with(app, key, path, body, &[]).await
}

/// A body sent byte for byte as written (key order, spacing, number spelling).
async fn send_raw(app: &TestApp, key: &str, path: &str, raw: &str) -> Got {
    let req = app
        .http
        .post(app.url(path))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(raw.to_owned());
    read(req.send().await.expect("request")).await
}

async fn chat(app: &TestApp, key: &str, body: &Value) -> Got {
    send(app, key, "/v1/chat/completions", body).await
}

/// A chat request asking for the cache (`ttl` 60 s).
fn cached(content: &str) -> Value {
    json!({
        "model": "mock-1",
        "messages": [{"role": "user", "content": content}],
        "cache": {"ttl": 60}
    })
}

fn uncached(content: &str) -> Value {
    json!({"model": "mock-1", "messages": [{"role": "user", "content": content}]})
}

fn with(mut body: Value, field: &str, value: Value) -> Value {
    body[field] = value;
    body
}

// --- SSE ----------------------------------------------------------------------------

/// The `data:` payloads of an event stream, in order (comments skipped).
fn sse_data(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for event in text.split("\n\n") {
        let lines: Vec<&str> = event
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(|l| l.strip_prefix(' ').unwrap_or(l))
            .collect();
        if !lines.is_empty() {
            out.push(lines.join("\n"));
        }
    }
    out
}

/// Checks that `got` is a well-formed chat stream ending with `[DONE]`;
/// returns its JSON chunks.
fn chat_stream(got: &Got) -> Vec<Value> {
    assert_eq!(got.status, 200, "{}", got.text);
    assert!(
        got.content_type.starts_with("text/event-stream"),
        "content-type {}",
        got.content_type
    );
    let data = sse_data(&got.text);
    assert_eq!(
        data.last().map(String::as_str),
        Some("[DONE]"),
        "stream must end with data: [DONE]: {}",
        got.text
    );
    assert_eq!(
        data.iter().filter(|d| *d == "[DONE]").count(),
        1,
        "{}",
        got.text
    );
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap_or_else(|e| panic!("chunk {d}: {e}")))
        .collect();
    for c in &chunks {
        assert!(c.get("error").is_none(), "error event in stream: {c}");
        assert_eq!(c["object"], "chat.completion.chunk", "{c}");
    }
    chunks
}

fn stream_content(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"].as_array())
        .flatten()
        .filter_map(|ch| ch["delta"]["content"].as_str())
        .collect()
}

fn usage_chunks(chunks: &[Value]) -> Vec<&Value> {
    chunks
        .iter()
        .filter(|c| c.get("usage").is_some_and(|u| !u.is_null()))
        .collect()
}

fn finish_reason(chunks: &[Value]) -> Option<String> {
    chunks
        .iter()
        .filter_map(|c| c["choices"].as_array())
        .flatten()
        .filter_map(|ch| ch["finish_reason"].as_str())
        .next_back()
        .map(str::to_owned)
}

// --- Redis --------------------------------------------------------------------------

/// Deletes a test's Redis keys when dropped (also when the test panics).
pub struct RedisKeys {
    url: String,
    prefix: String,
}

impl RedisKeys {
    pub fn new(url: &str, prefix: &str) -> RedisKeys {
        RedisKeys {
            url: url.to_owned(),
            prefix: prefix.to_owned(),
        }
    }

    fn conn(&self) -> redis::RedisResult<redis::Connection> {
        redis::Client::open(self.url.as_str())?.get_connection_with_timeout(Duration::from_secs(5))
    }

    /// The keys under this test's prefix.
    fn keys(&self) -> Vec<String> {
        let mut conn = self.conn().expect("connect to the test Redis");
        scan(&mut conn, &self.prefix).expect("SCAN")
    }
}

fn scan(conn: &mut redis::Connection, prefix: &str) -> redis::RedisResult<Vec<String>> {
    let pattern = format!("{prefix}:*");
    let mut keys = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query(conn)?;
        keys.extend(batch);
        if next == 0 {
            return Ok(keys);
        }
        cursor = next;
    }
}

impl Drop for RedisKeys {
    fn drop(&mut self) {
        let Ok(mut conn) = self.conn() else { return };
        if let Ok(keys) = scan(&mut conn, &self.prefix) {
            if !keys.is_empty() {
                let _: redis::RedisResult<()> = redis::cmd("DEL").arg(&keys).query(&mut conn);
            }
        }
    }
}

/// Points the cache's Redis tier at `url`, under `prefix`.
fn redis_tier(url: &str, prefix: &str) -> impl Fn(&mut promptgate::Config) {
    let (url, prefix) = (url.to_owned(), prefix.to_owned());
    move |c| {
        c.cache.redis_url = Some(url.clone());
        c.cache.prefix = prefix.clone();
    }
}

/// Two replicas (separate databases, separate upstreams) sharing one Redis
/// under a fresh prefix, whose keys are deleted when the guard is dropped.
async fn replicas_sharing_redis(url: &str) -> (RedisKeys, Setup, Setup) {
    let prefix = test_prefix();
    let a = setup_with(mock_upstream().await, redis_tier(url, &prefix)).await;
    let b = setup_with(mock_upstream().await, redis_tier(url, &prefix)).await;
    (RedisKeys::new(url, &prefix), a, b)
}

/// A private, throw-away redis-server on a free port of 127.0.0.1, killed by
/// PID when dropped. The shared test Redis is never touched.
struct PrivateRedis {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl PrivateRedis {
    /// `None` (skipped) when redis-server is not installed outside CI.
    async fn start() -> Option<PrivateRedis> {
        for _attempt in 0..3 {
            let port = {
                let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
                l.local_addr().expect("addr").port()
            };
            let dir = tempfile::tempdir().expect("tempdir");
            let spawned = std::process::Command::new("redis-server")
                .args(["--port", &port.to_string()])
                .args(["--bind", "127.0.0.1"])
                .args(["--save", ""])
                .args(["--appendonly", "no"])
                .arg("--dir")
                .arg(dir.path())
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn();
            let child = match spawned {
                Ok(c) => c,
                Err(e) => {
                    if std::env::var("CI").is_ok_and(|v| v == "true") {
                        panic!("redis-server must be installed in CI: {e}");
                    }
                    eprintln!("notice: cannot start redis-server ({e}); skipping this test");
                    return None;
                }
            };
            let mut server = PrivateRedis {
                child,
                port,
                _dir: dir,
            };
            if server.wait_ready().await {
                return Some(server);
            }
            // Lost the port between picking and binding it: try another.
            server.kill();
        }
        panic!("could not start a private redis-server in 3 attempts");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn wait_ready(&mut self) -> bool {
        let client = redis::Client::open(self.url()).expect("redis url");
        for _ in 0..200 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return false;
            }
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await {
                let pong: redis::RedisResult<String> =
                    redis::cmd("PING").query_async(&mut conn).await;
                if pong.is_ok() {
                    return true;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

// --- 1. off by default -------------------------------------------------------------

#[tokio::test]
async fn uncached_by_default() {
    let s = setup().await;
    let body = uncached("not cached unless asked");
    let before = served(s.upstream).await;
    let a = chat(&s.app, &s.key, &body).await;
    let b = chat(&s.app, &s.key, &body).await;
    for got in [&a, &b] {
        assert_eq!(got.status, 200, "{}", got.text);
        assert_eq!(got.cache(), "bypass");
    }
    assert_eq!(a.content(), b.content(), "the mock is deterministic");
    assert_eq!(
        served(s.upstream).await - before,
        2,
        "both reached the upstream"
    );
    let rec = s.app.record(&s.key, &a.id).await;
    assert_eq!(rec["cache"], "bypass");
    assert_eq!(rec["upstream"], "up");

    // A stream without a cache field is a bypass too.
    let st = chat(&s.app, &s.key, &with(body.clone(), "stream", json!(true))).await;
    assert_eq!(st.cache(), "bypass");
    chat_stream(&st);
    assert_eq!(served(s.upstream).await - before, 3);
    s.app.stop().await;
}

// --- 2. miss, then hit -------------------------------------------------------------

#[tokio::test]
async fn miss_then_hit_with_identical_content() {
    let s = setup().await;
    let body = cached("cache me");
    let before = served(s.upstream).await;
    let first = chat(&s.app, &s.key, &body).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.cache(), "miss");
    let second = chat(&s.app, &s.key, &body).await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(second.cache(), "hit");
    assert_eq!(
        second.json(),
        first.json(),
        "a hit returns the stored answer"
    );
    assert!(second.content_type.starts_with("application/json"));
    assert_eq!(served(s.upstream).await - before, 1, "one upstream call");

    assert_eq!(s.app.record(&s.key, &first.id).await["cache"], "miss");
    let rec = s.app.record(&s.key, &second.id).await;
    assert_eq!(rec["cache"], "hit");
    assert_eq!(rec["status"], 200);
    assert_eq!(rec["outcome"], "ok");

    // Same request written differently: key order, spacing, number spelling,
    // plus fields that do not change the answer (metadata, user, stream_options
    // without stream) — all hit the same entry.
    let raw = r#"{ "cache" : {"ttl":60},
        "metadata": {"user": "u-42", "tags": ["other"]},
        "temperature": 1.0,
        "user": "someone-else",
        "messages": [ { "content": "cache me", "role": "user" } ],
        "model": "mock-1" }"#;
    let base = with(body.clone(), "temperature", json!(1));
    let t1 = chat(&s.app, &s.key, &base).await;
    assert_eq!(t1.cache(), "miss", "temperature is part of the key");
    let reordered = send_raw(&s.app, &s.key, "/v1/chat/completions", raw).await;
    assert_eq!(reordered.status, 200, "{}", reordered.text);
    assert_eq!(
        reordered.cache(),
        "hit",
        "reordered keys, 1 vs 1.0, metadata, user"
    );
    assert_eq!(reordered.json(), t1.json());

    // A different ttl (or none of the cache options) is not part of the key.
    let other_ttl = chat(
        &s.app,
        &s.key,
        &with(body.clone(), "cache", json!({"ttl": 5})),
    )
    .await;
    assert_eq!(other_ttl.cache(), "hit");
    let metadata = chat(
        &s.app,
        &s.key,
        &with(body.clone(), "metadata", json!({"user": "u-1"})),
    )
    .await;
    assert_eq!(metadata.cache(), "hit");
    assert_eq!(metadata.json(), first.json());

    // The stream flag is not part of the key: the stored answer is replayed.
    let streamed = chat(&s.app, &s.key, &with(body.clone(), "stream", json!(true))).await;
    assert_eq!(streamed.cache(), "hit");
    assert_eq!(stream_content(&chat_stream(&streamed)), first.content());
    assert_eq!(
        served(s.upstream).await - before,
        2,
        "only the temperature=1 miss added a call"
    );

    // Different content, model or parameters are different entries.
    let other = chat(&s.app, &s.key, &cached("cache me too")).await;
    assert_eq!(other.cache(), "miss");
    let other_model = chat(
        &s.app,
        &s.key,
        &with(body.clone(), "model", json!("mock-2")),
    )
    .await;
    assert_eq!(other_model.cache(), "miss");
    let other_param = chat(&s.app, &s.key, &with(body.clone(), "max_tokens", json!(3))).await;
    assert_eq!(other_param.cache(), "miss");
    assert_eq!(served(s.upstream).await - before, 5);
    s.app.stop().await;
}

#[tokio::test]
async fn bad_cache_field_is_a_400_naming_it() {
    let s = setup().await;
    let before = served(s.upstream).await;
    let got = chat(
        &s.app,
        &s.key,
        &with(uncached("x"), "cache", json!({"ttl": "soon"})),
    )
    .await;
    assert_eq!(got.status, 400, "{}", got.text);
    let body = got.json();
    let (kind, param, _) = error_of(&body);
    assert_eq!(kind, "invalid_request_error");
    assert_eq!(param, Some("cache.ttl"));
    assert_eq!(
        served(s.upstream).await,
        before,
        "rejected before the upstream"
    );
    s.app.stop().await;
}

// --- 3. team scope -------------------------------------------------------------------

#[tokio::test]
async fn one_team_never_receives_another_teams_entry() {
    let s = setup().await;
    let key_b = s.app.team_key("team-b").await;
    let body = cached("a question both teams ask");
    let before = served(s.upstream).await;

    assert_eq!(chat(&s.app, &s.key, &body).await.cache(), "miss");
    assert_eq!(chat(&s.app, &s.key, &body).await.cache(), "hit");
    assert_eq!(served(s.upstream).await - before, 1);

    let b = chat(&s.app, &key_b, &body).await;
    assert_eq!(b.status, 200, "{}", b.text);
    assert_eq!(b.cache(), "miss", "team B must not see team A's entry");
    assert_eq!(
        served(s.upstream).await - before,
        2,
        "B's request reached the upstream"
    );
    assert_eq!(s.app.record(&key_b, &b.id).await["cache"], "miss");
    // B now has its own entry.
    assert_eq!(chat(&s.app, &key_b, &body).await.cache(), "hit");
    assert_eq!(served(s.upstream).await - before, 2);

    // A second key of team A shares team A's entries (the scope is the team).
    let key_a2 = s.app.team_key("t").await;
    assert_eq!(chat(&s.app, &key_a2, &body).await.cache(), "hit");
    s.app.stop().await;
}

#[tokio::test]
async fn shared_namespace_shares_entries_across_teams() {
    let s = setup_with(mock_upstream().await, |c| c.cache.shared_namespace = true).await;
    let key_b = s.app.team_key("team-b").await;
    let body = cached("shared on purpose");
    let before = served(s.upstream).await;
    assert_eq!(chat(&s.app, &s.key, &body).await.cache(), "miss");
    assert_eq!(chat(&s.app, &key_b, &body).await.cache(), "hit");
    assert_eq!(served(s.upstream).await - before, 1);
    s.app.stop().await;
}

// --- 4. no_store, no_cache, Cache-Control, rules -------------------------------------

#[tokio::test]
async fn no_store_stores_nothing() {
    let s = setup().await;
    let before = served(s.upstream).await;
    let body = cached("do not keep this");
    let no_store = with(body.clone(), "cache", json!({"ttl": 60, "no_store": true}));
    let a = chat(&s.app, &s.key, &no_store).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.cache(), "miss");
    let b = chat(&s.app, &s.key, &body).await;
    assert_eq!(
        b.cache(),
        "miss",
        "nothing was stored by the no_store request"
    );
    assert_eq!(served(s.upstream).await - before, 2);
    // no_store still looks up: the entry stored by `b` is served.
    let c = chat(&s.app, &s.key, &no_store).await;
    assert_eq!(c.cache(), "hit");
    assert_eq!(served(s.upstream).await - before, 2);

    // Streams honour no_store too.
    let sbody = with(cached("do not keep this stream"), "stream", json!(true));
    let sns = with(sbody.clone(), "cache", json!({"ttl": 60, "no_store": true}));
    let d = chat(&s.app, &s.key, &sns).await;
    assert_eq!(d.cache(), "miss");
    chat_stream(&d);
    let e = chat(&s.app, &s.key, &sbody).await;
    assert_eq!(e.cache(), "miss", "the no_store stream was not stored");
    chat_stream(&e);
    assert_eq!(served(s.upstream).await - before, 4);
    s.app.stop().await;
}

#[tokio::test]
async fn no_cache_skips_lookup_but_stores() {
    let s = setup().await;
    let before = served(s.upstream).await;
    let body = cached("refresh me");
    let no_cache = with(body.clone(), "cache", json!({"ttl": 60, "no_cache": true}));
    assert_eq!(chat(&s.app, &s.key, &body).await.cache(), "miss");
    assert_eq!(chat(&s.app, &s.key, &body).await.cache(), "hit");
    assert_eq!(served(s.upstream).await - before, 1);
    let forced = chat(&s.app, &s.key, &no_cache).await;
    assert_eq!(forced.status, 200, "{}", forced.text);
    assert_eq!(forced.cache(), "miss", "no_cache skips the stored entry");
    assert_eq!(served(s.upstream).await - before, 2, "and goes upstream");

    // A no_cache request on a cold key stores its answer for the next one.
    let cold = cached("refresh me, cold");
    let cold_nc = with(cold.clone(), "cache", json!({"ttl": 60, "no_cache": true}));
    assert_eq!(chat(&s.app, &s.key, &cold_nc).await.cache(), "miss");
    assert_eq!(
        chat(&s.app, &s.key, &cold).await.cache(),
        "hit",
        "no_cache still stores"
    );
    assert_eq!(served(s.upstream).await - before, 3);

    // Both set: nothing to do for the cache.
    let both = with(
        cached("neither"),
        "cache",
        json!({"ttl": 60, "no_cache": true, "no_store": true}),
    );
    assert_eq!(chat(&s.app, &s.key, &both).await.cache(), "bypass");
    assert_eq!(
        chat(&s.app, &s.key, &cached("neither")).await.cache(),
        "miss"
    );
    s.app.stop().await;
}

#[tokio::test]
async fn cache_control_header_drives_the_cache() {
    let s = setup().await;
    let path = "/v1/chat/completions";
    let before = served(s.upstream).await;

    // max-age alone asks for caching.
    let body = uncached("cache-control max-age");
    let a = send_with(
        &s.app,
        &s.key,
        path,
        &body,
        &[("cache-control", "max-age=60")],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.cache(), "miss");
    let b = send_with(
        &s.app,
        &s.key,
        path,
        &body,
        &[("cache-control", "max-age=60")],
    )
    .await;
    assert_eq!(b.cache(), "hit");
    assert_eq!(b.json(), a.json());
    assert_eq!(served(s.upstream).await - before, 1);
    // Without the header the same request is a bypass.
    assert_eq!(send(&s.app, &s.key, path, &body).await.cache(), "bypass");
    assert_eq!(served(s.upstream).await - before, 2);

    // no-cache: skips the entry, goes upstream.
    let c = send_with(
        &s.app,
        &s.key,
        path,
        &body,
        &[("cache-control", "max-age=60, no-cache")],
    )
    .await;
    assert_eq!(c.cache(), "miss");
    assert_eq!(served(s.upstream).await - before, 3);

    // no-store: nothing stored.
    let body = uncached("cache-control no-store");
    let d = send_with(
        &s.app,
        &s.key,
        path,
        &body,
        &[("cache-control", "max-age=60, no-store")],
    )
    .await;
    assert_eq!(d.cache(), "miss");
    let e = send_with(
        &s.app,
        &s.key,
        path,
        &body,
        &[("cache-control", "max-age=60")],
    )
    .await;
    assert_eq!(e.cache(), "miss", "the no-store request stored nothing");
    assert_eq!(served(s.upstream).await - before, 5);

    // The header's no-cache also applies to a request whose body asks for the cache.
    let body = cached("cache-control with a body field");
    assert_eq!(send(&s.app, &s.key, path, &body).await.cache(), "miss");
    let f = send_with(
        &s.app,
        &s.key,
        path,
        &body,
        &[("cache-control", "no-cache")],
    )
    .await;
    assert_eq!(f.cache(), "miss");
    assert_eq!(served(s.upstream).await - before, 7);
    s.app.stop().await;
}

#[tokio::test]
async fn config_rules_cache_a_model_without_request_fields() {
    let s = setup_with(mock_upstream().await, |c| {
        c.cache.rules = vec![promptgate::config::CacheRule {
            models: vec!["mock-ruled*".into()],
            ttl_s: 60,
        }];
    })
    .await;
    let before = served(s.upstream).await;
    let ruled = json!({"model": "mock-ruled", "messages": [{"role": "user", "content": "r"}]});
    let a = chat(&s.app, &s.key, &ruled).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.cache(), "miss");
    let b = chat(&s.app, &s.key, &ruled).await;
    assert_eq!(b.cache(), "hit");
    assert_eq!(b.json(), a.json());
    assert_eq!(served(s.upstream).await - before, 1);

    // Other models stay uncached.
    let other = uncached("r");
    assert_eq!(chat(&s.app, &s.key, &other).await.cache(), "bypass");
    assert_eq!(chat(&s.app, &s.key, &other).await.cache(), "bypass");
    assert_eq!(served(s.upstream).await - before, 3);

    // Per-request opt-outs still apply to a ruled model.
    let ruled2 = json!({"model": "mock-ruled-2", "messages": [{"role": "user", "content": "r"}],
        "cache": {"no_store": true}});
    assert_eq!(chat(&s.app, &s.key, &ruled2).await.cache(), "miss");
    let ruled2_plain = with(ruled2.clone(), "cache", Value::Null);
    assert_eq!(
        chat(&s.app, &s.key, &ruled2_plain).await.cache(),
        "miss",
        "no_store on a ruled model stored nothing"
    );
    assert_eq!(chat(&s.app, &s.key, &ruled2_plain).await.cache(), "hit");
    s.app.stop().await;
}

// --- 5. stream replay ------------------------------------------------------------------

#[tokio::test]
async fn stored_answer_is_replayed_as_a_stream() {
    let s = setup().await;
    let before = served(s.upstream).await;
    let body = cached("replay me as a stream");
    let stored = chat(&s.app, &s.key, &body).await;
    assert_eq!(stored.cache(), "miss");
    let content = stored.content();
    let stored_json = stored.json();

    // Without usage.
    let got = chat(&s.app, &s.key, &with(body.clone(), "stream", json!(true))).await;
    assert_eq!(got.cache(), "hit");
    let chunks = chat_stream(&got);
    assert_eq!(stream_content(&chunks), content);
    assert_eq!(
        finish_reason(&chunks).as_deref(),
        stored_json["choices"][0]["finish_reason"].as_str()
    );
    assert!(
        usage_chunks(&chunks).is_empty(),
        "no usage chunk when not asked: {}",
        got.text
    );
    assert!(chunks.iter().all(|c| c["id"] == stored_json["id"]));
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let rec = s.app.record(&s.key, &got.id).await;
    assert_eq!(rec["cache"], "hit");
    assert_eq!(rec["stream"], true);

    // With usage: exactly one usage chunk, equal to the stored usage, and it
    // is the last chunk before [DONE] with `choices: []`.
    let with_usage = with(
        with(body.clone(), "stream", json!(true)),
        "stream_options",
        json!({"include_usage": true}),
    );
    let got = chat(&s.app, &s.key, &with_usage).await;
    assert_eq!(got.cache(), "hit");
    let chunks = chat_stream(&got);
    assert_eq!(stream_content(&chunks), content);
    let usage = usage_chunks(&chunks);
    assert_eq!(usage.len(), 1, "{}", got.text);
    assert_eq!(usage[0]["usage"], stored_json["usage"]);
    assert_eq!(usage[0]["choices"], json!([]));
    assert!(std::ptr::eq(usage[0], chunks.last().unwrap()));

    assert_eq!(
        served(s.upstream).await - before,
        1,
        "both streams were replays"
    );
    s.app.stop().await;
}

#[tokio::test]
async fn completed_stream_is_stored_and_serves_json() {
    let s = setup().await;
    let before = served(s.upstream).await;
    let body = with(cached("store me from a stream"), "stream", json!(true));
    let live = chat(&s.app, &s.key, &body).await;
    assert_eq!(live.cache(), "miss");
    let live_chunks = chat_stream(&live);
    let text = stream_content(&live_chunks);
    assert!(!text.is_empty());
    assert!(
        usage_chunks(&live_chunks).is_empty(),
        "the usage the proxy asked for is removed again: {}",
        live.text
    );

    // The non-stream form of the same request is served from the stored stream.
    let plain = with(body.clone(), "stream", json!(false));
    let hit = chat(&s.app, &s.key, &plain).await;
    assert_eq!(hit.status, 200, "{}", hit.text);
    assert_eq!(hit.cache(), "hit");
    let answer = hit.json();
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(answer["choices"][0]["message"]["role"], "assistant");
    assert_eq!(hit.content(), text);
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    assert!(
        answer["usage"]["completion_tokens"].as_i64().unwrap_or(0) > 0,
        "the stored answer carries the usage the proxy asked for: {answer}"
    );
    assert_eq!(served(s.upstream).await - before, 1);

    // It also matches what the upstream answers to the non-stream request.
    let fresh = chat(
        &s.app,
        &s.key,
        &with(plain.clone(), "cache", json!({"ttl": 60, "no_cache": true})),
    )
    .await;
    assert_eq!(fresh.cache(), "miss");
    assert_eq!(fresh.content(), text);

    // And a stream of it again replays (with usage when asked).
    let again = chat(
        &s.app,
        &s.key,
        &with(
            body.clone(),
            "stream_options",
            json!({"include_usage": true}),
        ),
    )
    .await;
    assert_eq!(again.cache(), "hit");
    let chunks = chat_stream(&again);
    assert_eq!(stream_content(&chunks), text);
    assert_eq!(usage_chunks(&chunks).len(), 1);
    assert_eq!(served(s.upstream).await - before, 2);
    s.app.stop().await;
}

#[tokio::test]
async fn legacy_completions_stream_replay() {
    let s = setup().await;
    let before = served(s.upstream).await;
    let body = json!({"model": "mock-1", "prompt": "complete me", "cache": {"ttl": 60}});
    let stored = send(&s.app, &s.key, "/v1/completions", &body).await;
    assert_eq!(stored.status, 200, "{}", stored.text);
    assert_eq!(stored.cache(), "miss");
    let text = stored.json()["choices"][0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    let got = send(
        &s.app,
        &s.key,
        "/v1/completions",
        &with(body, "stream", json!(true)),
    )
    .await;
    assert_eq!(got.cache(), "hit");
    let data = sse_data(&got.text);
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let replayed: String = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .filter_map(|c| c["choices"][0]["text"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(replayed, text);
    assert_eq!(served(s.upstream).await - before, 1);
    s.app.stop().await;
}

// --- 6. failures are not stored -----------------------------------------------------

#[tokio::test]
async fn upstream_error_is_not_cached() {
    let s = setup().await;
    let before = served(s.upstream).await;
    let body = with(cached("fail"), "model", json!("mock-error-500"));
    let a = chat(&s.app, &s.key, &body).await;
    assert_eq!(a.status, 502, "{}", a.text);
    let b = chat(&s.app, &s.key, &body).await;
    assert_eq!(b.status, 502, "{}", b.text);
    assert_ne!(b.cache.as_deref(), Some("hit"));
    assert_eq!(
        served(s.upstream).await - before,
        2,
        "the error was not stored"
    );
    let rec = s.app.record(&s.key, &b.id).await;
    assert_ne!(rec["cache"], "hit");
    assert_eq!(rec["outcome"], "upstream_error");

    // A passed-through 4xx is not stored either.
    let body = with(cached("fail 4xx"), "model", json!("mock-error-429"));
    assert_eq!(chat(&s.app, &s.key, &body).await.status, 429);
    assert_eq!(chat(&s.app, &s.key, &body).await.status, 429);
    assert_eq!(served(s.upstream).await - before, 4);
    s.app.stop().await;
}

#[tokio::test]
async fn cut_stream_is_not_cached() {
    let s = setup().await;
    let before = served(s.upstream).await;
    let body = with(
        with(cached("cut me"), "model", json!("mock-stream-cut")),
        "stream",
        json!(true),
    );
    let a = chat(&s.app, &s.key, &body).await;
    assert_eq!(a.status, 200, "a stream's status is sent before it is cut");
    assert_eq!(a.cache(), "miss");
    assert!(
        !a.text.contains("data: [DONE]"),
        "a cut stream must not look complete: {}",
        a.text
    );
    assert!(a.text.contains("upstream_unavailable"), "{}", a.text);
    let rec = s.app.record(&s.key, &a.id).await;
    assert_eq!(rec["outcome"], "upstream_error");

    let b = chat(&s.app, &s.key, &body).await;
    assert_eq!(b.cache(), "miss", "the cut stream was not stored");
    assert_eq!(
        served(s.upstream).await - before,
        2,
        "the retry reached the upstream"
    );
    // Nor is a half answer served to the non-stream form.
    let c = chat(&s.app, &s.key, &with(body.clone(), "stream", json!(false))).await;
    assert_eq!(c.cache(), "miss");
    assert_eq!(served(s.upstream).await - before, 3);
    s.app.stop().await;
}

// --- 7. stampede ----------------------------------------------------------------------

#[tokio::test]
async fn stampede_of_identical_cold_requests_makes_one_upstream_call() {
    let s = setup().await;
    let before = served(s.upstream).await;
    let body = with(cached("stampede"), "model", json!("mock-slow"));
    let calls = (0..16).map(|_| chat(&s.app, &s.key, &body));
    let answers = futures_util::future::join_all(calls).await;
    assert_eq!(
        served(s.upstream).await - before,
        1,
        "16 concurrent identical requests must make exactly one upstream call"
    );
    let first = answers[0].json();
    for got in &answers {
        assert_eq!(got.status, 200, "{}", got.text);
        assert_eq!(got.json(), first, "all 16 get the same answer");
    }
    let misses = answers.iter().filter(|g| g.cache() == "miss").count();
    let hits = answers.iter().filter(|g| g.cache() == "hit").count();
    assert_eq!(
        (misses, hits),
        (1, 15),
        "one leader, fifteen served from its answer"
    );

    // Same for streams: the followers get a replay of the leader's stream.
    let before = served(s.upstream).await;
    let body = with(
        with(cached("stampede stream"), "model", json!("mock-slow")),
        "stream",
        json!(true),
    );
    let calls = (0..16).map(|_| chat(&s.app, &s.key, &body));
    let answers = futures_util::future::join_all(calls).await;
    assert_eq!(served(s.upstream).await - before, 1);
    let texts: Vec<String> = answers
        .iter()
        .map(|g| stream_content(&chat_stream(g)))
        .collect();
    assert!(texts.iter().all(|t| t == &texts[0] && !t.is_empty()));
    s.app.stop().await;
}

#[tokio::test]
async fn followers_of_a_failed_leader_go_upstream_themselves() {
    let s = setup().await;
    let before = served(s.upstream).await;
    let body = with(cached("nothing to share"), "model", json!("mock-error-503"));
    let calls = (0..4).map(|_| chat(&s.app, &s.key, &body));
    let answers = futures_util::future::join_all(calls).await;
    for got in &answers {
        assert_eq!(got.status, 502, "{}", got.text);
    }
    // Each request fails on its own; none is handed a cached error.
    assert_eq!(served(s.upstream).await - before, 4);
    s.app.stop().await;
}

// --- 8. embeddings ------------------------------------------------------------------

#[tokio::test]
async fn embeddings_are_cached() {
    let s = setup().await;
    let before = served(s.upstream).await;
    let body = json!({"model": "mock-embedding", "input": ["alpha", "beta"], "cache": {"ttl": 60}});
    let a = send(&s.app, &s.key, "/v1/embeddings", &body).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.cache(), "miss");
    let b = send(&s.app, &s.key, "/v1/embeddings", &body).await;
    assert_eq!(b.status, 200, "{}", b.text);
    assert_eq!(b.cache(), "hit");
    assert_eq!(b.json(), a.json());
    assert_eq!(b.json()["data"].as_array().unwrap().len(), 2);
    assert_eq!(served(s.upstream).await - before, 1);
    assert_eq!(s.app.record(&s.key, &b.id).await["cache"], "hit");

    // The encoding format changes the answer, so it is another entry.
    let b64 = with(body.clone(), "encoding_format", json!("base64"));
    assert_eq!(
        send(&s.app, &s.key, "/v1/embeddings", &b64).await.cache(),
        "miss"
    );
    assert_eq!(served(s.upstream).await - before, 2);
    s.app.stop().await;
}

// --- 9. Redis shared tier --------------------------------------------------------------

#[tokio::test]
async fn redis_tier_shares_entries_between_instances() {
    let Some(url) = redis_url() else { return };
    let (keys, a, b) = replicas_sharing_redis(&url).await;
    let prefix = keys.prefix.clone();
    let body = cached("shared between replicas");

    let a_before = served(a.upstream).await;
    let on_a = chat(&a.app, &a.key, &body).await;
    assert_eq!(on_a.status, 200, "{}", on_a.text);
    assert_eq!(on_a.cache(), "miss");
    assert_eq!(served(a.upstream).await - a_before, 1);
    let stored = keys.keys();
    assert_eq!(stored.len(), 1, "one entry under the prefix: {stored:?}");
    assert!(stored[0].starts_with(&format!("{prefix}:")));

    let b_before = served(b.upstream).await;
    let on_b = chat(&b.app, &b.key, &body).await;
    assert_eq!(on_b.status, 200, "{}", on_b.text);
    assert_eq!(on_b.cache(), "hit", "A's entry reaches B through Redis");
    assert_eq!(on_b.json(), on_a.json());
    assert_eq!(
        served(b.upstream).await,
        b_before,
        "B's upstream was not called"
    );
    assert_eq!(b.app.record(&b.key, &on_b.id).await["cache"], "hit");

    // A stream on B replays the shared entry too.
    let st = chat(&b.app, &b.key, &with(body.clone(), "stream", json!(true))).await;
    assert_eq!(st.cache(), "hit");
    assert_eq!(stream_content(&chat_stream(&st)), on_a.content());
    assert_eq!(served(b.upstream).await, b_before);

    // Team scope holds across the shared tier.
    let other_team = b.app.team_key("team-b").await;
    assert_eq!(chat(&b.app, &other_team, &body).await.cache(), "miss");
    assert_eq!(served(b.upstream).await - b_before, 1);

    a.app.stop().await;
    b.app.stop().await;
    drop(keys);
    assert!(
        RedisKeys::new(&url, &prefix).keys().is_empty(),
        "the test's keys were deleted"
    );
}

// --- 9b. DELETE /v1/cache ------------------------------------------------------------

/// A registry prompt with no variables, so cached requests can carry its name.
async fn create_faq_prompt(app: &TestApp) {
    let created = app
        .post(
            crate::helpers::ADMIN_KEY,
            "/v1/prompts/faq/versions",
            json!({
                "type": "chat",
                "messages": [{"role": "system", "content": "Answer in one line."}],
                "config": {"model": "mock-1"},
                "labels": ["production"]
            }),
        )
        .await;
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
}

/// A cached chat request built on the `faq` prompt.
fn cached_with_prompt(content: &str) -> Value {
    json!({
        "prompt": {"id": "faq"},
        "messages": [{"role": "user", "content": content}],
        "cache": {"ttl": 60}
    })
}

async fn clear_cache(app: &TestApp, key: &str, query: &str) -> (u16, Value) {
    let resp = app
        .http
        .delete(app.url(&format!("/v1/cache{query}")))
        .bearer_auth(key)
        .send()
        .await
        .expect("DELETE /v1/cache");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Sends `body` until it is answered with `cache: want` (at most `within`).
async fn until_cache(app: &TestApp, key: &str, body: &Value, want: &str, within: Duration) -> bool {
    until_answer(app, key, body, within, |a| a.cache() == want).await
}

/// Sends `body` until it is answered with HTTP `want` (at most `within`).
async fn until_status(app: &TestApp, key: &str, body: &Value, want: u16, within: Duration) -> bool {
    until_answer(app, key, body, within, |a| a.status == want).await
}

/// Sends `body` every 100 ms until an answer passes `done` (at most `within`).
async fn until_answer(
    app: &TestApp,
    key: &str,
    body: &Value,
    within: Duration,
    done: impl Fn(&Got) -> bool,
) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if done(&chat(app, key, body).await) {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn clearing_drops_every_entry_or_one_prompts_entries() {
    let s = setup_with(mock_upstream().await, |_| {}).await;
    create_faq_prompt(&s.app).await;
    let plain = cached("not from a prompt");
    let faq = cached_with_prompt("how do I reset my password?");
    for body in [&plain, &faq] {
        assert_eq!(chat(&s.app, &s.key, body).await.cache(), "miss");
        assert_eq!(chat(&s.app, &s.key, body).await.cache(), "hit");
    }

    // Only the admin may clear.
    let (status, _) = clear_cache(&s.app, &s.key, "").await;
    assert_eq!(status, 403);
    assert_eq!(chat(&s.app, &s.key, &plain).await.cache(), "hit");

    let (status, answer) = clear_cache(&s.app, crate::helpers::ADMIN_KEY, "?prompt=faq").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["prompt"], "faq");
    assert_eq!(
        chat(&s.app, &s.key, &faq).await.cache(),
        "miss",
        "the prompt's entry is gone"
    );
    assert_eq!(
        chat(&s.app, &s.key, &plain).await.cache(),
        "hit",
        "other entries stay"
    );

    let (status, _) = clear_cache(&s.app, crate::helpers::ADMIN_KEY, "").await;
    assert_eq!(status, 200);
    assert_eq!(chat(&s.app, &s.key, &plain).await.cache(), "miss");
    assert_eq!(chat(&s.app, &s.key, &faq).await.cache(), "miss");
    s.app.stop().await;
}

#[tokio::test]
async fn a_clear_on_one_replica_reaches_the_others_in_process_copies() {
    let Some(url) = redis_url() else { return };
    let (keys, a, b) = replicas_sharing_redis(&url).await;
    create_faq_prompt(&a.app).await;
    create_faq_prompt(&b.app).await;
    let plain = cached("cleared everywhere");
    let faq = cached_with_prompt("cleared by prompt everywhere");
    for body in [&plain, &faq] {
        assert_eq!(chat(&a.app, &a.key, body).await.cache(), "miss");
        // B pulls A's entry from Redis and keeps a copy in its own process.
        assert_eq!(chat(&b.app, &b.key, body).await.cache(), "hit");
    }

    let (status, _) = clear_cache(&a.app, crate::helpers::ADMIN_KEY, "?prompt=faq").await;
    assert_eq!(status, 200);
    assert!(
        until_cache(&b.app, &b.key, &faq, "miss", Duration::from_secs(5)).await,
        "B still serves the prompt's cleared entry"
    );
    assert_eq!(
        chat(&b.app, &b.key, &plain).await.cache(),
        "hit",
        "other entries stay"
    );

    let (status, _) = clear_cache(&a.app, crate::helpers::ADMIN_KEY, "").await;
    assert_eq!(status, 200);
    assert!(
        until_cache(&b.app, &b.key, &plain, "miss", Duration::from_secs(5)).await,
        "B still serves a cleared entry"
    );

    a.app.stop().await;
    b.app.stop().await;
    drop(keys);
}

/// Two replicas on one store (no Redis), each with its own upstream and key.
async fn replicas_sharing_a_store(db: &TestDb) -> (Replica, Replica) {
    let a = replica(db, mock_upstream().await, |_| {}).await;
    let b = replica(db, mock_upstream().await, |_| {}).await;
    (a, b)
}

/// Without Redis the in-process tiers are separate; the clear still reaches
/// every replica, through the store they share.
async fn a_clear_reaches_replicas_sharing_the_store(db: TestDb) {
    let (a, b) = replicas_sharing_a_store(&db).await;
    create_faq_prompt(&a.app).await;
    let plain = cached("cleared through the store");
    let faq = cached_with_prompt("cleared by prompt through the store");
    // B learns the prompt through the registry's refresh (asked without
    // storing, so that nothing is cached yet).
    let probe = with(faq.clone(), "cache", json!({"no_store": true}));
    assert!(
        until_status(&b.app, &b.key, &probe, 200, Duration::from_secs(5)).await,
        "B never saw the prompt"
    );
    for body in [&plain, &faq] {
        for r in [&a, &b] {
            assert_eq!(chat(&r.app, &r.key, body).await.cache(), "miss");
            assert_eq!(chat(&r.app, &r.key, body).await.cache(), "hit");
        }
    }

    let (status, _) = clear_cache(&a.app, crate::helpers::ADMIN_KEY, "?prompt=faq").await;
    assert_eq!(status, 200);
    assert_eq!(
        chat(&a.app, &a.key, &faq).await.cache(),
        "miss",
        "A cleared itself"
    );
    assert!(
        until_cache(&b.app, &b.key, &faq, "miss", Duration::from_secs(5)).await,
        "B still serves the prompt's cleared entry"
    );
    for r in [&a, &b] {
        assert_eq!(
            chat(&r.app, &r.key, &plain).await.cache(),
            "hit",
            "other entries stay"
        );
    }
    // A's own clear, read back from the store, does not drop what A cached since.
    assert_eq!(chat(&a.app, &a.key, &faq).await.cache(), "hit");
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(chat(&a.app, &a.key, &faq).await.cache(), "hit");

    let (status, _) = clear_cache(&b.app, crate::helpers::ADMIN_KEY, "").await;
    assert_eq!(status, 200);
    assert!(
        until_cache(&a.app, &a.key, &plain, "miss", Duration::from_secs(5)).await,
        "A still serves an entry B cleared"
    );
    assert_eq!(chat(&b.app, &b.key, &plain).await.cache(), "miss");

    a.app.stop().await;
    b.app.stop().await;
}

#[tokio::test]
async fn a_clear_reaches_replicas_sharing_the_store_sqlite() {
    a_clear_reaches_replicas_sharing_the_store(TestDb::sqlite()).await;
}

#[tokio::test]
async fn a_clear_reaches_replicas_sharing_the_store_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    a_clear_reaches_replicas_sharing_the_store(db).await;
}

// --- 10. Redis down --------------------------------------------------------------------

#[tokio::test]
async fn redis_going_down_never_fails_a_request() {
    let Some(mut redis_server) = PrivateRedis::start().await else {
        return;
    };
    let url = redis_server.url();
    let prefix = test_prefix();
    let s = setup_with(mock_upstream().await, redis_tier(&url, &prefix)).await;
    let before = served(s.upstream).await;
    let body = cached("cached while redis is up");
    assert_eq!(chat(&s.app, &s.key, &body).await.cache(), "miss");
    assert_eq!(chat(&s.app, &s.key, &body).await.cache(), "hit");
    assert_eq!(served(s.upstream).await - before, 1);
    assert_eq!(
        RedisKeys::new(&url, &prefix).keys().len(),
        1,
        "stored in Redis"
    );

    let metrics_before = s.app.metrics().await;
    let errors_before = counter(&metrics_before, "promptgate_cache_redis_errors_total");

    redis_server.kill();

    // The local tier still answers the stored entry.
    let got = chat(&s.app, &s.key, &body).await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.cache(), "hit");
    // Cold cached requests miss (Redis errors are skipped), uncached ones bypass.
    for i in 0..3 {
        let cold = chat(
            &s.app,
            &s.key,
            &cached(&format!("cold while redis is down {i}")),
        )
        .await;
        assert_eq!(cold.status, 200, "{}", cold.text);
        assert_eq!(cold.cache(), "miss");
        let plain = chat(&s.app, &s.key, &uncached(&format!("uncached {i}"))).await;
        assert_eq!(plain.status, 200, "{}", plain.text);
        assert_eq!(plain.cache(), "bypass");
    }
    // Streams as well.
    let st = chat(
        &s.app,
        &s.key,
        &with(cached("stream while redis is down"), "stream", json!(true)),
    )
    .await;
    assert!(!stream_content(&chat_stream(&st)).is_empty());
    // An entry stored while Redis is down still serves from the local tier.
    let again = chat(&s.app, &s.key, &cached("cold while redis is down 0")).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.cache(), "hit");

    let metrics = s.app.metrics().await;
    assert!(
        metrics.contains("promptgate_cache_redis_errors_total"),
        "the Redis failures are counted"
    );
    let errors_after = counter(&metrics, "promptgate_cache_redis_errors_total");
    assert!(
        errors_after > errors_before,
        "redis errors {errors_before} → {errors_after}"
    );
    s.app.stop().await;
}

// --- probes of questionable behaviour (see the test names) ---------------------------

/// `Cache-Control: max-age=0` on a request means "nothing stored is fresh
/// enough" (RFC 9111 §5.2.1.1; browsers send it on reload). It must not turn
/// caching on with the default TTL and then answer from the cache.
#[tokio::test]
async fn cache_control_max_age_zero_is_never_a_hit() {
    let s = setup().await;
    let path = "/v1/chat/completions";
    let before = served(s.upstream).await;
    let body = uncached("max-age zero");
    let cc = [("cache-control", "max-age=0")];
    let a = send_with(&s.app, &s.key, path, &body, &cc).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let b = send_with(&s.app, &s.key, path, &body, &cc).await;
    assert_eq!(b.status, 200, "{}", b.text);
    assert_ne!(
        b.cache(),
        "hit",
        "max-age=0 was answered from the cache (first: {})",
        a.cache()
    );
    assert_eq!(served(s.upstream).await - before, 2);
    s.app.stop().await;
}

/// The same model name served by two different upstreams (`a/mock-1`,
/// `b/mock-1`) are two different models: one must not be answered with the
/// other's cached answer.
#[tokio::test]
async fn same_model_name_on_two_upstreams_does_not_share_entries() {
    let db = TestDb::sqlite();
    let (up_a, up_b) = (mock_upstream().await, mock_upstream().await);
    let mut config = base_config(db.url());
    config.upstreams = vec![
        http_upstream("a", up_a, &["a-*"], 30),
        http_upstream("b", up_b, &["b-*"], 30),
    ];
    config.keys.refresh_ms = 3_600_000;
    let app = spawn_app(config).await;
    let key = app.team_key("t").await;
    let (a0, b0) = (served(up_a).await, served(up_b).await);
    let on_a = chat(
        &app,
        &key,
        &with(cached("which upstream"), "model", json!("a/mock-1")),
    )
    .await;
    assert_eq!(on_a.status, 200, "{}", on_a.text);
    assert_eq!(on_a.cache(), "miss");
    let on_b = chat(
        &app,
        &key,
        &with(cached("which upstream"), "model", json!("b/mock-1")),
    )
    .await;
    assert_eq!(on_b.status, 200, "{}", on_b.text);
    let rec = app.record(&key, &on_b.id).await;
    assert_eq!(rec["upstream"], "b");
    assert_eq!(
        on_b.cache(),
        "miss",
        "b/mock-1 was answered with a/mock-1's cached answer"
    );
    assert_eq!(served(up_a).await - a0, 1);
    assert_eq!(served(up_b).await - b0, 1, "upstream b was never asked");
    app.stop().await;
}
