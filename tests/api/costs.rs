//! The cost ledger and budgets (API.md §6): exact per-record costs and report
//! totals, estimated usage, budget races on one and on two replicas, team
//! isolation, CSV, validation.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures_util::StreamExt;
use promptgate::costs::PriceOverride;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::helpers::{
    base_config, error_of, http_upstream, mock_upstream, puppet_upstream, serve, spawn_app,
    TestApp, TestDb, ADMIN_KEY,
};

/// Guards against a hang turning into a stuck test: a bound on how long a
/// wait may take, not a performance assertion.
const HANG_GUARD: Duration = Duration::from_secs(60);

// --- shared helpers ------------------------------------------------------------------

/// The Redis server for tests, from `PROMPTGATE_TEST_REDIS_URL`.
/// Under CI its absence is a failure; elsewhere the test is skipped with a notice.
fn redis_url() -> Option<String> {
    match std::env::var("PROMPTGATE_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("PROMPTGATE_TEST_REDIS_URL must be set in CI");
            }
            eprintln!("notice: PROMPTGATE_TEST_REDIS_URL is not set; skipping the Redis part of this test");
            None
        }
    }
}

/// Deletes a test's Redis keys when dropped (also when the test panics).
struct RedisKeys {
    url: String,
    prefix: String,
}

impl RedisKeys {
    fn conn(&self) -> redis::RedisResult<redis::Connection> {
        redis::Client::open(self.url.as_str())?.get_connection_with_timeout(Duration::from_secs(5))
    }

    fn keys(&self) -> Vec<String> {
        let mut conn = self.conn().expect("connect to the test Redis");
        let pattern = format!("{}:*", self.prefix);
        let mut keys = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query(&mut conn)
                .expect("SCAN");
            keys.extend(batch);
            if next == 0 {
                return keys;
            }
            cursor = next;
        }
    }
}

impl Drop for RedisKeys {
    fn drop(&mut self) {
        let keys = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.keys()))
            .unwrap_or_default();
        if keys.is_empty() {
            return;
        }
        if let Ok(mut conn) = self.conn() {
            let _: redis::RedisResult<()> = redis::cmd("DEL").arg(&keys).query(&mut conn);
        }
    }
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_else(|e| panic!("{s:?} is not a decimal: {e}"))
}

fn dec_of(v: &Value) -> Decimal {
    dec(v
        .as_str()
        .unwrap_or_else(|| panic!("expected a decimal string, got {v}")))
}

/// USD per 1M tokens.
#[derive(Clone, Copy, Debug)]
struct Price {
    input: Decimal,
    cached: Decimal,
    output: Decimal,
}

impl Price {
    fn new(input: &str, cached: &str, output: &str) -> Price {
        Price {
            input: dec(input),
            cached: dec(cached),
            output: dec(output),
        }
    }

    fn config(&self) -> PriceOverride {
        PriceOverride {
            input: Some(self.input.to_string()),
            cached_input: Some(self.cached.to_string()),
            output: Some(self.output.to_string()),
            reasoning: None,
            ..PriceOverride::default()
        }
    }

    /// (input − cached) × in + cached × cached_in + output × out, / 1e6.
    fn cost(&self, u: Usage) -> Decimal {
        (Decimal::from(u.prompt - u.cached) * self.input
            + Decimal::from(u.cached) * self.cached
            + Decimal::from(u.completion) * self.output)
            / Decimal::from(1_000_000)
    }
}

/// The built-in `mock-*` price (prices.toml).
fn mock_price() -> Price {
    Price::new("1", "0.10", "2")
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Usage {
    prompt: i64,
    completion: i64,
    cached: i64,
}

impl Usage {
    fn from_json(u: &Value) -> Usage {
        Usage {
            prompt: u["prompt_tokens"].as_i64().expect("prompt_tokens"),
            completion: u["completion_tokens"].as_i64().expect("completion_tokens"),
            cached: u
                .pointer("/prompt_tokens_details/cached_tokens")
                .and_then(Value::as_i64)
                .unwrap_or(0),
        }
    }

    fn from_record(r: &Value) -> Usage {
        Usage {
            prompt: r["prompt_tokens"].as_i64().expect("record prompt_tokens"),
            completion: r["completion_tokens"]
                .as_i64()
                .expect("record completion_tokens"),
            cached: r["cached_tokens"].as_i64().expect("record cached_tokens"),
        }
    }

    fn add(&mut self, o: Usage) {
        self.prompt += o.prompt;
        self.completion += o.completion;
        self.cached += o.cached;
    }
}

async fn get_json(app: &TestApp, key: &str, path: &str) -> (u16, Value) {
    let resp = app.get(key, path).await;
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

async fn put_json(app: &TestApp, key: &str, path: &str, body: Value) -> (u16, Value) {
    let resp = app.put(key, path, body).await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// The cost report as JSON, asserting 200.
async fn report(app: &TestApp, key: &str, query: &str) -> Value {
    let (status, body) = get_json(app, key, &format!("/v1/costs?{query}")).await;
    assert_eq!(status, 200, "GET /v1/costs?{query}: {body}");
    body
}

/// Requests recorded for `team` (all teams when `None`) in this app's store.
async fn recorded_requests(app: &TestApp, team: Option<&str>) -> i64 {
    let q = team.map(|t| format!("team={t}")).unwrap_or_default();
    let body = report(app, ADMIN_KEY, &q).await;
    body["rows"][0]["requests"].as_i64().expect("requests")
}

/// Waits until the batch writers have stored `n` records (over all `apps`' stores).
async fn wait_for_records(apps: &[&TestApp], team: Option<&str>, n: i64) {
    let start = Instant::now();
    loop {
        let mut total = 0;
        for app in apps {
            total += recorded_requests(app, team).await;
        }
        if total == n {
            return;
        }
        assert!(total < n, "more records than requests: {total} > {n}");
        assert!(
            start.elapsed() < HANG_GUARD,
            "only {total} of {n} records were ever written"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every record in the app's store (admin view), by id.
async fn records_by_id(app: &TestApp, query: &str) -> HashMap<String, Value> {
    let (status, body) = get_json(app, ADMIN_KEY, &format!("/v1/requests?limit=1000{query}")).await;
    assert_eq!(status, 200, "{body}");
    body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|r| (r["id"].as_str().expect("id").to_owned(), r.clone()))
        .collect()
}

/// An SSE body: the data payloads (without `[DONE]`) and the `: promptgate {…}` facts.
fn parse_sse(text: &str) -> (Vec<Value>, Option<Value>, bool) {
    let mut data = Vec::new();
    let mut facts = None;
    let mut done = false;
    for event in text.split("\n\n").filter(|e| !e.is_empty()) {
        if let Some(f) = event.strip_prefix(": promptgate ") {
            facts = Some(serde_json::from_str(f).expect("facts JSON"));
        } else if let Some(d) = event.strip_prefix("data: ") {
            if d == "[DONE]" {
                done = true;
            } else {
                data.push(serde_json::from_str(d).expect("chunk JSON"));
            }
        }
    }
    (data, facts, done)
}

/// Asserts OpenAI's error shape and returns `(type, param, code)`.
fn openai_error(body: &Value) -> (String, Option<String>, Option<String>) {
    let e = body["error"]
        .as_object()
        .unwrap_or_else(|| panic!("no error object: {body}"));
    assert!(
        e.get("message")
            .and_then(Value::as_str)
            .is_some_and(|m| !m.is_empty()),
        "error.message: {body}"
    );
    for field in ["type", "param", "code"] {
        assert!(e.contains_key(field), "error.{field} missing: {body}");
    }
    let (kind, param, code) = error_of(body);
    (
        kind.to_owned(),
        param.map(str::to_owned),
        code.map(str::to_owned),
    )
}

fn request_id(resp: &reqwest::Response) -> String {
    resp.headers()["x-request-id"]
        .to_str()
        .expect("request id")
        .to_owned()
}

// --- an upstream that reports cached prompt tokens -------------------------------------

/// A deterministic OpenAI-compatible chat upstream whose usage includes
/// `prompt_tokens_details.cached_tokens` (the mock always reports 0 cached).
async fn caching_upstream() -> std::net::SocketAddr {
    async fn chat(body: Bytes) -> Response {
        let req: Value = serde_json::from_slice(&body).expect("json body");
        let len: i64 = req["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| m["content"].as_str().map_or(0, |s| s.len() as i64))
            .sum();
        let prompt = 40 + len;
        let cached = prompt * 2 / 3;
        let completion = 3 + len % 11;
        let usage = json!({"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached},
            "completion_tokens_details": {"reasoning_tokens": 0}});
        let model = req["model"].clone();
        if !req["stream"].as_bool().unwrap_or(false) {
            return axum::Json(json!({"id": "c", "object": "chat.completion", "created": 1,
                "model": model, "choices": [{"index": 0, "finish_reason": "stop",
                "message": {"role": "assistant", "content": "cached answer"}}], "usage": usage}))
            .into_response();
        }
        let chunk = |choices: Value, usage: Option<&Value>| {
            let mut c = json!({"id": "c", "object": "chat.completion.chunk", "created": 1,
                "model": model, "choices": choices});
            if let Some(u) = usage {
                c["usage"] = u.clone();
            }
            format!("data: {c}\n\n")
        };
        let mut frames = vec![
            chunk(
                json!([{"index": 0, "delta": {"role": "assistant", "content": ""}}]),
                None,
            ),
            chunk(json!([{"index": 0, "delta": {"content": "cached"}}]), None),
            chunk(json!([{"index": 0, "delta": {"content": " answer"}}]), None),
            chunk(
                json!([{"index": 0, "delta": {}, "finish_reason": "stop"}]),
                None,
            ),
        ];
        if req
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            .unwrap_or(false)
        {
            frames.push(chunk(json!([]), Some(&usage)));
        }
        frames.push("data: [DONE]\n\n".into());
        Response::builder()
            .header("content-type", "text/event-stream")
            .body(Body::from(frames.concat()))
            .expect("response")
    }
    serve(axum::Router::new().route("/v1/chat/completions", post(chat))).await
}

// --- 1. exactness ----------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Plain,
    StreamWithUsage,
    StreamWithoutUsage,
}

struct Sent {
    id: String,
    team: usize,
    model: &'static str,
    mode: Mode,
    /// What the client saw (`None`: a stream without usage; read from the record).
    usage: Option<Usage>,
    /// `x-promptgate-cost-usd` (non-stream) or the stream trailer's `cost_usd`.
    cost_shown: Option<Decimal>,
}

#[tokio::test]
async fn report_totals_and_costs_are_exact_sqlite() {
    exactness(TestDb::sqlite()).await;
}

#[tokio::test]
async fn report_totals_and_costs_are_exact_postgres() {
    if let Some(db) = TestDb::postgres().await {
        exactness(db).await;
    }
}

async fn exactness(db: TestDb) {
    const TEAMS: [&str; 3] = ["alpha", "beta", "gamma"];
    const MODELS: [&str; 3] = ["mock-1", "priced-x", "cached-z"];
    const N: usize = 324;
    let prices: HashMap<&str, Price> = [
        ("mock-1", mock_price()),
        ("priced-x", Price::new("0.15", "0.075", "0.6")),
        ("cached-z", Price::new("2.5", "1.25", "10")),
    ]
    .into_iter()
    .collect();

    let mut config = base_config(db.url());
    config.upstreams = vec![
        http_upstream("priced", mock_upstream().await, &["priced-*"], 30),
        http_upstream("cacher", caching_upstream().await, &["cached-*"], 30),
    ];
    for m in ["priced-x", "cached-z"] {
        config.prices.insert(m.into(), prices[m].config());
    }
    let app = spawn_app(config).await;
    let mut keys = Vec::new();
    for t in TEAMS {
        keys.push(app.team_key(t).await);
    }

    let jobs = (0..N).map(|i| {
        let team = i % 3;
        let model = MODELS[(i / 3) % 3];
        let mode = [Mode::Plain, Mode::StreamWithUsage, Mode::StreamWithoutUsage][(i / 9) % 3];
        let content = format!("request {i}:{}", " lorem ipsum".repeat(i % 17));
        let mut body = json!({"model": model, "messages": [{"role": "user", "content": content}]});
        if i % 5 == 0 {
            body["max_tokens"] = json!(4);
        }
        match mode {
            Mode::Plain => {}
            Mode::StreamWithUsage => {
                body["stream"] = json!(true);
                body["stream_options"] = json!({"include_usage": true});
            }
            Mode::StreamWithoutUsage => body["stream"] = json!(true),
        }
        let (app, key) = (&app, keys[team].clone());
        async move {
            let resp = app.post(&key, "/v1/chat/completions", body).await;
            assert_eq!(resp.status(), 200, "request {i}");
            let id = request_id(&resp);
            if mode == Mode::Plain {
                let shown = resp
                    .headers()
                    .get("x-promptgate-cost-usd")
                    .map(|v| dec(v.to_str().expect("header")));
                let body: Value = resp.json().await.expect("json");
                return Sent {
                    id,
                    team,
                    model,
                    mode,
                    usage: Some(Usage::from_json(&body["usage"])),
                    cost_shown: shown,
                };
            }
            let text = resp.text().await.expect("stream");
            let (chunks, facts, done) = parse_sse(&text);
            assert!(done, "request {i}: stream without [DONE]: {text}");
            let usages: Vec<&Value> = chunks
                .iter()
                .map(|c| &c["usage"])
                .filter(|u| u.is_object())
                .collect();
            let usage = match mode {
                Mode::StreamWithUsage => {
                    assert_eq!(usages.len(), 1, "request {i}: one usage chunk: {text}");
                    Some(Usage::from_json(usages[0]))
                }
                _ => {
                    assert!(
                        usages.is_empty(),
                        "request {i}: usage not asked for: {text}"
                    );
                    None
                }
            };
            let facts = facts.unwrap_or_else(|| panic!("request {i}: no facts comment: {text}"));
            Sent {
                id,
                team,
                model,
                mode,
                usage,
                cost_shown: facts.get("cost_usd").map(dec_of),
            }
        }
    });
    let sent: Vec<Sent> = futures_util::stream::iter(jobs)
        .buffer_unordered(12)
        .collect()
        .await;
    assert_eq!(sent.len(), N);

    wait_for_records(&[&app], None, N as i64).await;
    let records = records_by_id(&app, "").await;
    assert_eq!(records.len(), N);

    // Per request: the record matches what the client saw and its cost is exact.
    let mut expected: BTreeMap<(&str, &str), (i64, Usage, Decimal)> = BTreeMap::new();
    for s in &sent {
        let rec = &records[&s.id];
        let what = format!("{} {:?} {}: {rec}", s.model, s.mode, s.id);
        assert_eq!(rec["team"], TEAMS[s.team], "{what}");
        assert_eq!(rec["model"], s.model, "{what}");
        assert_eq!(rec["outcome"], "ok", "{what}");
        assert_eq!(rec["usage_source"], "upstream", "{what}");
        let from_record = Usage::from_record(rec);
        if let Some(u) = s.usage {
            assert_eq!(from_record, u, "record tokens = response usage: {what}");
        }
        let usage = s.usage.unwrap_or(from_record);
        if s.model == "cached-z" {
            assert!(usage.cached > 0, "{what}");
        }
        let cost = prices[s.model].cost(usage);
        assert!(cost > Decimal::ZERO, "{what}");
        assert_eq!(dec_of(&rec["cost_usd"]), cost, "record cost: {what}");
        assert_eq!(s.cost_shown, Some(cost), "cost shown to the client: {what}");
        let e = expected.entry((TEAMS[s.team], s.model)).or_insert((
            0,
            Usage::default(),
            Decimal::ZERO,
        ));
        e.0 += 1;
        e.1.add(usage);
        e.2 += cost;
    }

    // The report, by team and model.
    let body = report(&app, ADMIN_KEY, "group_by=team,model").await;
    assert_eq!(body["group_by"], json!(["team", "model"]));
    let rows = body["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), expected.len(), "{body}");
    let mut grand = (0i64, Usage::default(), Decimal::ZERO);
    for row in rows {
        let key = (
            row["team"].as_str().expect("team"),
            row["model"].as_str().expect("model"),
        );
        let (n, u, cost) = expected
            .get(&key)
            .unwrap_or_else(|| panic!("unexpected row {row}"));
        let what = format!("{key:?}: {row}");
        assert_eq!(row["requests"], *n, "{what}");
        assert_eq!(row["input_tokens"], u.prompt, "{what}");
        assert_eq!(row["output_tokens"], u.completion, "{what}");
        assert_eq!(row["cached_tokens"], u.cached, "{what}");
        // Exact, which is stricter than "to the micro-dollar".
        assert_eq!(dec_of(&row["cost_usd"]), *cost, "{what}");
        assert_eq!(dec_of(&row["saved_usd"]), Decimal::ZERO, "{what}");
        assert_eq!(row["cache_hits"], 0, "{what}");
        assert_eq!(row["unpriced_requests"], 0, "{what}");
        grand.0 += n;
        grand.1.add(*u);
        grand.2 += cost;
    }

    // Ungrouped and by other dimensions, the totals are the same.
    for query in ["", "group_by=day", "group_by=key", "group_by=team"] {
        let body = report(&app, ADMIN_KEY, query).await;
        let rows = body["rows"].as_array().expect("rows");
        let mut sum = (0i64, Usage::default(), Decimal::ZERO);
        for row in rows {
            sum.0 += row["requests"].as_i64().expect("requests");
            sum.1.add(Usage {
                prompt: row["input_tokens"].as_i64().expect("input"),
                completion: row["output_tokens"].as_i64().expect("output"),
                cached: row["cached_tokens"].as_i64().expect("cached"),
            });
            sum.2 += dec_of(&row["cost_usd"]);
        }
        assert_eq!(sum, grand, "GET /v1/costs?{query}: {body}");
        match query {
            "group_by=key" | "group_by=team" => assert_eq!(rows.len(), 3, "{body}"),
            "group_by=day" => {
                for row in rows {
                    let day = row["day"].as_str().expect("day");
                    assert!(
                        chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").is_ok(),
                        "{row}"
                    );
                }
            }
            _ => {}
        }
    }

    // A team key's report holds its own team's totals.
    let own = report(&app, &keys[1], "group_by=model").await;
    let own_total: Decimal = own["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| dec_of(&r["cost_usd"]))
        .sum();
    let beta: Decimal = expected
        .iter()
        .filter(|((t, _), _)| *t == "beta")
        .map(|(_, (_, _, c))| *c)
        .sum();
    assert_eq!(own_total, beta);
    app.stop().await;
}

// --- 2. a client that leaves mid-stream ------------------------------------------------

fn content_chunk(text: &str) -> Bytes {
    let v = json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "puppet-1",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]});
    Bytes::from(format!("data: {v}\n\n"))
}

#[tokio::test]
async fn client_disconnect_mid_stream_is_estimated_and_charged() {
    let puppet = puppet_upstream().await;
    let db = TestDb::sqlite();
    let mut config = base_config(db.url());
    config.upstreams = vec![http_upstream("puppet", puppet.addr, &["puppet-1"], 30)];
    let price = Price::new("1", "0.1", "2");
    config.prices.insert("puppet-1".into(), price.config());
    let app = spawn_app(config).await;
    let key = app.team_key("leavers").await;

    let pieces = ["Once upon", " a time there", " was a gateway"];
    for p in pieces {
        puppet.frames.send(content_chunk(p)).unwrap();
    }
    let messages = json!([{"role": "user", "content": "Tell me a story about tokens"}]);
    let resp = app
        .post(
            &key,
            "/v1/chat/completions",
            json!({"model": "puppet-1", "stream": true, "messages": messages}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let id = request_id(&resp);
    let mut body = resp.bytes_stream();
    let mut got = String::new();
    while !got.contains("gateway") {
        let chunk = tokio::time::timeout(HANG_GUARD, body.next())
            .await
            .expect("chunks arrive")
            .expect("stream open")
            .expect("chunk");
        got.push_str(&String::from_utf8_lossy(&chunk));
    }
    // The client goes away; the upstream has sent no usage.
    drop(body);
    tokio::time::timeout(HANG_GUARD, puppet.dropped)
        .await
        .expect("upstream request cancelled")
        .unwrap();

    let rec = app.record(&key, &id).await;
    assert_eq!(rec["outcome"], "client_closed", "{rec}");
    assert_eq!(rec["usage_source"], "estimated", "{rec}");
    let usage = Usage::from_record(&rec);
    assert!(usage.completion > 0, "what was streamed is counted: {rec}");
    assert!(usage.prompt > 0, "{rec}");
    // tiktoken counts of exactly what was streamed and of the prompt.
    let streamed: String = pieces.concat();
    assert_eq!(
        usage.completion,
        promptgate::costs::count_text("puppet-1", &streamed),
        "{rec}"
    );
    assert_eq!(
        usage.prompt,
        promptgate::costs::count_chat_prompt("puppet-1", &messages),
        "{rec}"
    );
    assert_eq!(usage.cached, 0);
    assert_eq!(dec_of(&rec["cost_usd"]), price.cost(usage), "{rec}");
    assert!(dec_of(&rec["cost_usd"]) > Decimal::ZERO);

    // The report counts it too.
    wait_for_records(&[&app], Some("leavers"), 1).await;
    let body = report(&app, &key, "").await;
    assert_eq!(body["rows"][0]["output_tokens"], usage.completion, "{body}");
    assert_eq!(dec_of(&body["rows"][0]["cost_usd"]), price.cost(usage));
    drop(puppet.frames);
    app.stop().await;
}

// --- 3. an upstream without usage ------------------------------------------------------

#[tokio::test]
async fn upstream_without_usage_is_estimated_and_charged() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let key = app.team_key("estimators").await;
    let messages = json!([{"role": "user", "content": "how many tokens is this prompt?"}]);

    let resp = app
        .post(
            &key,
            "/v1/chat/completions",
            json!({"model": "mock-no-usage", "messages": messages}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let id = request_id(&resp);
    let header = resp
        .headers()
        .get("x-promptgate-cost-usd")
        .map(|v| dec(v.to_str().unwrap()));
    let answer: Value = resp.json().await.unwrap();
    assert!(
        answer.get("usage").is_none(),
        "the mock sends no usage: {answer}"
    );
    let text = answer["choices"][0]["message"]["content"]
        .as_str()
        .expect("content")
        .to_owned();

    let rec = app.record(&key, &id).await;
    assert_eq!(rec["usage_source"], "estimated", "{rec}");
    let usage = Usage::from_record(&rec);
    assert!(usage.prompt > 0 && usage.completion > 0, "{rec}");
    assert_eq!(
        usage.prompt,
        promptgate::costs::count_chat_prompt("mock-no-usage", &messages)
    );
    assert_eq!(
        usage.completion,
        promptgate::costs::count_text("mock-no-usage", &text)
    );
    let cost = dec_of(&rec["cost_usd"]);
    assert!(cost > Decimal::ZERO, "{rec}");
    assert_eq!(cost, mock_price().cost(usage), "{rec}");
    assert_eq!(
        header,
        Some(cost),
        "x-promptgate-cost-usd shows the estimate"
    );

    // The same answer streamed: same estimate.
    let resp = app
        .post(
            &key,
            "/v1/chat/completions",
            json!({"model": "mock-no-usage", "stream": true,
                   "stream_options": {"include_usage": true}, "messages": messages}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let sid = request_id(&resp);
    let (_, _, done) = parse_sse(&resp.text().await.unwrap());
    assert!(done);
    let srec = app.record(&key, &sid).await;
    assert_eq!(srec["outcome"], "ok", "{srec}");
    assert_eq!(srec["usage_source"], "estimated", "{srec}");
    assert_eq!(Usage::from_record(&srec), usage, "{srec}");
    assert_eq!(dec_of(&srec["cost_usd"]), cost);

    // An upstream that reports usage is marked so.
    let resp = app.chat(&key, "mock-1").await;
    let rec = app.record(&key, &request_id(&resp)).await;
    assert_eq!(rec["usage_source"], "upstream", "{rec}");
    app.stop().await;
}

// --- 4. budget races -------------------------------------------------------------------

const BUDGET_USD: &str = "0.01";
const RACERS: usize = 100;
const MAX_TOKENS: i64 = 1000;

/// An upstream that answers after 100 ms and bills exactly the gateway's worst
/// case: prompt tokens counted the way the gateway counts them, and
/// `max_tokens` completion tokens. With it, how many requests fit a budget
/// does not depend on timing at all.
async fn worst_case_upstream() -> std::net::SocketAddr {
    async fn chat(body: Bytes) -> Response {
        let req: Value = serde_json::from_slice(&body).expect("json body");
        let model = req["model"].as_str().unwrap_or_default().to_owned();
        let prompt = promptgate::costs::count_chat_prompt(&model, &req["messages"]);
        // Every choice may use all of `max_tokens` (OpenAI bills all choices).
        let n = req["n"].as_i64().unwrap_or(1);
        let completion = n * req["max_tokens"].as_i64().expect("max_tokens");
        tokio::time::sleep(Duration::from_millis(100)).await;
        axum::Json(
            json!({"id": "w", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "finish_reason": "length",
                "message": {"role": "assistant", "content": "every token allowed"}}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                "total_tokens": prompt + completion}}),
        )
        .into_response()
    }
    serve(axum::Router::new().route("/v1/chat/completions", post(chat))).await
}

async fn budget_config(db_url: &str) -> promptgate::Config {
    let mut config = base_config(db_url);
    config.upstreams = vec![http_upstream(
        "worst",
        worst_case_upstream().await,
        &["full-*"],
        30,
    )];
    // Same price as the mock.
    config.prices.insert("full-x".into(), mock_price().config());
    config
}

fn race_messages() -> Value {
    json!([{"role": "user", "content": "race"}])
}

/// The gateway's reservation for one racer, in USD (tiktoken-counted prompt + max_tokens).
fn worst_case(model: &str) -> Decimal {
    let prompt = promptgate::costs::count_chat_prompt(model, &race_messages());
    assert!((1..50).contains(&prompt), "{prompt}");
    mock_price().cost(Usage {
        prompt,
        completion: MAX_TOKENS,
        cached: 0,
    })
}

fn micro_ceil(usd: Decimal) -> Decimal {
    (usd * Decimal::from(1_000_000)).ceil() / Decimal::from(1_000_000)
}

/// One budget race: every replica's team key, a fresh team.
struct Racers<'a> {
    /// (replica, that replica's key for the team)
    replicas: Vec<(&'a TestApp, String)>,
    /// The replicas whose stores hold distinct records (one on a shared store).
    stores: Vec<&'a TestApp>,
}

/// Creates `team` with a budget on every store and waits until every replica
/// enforces it.
async fn racers<'a>(apps: &[&'a TestApp], shared_store: bool, team: &str) -> Racers<'a> {
    let stores: Vec<&TestApp> = if shared_store {
        vec![apps[0]]
    } else {
        apps.to_vec()
    };
    let mut store_keys = Vec::new();
    for app in &stores {
        let key = app.team_key(team).await;
        let (status, body) = put_json(
            app,
            ADMIN_KEY,
            &format!("/v1/teams/{team}/budget"),
            json!({"usd": BUDGET_USD, "period": "day"}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["usd"], BUDGET_USD, "{body}");
        store_keys.push(key);
    }
    let mut replicas = Vec::new();
    for (i, app) in apps.iter().enumerate() {
        let key = store_keys[if shared_store { 0 } else { i }].clone();
        // Another replica learns of keys and budgets by polling the store.
        let start = Instant::now();
        loop {
            let (status, body) = get_json(app, &key, &format!("/v1/teams/{team}/budget")).await;
            if status == 200 && body["usd"] == BUDGET_USD {
                assert_eq!(body["spent_usd"], "0", "{body}");
                break;
            }
            assert!(
                start.elapsed() < HANG_GUARD,
                "replica {i} never enforced the budget: {status} {body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        replicas.push((*app, key));
    }
    Racers { replicas, stores }
}

/// 100 concurrent requests spread over the replicas; checks the outcome.
async fn race(r: &Racers<'_>, team: &str, model: &str) {
    let budget = dec(BUDGET_USD);
    let worst = worst_case(model);
    let body = json!({"model": model, "max_tokens": MAX_TOKENS, "messages": race_messages()});
    let calls = (0..RACERS).map(|i| {
        let (app, key) = &r.replicas[i % r.replicas.len()];
        let body = body.clone();
        async move {
            let resp = app.post(key, "/v1/chat/completions", body).await;
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.expect("json"))
        }
    });
    let results = futures_util::future::join_all(calls).await;
    let mut ok = 0;
    let mut refused = 0;
    for (status, body) in &results {
        match status {
            200 => ok += 1,
            429 => {
                refused += 1;
                let (kind, param, code) = openai_error(body);
                assert_eq!(code.as_deref(), Some("budget_exceeded"), "{body}");
                assert_eq!(kind, "insufficient_quota", "{body}");
                assert_eq!(param, None, "{body}");
            }
            other => panic!("{model}: unexpected status {other}: {body}"),
        }
    }
    assert!(ok >= 1, "{model}: at least one request fits the budget");
    assert!(refused >= 1, "{model}: at least one request is refused");

    // The ledger: every call recorded, spend within budget + one worst case.
    wait_for_records(&r.stores, Some(team), RACERS as i64).await;
    let mut spend = Decimal::ZERO;
    let mut counted = Decimal::ZERO;
    let (mut rec_ok, mut rec_refused) = (0, 0);
    for app in &r.stores {
        let body = report(app, ADMIN_KEY, &format!("team={team}")).await;
        spend += dec_of(&body["rows"][0]["cost_usd"]);
        for rec in records_by_id(app, &format!("&team={team}")).await.values() {
            match (rec["outcome"].as_str(), rec["status"].as_i64()) {
                (Some("ok"), Some(200)) => {
                    rec_ok += 1;
                    counted += micro_ceil(dec_of(&rec["cost_usd"]));
                }
                (Some("rejected"), Some(429)) => {
                    rec_refused += 1;
                    assert!(rec["cost_usd"].is_null(), "{rec}");
                }
                _ => panic!("unexpected record {rec}"),
            }
        }
    }
    assert_eq!((rec_ok, rec_refused), (ok, refused), "{model}: records");
    assert!(
        spend <= budget + worst,
        "{model}: recorded spend {spend} > budget {budget} + worst case {worst} ({ok} ok, {refused} refused)"
    );
    if model.starts_with("full-") {
        // Each success costs exactly its reservation: the number that fit is exact.
        let fit = (budget / worst).floor();
        assert_eq!(
            Decimal::from(ok),
            fit,
            "{model}: exactly floor(budget / worst case) requests fit (worst case {worst})"
        );
        assert_eq!(spend, worst * fit, "{model}");
        assert!(spend <= budget, "{model}");
    }

    // The shared counter: nothing left reserved, spent = Σ costs (micro-USD,
    // rounded up), the same on every replica.
    for (i, (app, key)) in r.replicas.iter().enumerate() {
        let start = Instant::now();
        loop {
            let (status, body) = get_json(app, key, &format!("/v1/teams/{team}/budget")).await;
            assert_eq!(status, 200, "{body}");
            // Nothing reserved = every success has settled (settling moves a
            // reservation to spent in one atomic step).
            if body["reserved_usd"] == "0" {
                assert_eq!(
                    dec_of(&body["spent_usd"]),
                    counted,
                    "{model}: replica {i}'s counter = Σ recorded costs (micro-USD, rounded up): {body}"
                );
                assert_eq!(
                    dec_of(&body["remaining_usd"]),
                    (budget - counted).max(Decimal::ZERO),
                    "{body}"
                );
                break;
            }
            assert!(
                start.elapsed() < HANG_GUARD,
                "{model}: replica {i}'s reservations were never settled: {body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn budget_races(apps: &[&TestApp], shared_store: bool) {
    let slow = racers(apps, shared_store, "race-slow").await;
    race(&slow, "race-slow", "mock-slow").await;
    let full = racers(apps, shared_store, "race-full").await;
    race(&full, "race-full", "full-x").await;
}

#[tokio::test]
async fn budget_race_one_replica() {
    let db = TestDb::sqlite();
    let app = spawn_app(budget_config(db.url()).await).await;
    budget_races(&[&app], true).await;
    app.stop().await;
}

#[tokio::test]
async fn budget_race_two_replicas_on_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let a = spawn_app(budget_config(db.url()).await).await;
    let b = spawn_app(budget_config(db.url()).await).await;
    budget_races(&[&a, &b], true).await;
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn budget_race_two_replicas_on_sqlite_and_redis() {
    let Some(url) = redis_url() else { return };
    let prefix = format!("pgtest-costs-{}", uuid::Uuid::new_v4().simple());
    let redis_keys = RedisKeys {
        url: url.clone(),
        prefix: prefix.clone(),
    };
    let (db_a, db_b) = (TestDb::sqlite(), TestDb::sqlite());
    let mut apps = Vec::new();
    for db in [&db_a, &db_b] {
        let mut config = budget_config(db.url()).await;
        config.cache.redis_url = Some(url.clone());
        config.cache.prefix = prefix.clone();
        apps.push(spawn_app(config).await);
    }
    budget_races(&[&apps[0], &apps[1]], false).await;
    let keys = redis_keys.keys();
    for team in ["race-slow", "race-full"] {
        assert!(
            keys.iter()
                .any(|k| k.starts_with(&format!("{prefix}:budget:{team}:"))),
            "the counter lives in Redis: {keys:?}"
        );
    }
    for app in apps {
        app.stop().await;
    }
    drop(redis_keys);
    let left = RedisKeys {
        url: url.clone(),
        prefix: prefix.clone(),
    };
    assert!(left.keys().is_empty(), "the test's keys were deleted");
}

// --- 5. team isolation -----------------------------------------------------------------

#[tokio::test]
async fn teams_see_only_their_own_costs_and_records() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let key_a = app.team_key("a").await;
    let key_b = app.team_key("b").await;
    let id_a = request_id(&app.chat(&key_a, "mock-1").await);
    let id_b = request_id(&app.chat(&key_b, "mock-1").await);
    let _ = request_id(&app.chat(&key_b, "mock-1").await);
    wait_for_records(&[&app], None, 3).await;

    let teams_of = |body: &Value, field: &str| -> Vec<String> {
        let mut t: Vec<String> = body[field]
            .as_array()
            .expect("array")
            .iter()
            .map(|r| r["team"].as_str().expect("team").to_owned())
            .collect();
        t.sort();
        t.dedup();
        t
    };

    // Team a's key: team a only.
    let body = report(&app, &key_a, "group_by=team").await;
    assert_eq!(teams_of(&body, "rows"), ["a"], "{body}");
    assert_eq!(body["rows"][0]["requests"], 1, "{body}");
    let body = report(&app, &key_a, "group_by=model").await;
    assert_eq!(
        body["rows"][0]["requests"], 1,
        "ungrouped by team, still only a: {body}"
    );
    let (status, body) = get_json(&app, &key_a, "/v1/requests").await;
    assert_eq!(status, 200);
    assert_eq!(teams_of(&body, "data"), ["a"], "{body}");
    let (status, _) = get_json(&app, &key_a, &format!("/v1/requests/{id_a}")).await;
    assert_eq!(status, 200);
    let (status, body) = get_json(&app, &key_a, &format!("/v1/requests/{id_b}")).await;
    assert_eq!(status, 404, "another team's record: {body}");
    let report_a = report(&app, &key_a, "team=a&group_by=team").await;
    assert_eq!(teams_of(&report_a, "rows"), ["a"]);

    // Asking for team b with a's key: not found (existence is not revealed).
    for path in [
        "/v1/costs?team=b",
        "/v1/costs?team=b&group_by=team",
        "/v1/requests?team=b",
        "/v1/costs?team=nonexistent",
    ] {
        let (status, body) = get_json(&app, &key_a, path).await;
        assert_eq!(status, 404, "{path}: {body}");
        openai_error(&body);
    }

    // The admin sees both, and can narrow to one.
    let body = report(&app, ADMIN_KEY, "group_by=team").await;
    assert_eq!(teams_of(&body, "rows"), ["a", "b"], "{body}");
    let body = report(&app, ADMIN_KEY, "team=b&group_by=team").await;
    assert_eq!(teams_of(&body, "rows"), ["b"], "{body}");
    assert_eq!(body["rows"][0]["requests"], 2, "{body}");
    let (_, body) = get_json(&app, ADMIN_KEY, "/v1/requests").await;
    assert_eq!(teams_of(&body, "data"), ["a", "b"], "{body}");
    let (_, body) = get_json(&app, ADMIN_KEY, "/v1/requests?team=a").await;
    assert_eq!(teams_of(&body, "data"), ["a"], "{body}");
    let (status, _) = get_json(&app, ADMIN_KEY, &format!("/v1/requests/{id_b}")).await;
    assert_eq!(status, 200);
    app.stop().await;
}

// --- 6. CSV ----------------------------------------------------------------------------

#[tokio::test]
async fn csv_report_quotes_per_rfc_4180_sqlite() {
    csv_report(TestDb::sqlite()).await;
}

#[tokio::test]
async fn csv_report_quotes_per_rfc_4180_postgres() {
    if let Some(db) = TestDb::postgres().await {
        csv_report(db).await;
    }
}

async fn csv_report(db: TestDb) {
    let app = spawn_app(base_config(db.url())).await;
    let key = app.team_key("csv").await;
    let tricky = "a,\"b\"";
    let multiline = "line one\nline two";
    for tags in [
        json!([tricky, "plain"]),
        json!([tricky]),
        json!([multiline]),
    ] {
        let resp = app
            .post(
                &key,
                "/v1/chat/completions",
                json!({"model": "mock-1", "metadata": {"tags": tags},
                       "messages": [{"role": "user", "content": "tag me"}]}),
            )
            .await;
        assert_eq!(resp.status(), 200);
    }
    wait_for_records(&[&app], None, 3).await;

    let resp = app
        .get(&key, "/v1/costs?group_by=tag,model&format=csv")
        .await;
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/csv"), "{ct}");
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("\"a,\"\"b\"\"\""),
        "a field with a comma and quotes is quoted, quotes doubled: {text}"
    );

    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("header row")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        header,
        [
            "tag",
            "model",
            "requests",
            "input_tokens",
            "output_tokens",
            "cached_tokens",
            "cost_usd",
            "cache_hits",
            "saved_usd",
            "unpriced_requests"
        ]
    );
    let rows: Vec<HashMap<String, String>> = reader
        .records()
        .map(|r| {
            let r = r.expect("valid CSV record");
            header
                .iter()
                .cloned()
                .zip(r.iter().map(str::to_owned))
                .collect()
        })
        .collect();
    let by_tag: HashMap<&str, &HashMap<String, String>> =
        rows.iter().map(|r| (r["tag"].as_str(), r)).collect();
    assert_eq!(by_tag.len(), 3, "{text}");
    assert_eq!(
        by_tag[tricky]["requests"], "2",
        "the tag round-trips: {text}"
    );
    assert_eq!(by_tag["plain"]["requests"], "1");
    assert_eq!(by_tag[multiline]["requests"], "1", "{text}");
    assert_eq!(by_tag[tricky]["model"], "mock-1");

    // Same numbers as the JSON report.
    let json_report = report(&app, &key, "group_by=tag,model").await;
    for row in json_report["rows"].as_array().unwrap() {
        let csv_row = by_tag[row["tag"].as_str().expect("tag")];
        for m in [
            "requests",
            "input_tokens",
            "output_tokens",
            "cached_tokens",
            "cache_hits",
        ] {
            assert_eq!(csv_row[m], row[m].to_string(), "{m}");
        }
        assert_eq!(dec(&csv_row["cost_usd"]), dec_of(&row["cost_usd"]));
    }

    // A header row even when there is nothing to report.
    let resp = app
        .get(
            &key,
            "/v1/costs?group_by=team&format=csv&from=2000-01-01&to=2000-01-02",
        )
        .await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(reader.headers().unwrap().get(0), Some("team"));
    assert_eq!(reader.records().count(), 0, "{text}");
    app.stop().await;
}

// --- 7. validation ---------------------------------------------------------------------

#[tokio::test]
async fn report_and_budget_validation() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let key = app.team_key("valid").await;
    let other = app.team_key("other").await;

    for (query, param) in [
        ("group_by=bogus", Some("group_by")),
        ("group_by=team,bogus", Some("group_by")),
        ("from=yesterday", Some("from")),
        ("from=2025-13-01", Some("from")),
        ("to=soon", Some("to")),
        ("from=2025-02-01&to=2025-01-01", Some("from")),
        ("format=xml", Some("format")),
    ] {
        let (status, body) = get_json(&app, &key, &format!("/v1/costs?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        let (kind, p, _) = openai_error(&body);
        assert_eq!(kind, "invalid_request_error", "{query}: {body}");
        assert_eq!(p.as_deref(), param, "{query}: {body}");
    }
    let (status, body) = get_json(&app, &key, "/v1/costs?colour=blue").await;
    assert_eq!(status, 400, "unknown query parameter: {body}");
    // Valid forms are accepted.
    for query in [
        "from=2025-01-01&to=2100-01-01",
        "from=2025-01-01T00:00:00Z",
        "group_by=team,key,model,prompt,version,day,tag",
        "format=json",
    ] {
        report(&app, &key, query).await;
    }

    let path = "/v1/teams/valid/budget";
    for (body, param) in [
        (json!({"usd": "abc", "period": "day"}), "usd"),
        (json!({"usd": "-1", "period": "day"}), "usd"),
        (json!({"usd": "1e3", "period": "day"}), "usd"),
        (json!({"usd": true, "period": "day"}), "usd"),
        (json!({"usd": "5", "period": "week"}), "period"),
    ] {
        let (status, resp) = put_json(&app, ADMIN_KEY, path, body.clone()).await;
        assert_eq!(status, 400, "{body}: {resp}");
        let (kind, p, _) = openai_error(&resp);
        assert_eq!(kind, "invalid_request_error", "{resp}");
        assert_eq!(p.as_deref(), Some(param), "{body}: {resp}");
    }
    let (status, resp) = put_json(&app, ADMIN_KEY, path, json!({"usd": 5})).await;
    assert_eq!(status, 400, "period missing: {resp}");

    // Only the admin sets budgets.
    let (status, resp) = put_json(&app, &key, path, json!({"usd": "5", "period": "day"})).await;
    assert_eq!(status, 403, "{resp}");
    let (_, _, code) = openai_error(&resp);
    assert_eq!(code.as_deref(), Some("permission_denied"), "{resp}");
    let resp = app
        .http
        .delete(app.url(path))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);

    // No budget yet: usd null.
    let (status, resp) = get_json(&app, &key, path).await;
    assert_eq!(status, 200, "{resp}");
    assert_eq!(resp["usd"], Value::Null, "{resp}");

    // A JSON number keeps its decimal text exactly.
    let (status, resp) = put_json(
        &app,
        ADMIN_KEY,
        path,
        json!({"usd": 100.10, "period": "month"}),
    )
    .await;
    assert_eq!(status, 200, "{resp}");
    assert_eq!(resp["usd"], "100.1", "{resp}");
    assert_eq!(resp["period"], "month");

    let (status, resp) = get_json(&app, &key, path).await;
    assert_eq!(status, 200, "own team's budget: {resp}");
    assert_eq!(resp["usd"], "100.1", "{resp}");
    assert_eq!(resp["period"], "month");
    assert_eq!(resp["spent_usd"], "0", "{resp}");
    assert_eq!(resp["reserved_usd"], "0", "{resp}");
    assert_eq!(resp["remaining_usd"], "100.1", "{resp}");

    // Another team's budget is not visible; an unknown team is 404.
    let (status, _) = get_json(&app, &other, path).await;
    assert_eq!(status, 404);
    let (status, _) = put_json(
        &app,
        ADMIN_KEY,
        "/v1/teams/nobody/budget",
        json!({"usd": "1", "period": "day"}),
    )
    .await;
    assert_eq!(status, 404);

    // Delete: gone, and deleting again is 404.
    let resp = app
        .http
        .delete(app.url(path))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (_, resp) = get_json(&app, &key, path).await;
    assert_eq!(resp["usd"], Value::Null, "{resp}");
    let resp = app
        .http
        .delete(app.url(path))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);

    // A zero budget refuses every priced call.
    let (status, _) = put_json(&app, ADMIN_KEY, path, json!({"usd": "0", "period": "day"})).await;
    assert_eq!(status, 200);
    let resp = app.chat(&key, "mock-1").await;
    assert_eq!(resp.status(), 429);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        openai_error(&body).2.as_deref(),
        Some("budget_exceeded"),
        "{body}"
    );
    app.stop().await;
}

// --- 8. what a reservation must cover ----------------------------------------------------

/// Sets a budget for `team` on `app` (admin) and returns the team's key.
async fn team_with_budget(app: &TestApp, team: &str, usd: &str) -> String {
    let key = app.team_key(team).await;
    let (status, body) = put_json(
        app,
        ADMIN_KEY,
        &format!("/v1/teams/{team}/budget"),
        json!({"usd": usd, "period": "day"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    key
}

/// `n` choices may each use `max_tokens`: the worst case is n × max_tokens.
/// Here one call with n = 8 can cost 8 × $0.002 = $0.016, more than the whole
/// $0.01 budget, so it must be refused up front.
#[tokio::test]
async fn worst_case_counts_every_choice() {
    let db = TestDb::sqlite();
    let app = spawn_app(budget_config(db.url()).await).await;
    let key = team_with_budget(&app, "choosers", BUDGET_USD).await;
    let resp = app
        .post(
            &key,
            "/v1/chat/completions",
            json!({"model": "full-x", "n": 8, "max_tokens": MAX_TOKENS, "messages": race_messages()}),
        )
        .await;
    let status = resp.status().as_u16();
    let id = request_id(&resp);
    let body: Value = resp.json().await.unwrap();
    let rec = app.record(&key, &id).await;
    assert_eq!(
        status, 429,
        "worst case 8 x {MAX_TOKENS} output tokens > budget {BUDGET_USD}, yet the call ran \
         and cost {} (record {rec}, answer usage {})",
        rec["cost_usd"], body["usage"]
    );
    assert_eq!(openai_error(&body).2.as_deref(), Some("budget_exceeded"));
    app.stop().await;
}

/// An embedding produces no output tokens: its worst case is its input, so a
/// small budget (here $0.01, i.e. ~10,000 mock input tokens) admits it. With
/// no max_tokens it must not be charged the 16,384-output-token default.
#[tokio::test]
async fn embeddings_are_not_reserved_as_if_they_generated_text() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let key = team_with_budget(&app, "embedders", BUDGET_USD).await;
    let resp = app
        .post(
            &key,
            "/v1/embeddings",
            json!({"model": "mock-embedding", "input": "embed this short text"}),
        )
        .await;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        status, 200,
        "an embedding of a few tokens (cost ~ $0.00001) is refused under a $0.01 budget: {body}"
    );
    app.stop().await;
}

/// An upstream that holds a non-stream answer until released, and tells the
/// test when the request arrived and when the gateway gave up on it.
struct Held {
    addr: std::net::SocketAddr,
    arrived: mpsc::UnboundedReceiver<()>,
    dropped: mpsc::UnboundedReceiver<()>,
    release: Arc<tokio::sync::Notify>,
}

async fn held_upstream() -> Held {
    let (arrived_tx, arrived) = mpsc::unbounded_channel();
    let (dropped_tx, dropped) = mpsc::unbounded_channel::<()>();
    let release = Arc::new(tokio::sync::Notify::new());
    let gate = release.clone();
    let router = axum::Router::new().route(
        "/v1/chat/completions",
        post(move || {
            let (arrived_tx, dropped_tx, gate) =
                (arrived_tx.clone(), dropped_tx.clone(), gate.clone());
            async move {
                struct OnDrop(mpsc::UnboundedSender<()>, bool);
                impl Drop for OnDrop {
                    fn drop(&mut self) {
                        if !self.1 {
                            let _ = self.0.send(());
                        }
                    }
                }
                let mut guard = OnDrop(dropped_tx, false);
                let _ = arrived_tx.send(());
                gate.notified().await;
                guard.1 = true;
                axum::Json(json!({"id": "h", "object": "chat.completion", "created": 1,
                    "model": "held-x", "choices": [{"index": 0, "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "late"}}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}))
            }
        }),
    );
    Held {
        addr: serve(router).await,
        arrived,
        dropped,
        release,
    }
}

/// A client that gives up on a non-stream call while the upstream is still
/// working: the call still leaves a record, and its reservation is released
/// (else every abandoned call would eat its worst case out of the budget for
/// the rest of the period).
#[tokio::test]
async fn abandoned_non_stream_call_is_recorded_and_releases_its_reservation() {
    let mut held = held_upstream().await;
    let db = TestDb::sqlite();
    let mut config = base_config(db.url());
    config.upstreams = vec![http_upstream("held", held.addr, &["held-*"], 30)];
    config.prices.insert("held-x".into(), mock_price().config());
    let app = spawn_app(config).await;
    let key = team_with_budget(&app, "quitters", "1").await;

    let request = app
        .http
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .header("x-request-id", "abandoned-call-1")
        .json(&json!({"model": "held-x", "max_tokens": MAX_TOKENS, "messages": race_messages()}))
        .send();
    let client = tokio::spawn(request);
    tokio::time::timeout(HANG_GUARD, held.arrived.recv())
        .await
        .expect("the call reached the upstream");
    let path = "/v1/teams/quitters/budget";
    let (_, during) = get_json(&app, &key, path).await;
    assert_ne!(
        during["reserved_usd"], "0",
        "the call holds a reservation: {during}"
    );

    // The client leaves. Wait until the gateway has given up on the upstream
    // call (its request to the upstream is dropped) before releasing it.
    client.abort();
    let _ = client.await;
    let cancelled = tokio::time::timeout(Duration::from_secs(10), held.dropped.recv())
        .await
        .is_ok();
    held.release.notify_waiters();
    eprintln!("gateway cancelled the upstream call: {cancelled}");

    let start = Instant::now();
    let record = loop {
        let (status, body) = get_json(&app, ADMIN_KEY, "/v1/requests/abandoned-call-1").await;
        if status == 200 {
            break Some(body);
        }
        if start.elapsed() > Duration::from_secs(10) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (_, after) = get_json(&app, &key, path).await;
    assert!(
        record.is_some() && after["reserved_usd"] == "0",
        "abandoned call: record {record:?}; budget afterwards {after} \
         (gateway cancelled the upstream call: {cancelled})"
    );
    if let (Some(rec), true) = (record, cancelled) {
        assert_eq!(rec["outcome"], "client_closed", "{rec}");
    }
    app.stop().await;
}
