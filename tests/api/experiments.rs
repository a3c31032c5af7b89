//! Rollout reports, guards and alerts, over HTTP, on both stores.

use serde_json::{json, Value};

use promptgate::store::RequestRecord;

use crate::helpers::{base_config, spawn_app, Backend, TestApp, TestDb, ADMIN_KEY};

/// A prompt with two versions, `production` moved from v1 into a 50/50 rollout.
async fn prompt_in_rollout(app: &TestApp, name: &str, guard: Option<Value>) {
    for text in ["first", "second"] {
        let body = json!({
            "type": "chat",
            "messages": [{"role": "user", "content": text}],
            "config": {"model": "mock-repeat"},
            "labels": if text == "first" { json!(["production"]) } else { json!([]) },
        });
        let resp = app
            .post(ADMIN_KEY, &format!("/v1/prompts/{name}/versions"), body)
            .await;
        assert_eq!(resp.status(), 201);
    }
    let mut rollout =
        json!({"rollout": [{"version": 1, "weight": 50}, {"version": 2, "weight": 50}]});
    if let Some(g) = guard {
        rollout["guard"] = g;
    }
    let resp = app
        .put(
            ADMIN_KEY,
            &format!("/v1/prompts/{name}/labels/production"),
            rollout,
        )
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
}

/// `n` records of version `version` of `prompt`, the first `flagged` of
/// them flagged; grounding scores alternate `scores`; latencies `latency_ms`.
fn records(
    prompt: &str,
    version: i64,
    n: usize,
    flagged: usize,
    scores: [f64; 2],
    latency_ms: impl Fn(usize) -> i64,
) -> Vec<RequestRecord> {
    let now = promptgate::time::now_ms();
    (0..n)
        .map(|i| RequestRecord {
            id: format!("{prompt}-{version}-{i}"),
            team: "t".into(),
            endpoint: "chat.completions".into(),
            model: Some("mock-repeat".into()),
            status: 200,
            outcome: "ok".into(),
            prompt_tokens: Some(10),
            completion_tokens: Some(5 + (i % 3) as i64),
            latency_us: latency_ms(i) * 1000,
            created_at: now,
            prompt_name: Some(prompt.into()),
            prompt_version: Some(version),
            cache: Some("miss".into()),
            cost_pusd: Some(1_000_000),
            grounding_score: Some(scores[i % 2]),
            flagged: Some(i < flagged),
            ..RequestRecord::default()
        })
        .collect()
}

/// Wilson's interval as the closed form of the score test's quadratic,
/// solved here independently of the gateway's code.
fn wilson(k: f64, n: f64) -> (f64, f64) {
    let z: f64 = 1.959_963_984_540_054;
    let p = k / n;
    let a = 1.0 + z * z / n;
    let b = -(2.0 * p + z * z / n);
    let c = p * p;
    let root = (b * b - 4.0 * a * c).sqrt();
    ((-b - root) / (2.0 * a), (-b + root) / (2.0 * a))
}

/// Newcombe's hybrid interval of `k2/n2 − k1/n1`.
fn newcombe(k1: f64, n1: f64, k2: f64, n2: f64) -> (f64, f64) {
    let (p1, p2) = (k1 / n1, k2 / n2);
    let ((l1, u1), (l2, u2)) = (wilson(k1, n1), wilson(k2, n2));
    let d = p2 - p1;
    (
        d - ((p2 - l2).powi(2) + (u1 - p1).powi(2)).sqrt(),
        d + ((u2 - p2).powi(2) + (p1 - l1).powi(2)).sqrt(),
    )
}

fn assert_close(got: &Value, want: f64, what: &str) {
    let got = got.as_f64().unwrap_or_else(|| panic!("{what}: {got}"));
    assert!((got - want).abs() < 1e-9, "{what}: got {got}, want {want}");
}

async fn report(app: &TestApp, key: &str, name: &str) -> Value {
    let resp = app
        .get(key, &format!("/v1/prompts/{name}/report?label=production"))
        .await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

fn version(report: &Value, v: i64) -> &Value {
    report["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["version"] == v)
        .unwrap_or_else(|| panic!("no version {v} in {report}"))
}

async fn seeded_verdicts(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let app = spawn_app(base_config(db.url())).await;
    let key = app.team_key("t").await;
    for name in ["clear", "same", "few"] {
        prompt_in_rollout(&app, name, None).await;
    }
    let mut seed = Vec::new();
    // A candidate that is clearly flagged more: 5 % against 30 %.
    seed.extend(records("clear", 1, 200, 10, [0.9, 0.8], |i| {
        100 + (i % 100) as i64
    }));
    seed.extend(records("clear", 2, 200, 60, [0.4, 0.3], |i| {
        300 + (i % 100) as i64
    }));
    // No real difference: 10 % against 11 %.
    seed.extend(records("same", 1, 200, 20, [0.8, 0.8], |_| 100));
    seed.extend(records("same", 2, 200, 22, [0.8, 0.8], |_| 100));
    // Too few samples for the candidate (the minimum is 30).
    seed.extend(records("few", 1, 200, 20, [0.8, 0.7], |_| 100));
    seed.extend(records("few", 2, 10, 9, [0.1, 0.2], |_| 100));
    app.state.store.insert_records(&seed).await.unwrap();
    // Another team's records are not in a team key's report.
    let mut other = records("clear", 2, 50, 0, [0.9, 0.9], |_| 100);
    for r in &mut other {
        r.team = "other".into();
        r.id.push_str("-other");
    }
    app.state.store.insert_records(&other).await.unwrap();

    let r = report(&app, &key, "clear").await;
    assert_eq!(r["baseline"], 1, "{r}");
    let (v1, v2) = (version(&r, 1), version(&r, 2));
    assert_eq!(v1["baseline"], true);
    assert_eq!(v2["requests"], 200, "team scope: {v2}");
    let flag = &v2["metrics"]["flag_rate"];
    assert_close(&flag["value"], 0.3, "flag rate");
    let (lo, hi) = wilson(60.0, 200.0);
    assert_close(&flag["ci"][0], lo, "wilson lo");
    assert_close(&flag["ci"][1], hi, "wilson hi");
    let cmp = &v2["comparison"]["flag_rate"];
    assert_eq!(cmp["verdict"], "worse", "{cmp}");
    assert_close(&cmp["difference"], 0.25, "difference");
    let (lo, hi) = newcombe(10.0, 200.0, 60.0, 200.0);
    assert_close(&cmp["ci"][0], lo, "newcombe lo");
    assert_close(&cmp["ci"][1], hi, "newcombe hi");
    // Grounding: 0.85 against 0.35, each with sample variance 0.0025·200/199.
    let score = &v2["metrics"]["grounding_score"];
    assert_close(&score["value"], 0.35, "mean score");
    let se = (0.0025f64 * 200.0 / 199.0 / 200.0).sqrt();
    let half = score["ci"][1].as_f64().unwrap() - 0.35;
    assert!(
        (half / se - 1.972).abs() < 0.001,
        "t(199) ≈ 1.972, got {}",
        half / se
    );
    assert_eq!(v2["comparison"]["grounding_score"]["verdict"], "worse");
    assert_eq!(
        v2["comparison"]["cost_per_request"]["verdict"],
        "no_difference"
    );
    // Latencies 100–199 ms against 300–399 ms: p50 ≈ 150 / 350 (1 % buckets).
    let p50 = v1["metrics"]["p50_latency"]["value"].as_f64().unwrap();
    assert!((p50 - 150.0).abs() < 2.0, "p50 {p50}");
    assert_eq!(v2["comparison"]["p95_latency"]["verdict"], "worse");
    assert_close(&v1["metrics"]["cache_hit_rate"]["value"], 0.0, "cache hits");

    // The admin key sees every team.
    let all = report(&app, ADMIN_KEY, "clear").await;
    assert_eq!(version(&all, 2)["requests"], 250);

    let r = report(&app, &key, "same").await;
    let cmp = &version(&r, 2)["comparison"]["flag_rate"];
    assert_eq!(cmp["verdict"], "no_difference", "{cmp}");
    let (lo, hi) = newcombe(20.0, 200.0, 22.0, 200.0);
    assert_close(&cmp["ci"][0], lo, "newcombe lo");
    assert_close(&cmp["ci"][1], hi, "newcombe hi");

    let r = report(&app, &key, "few").await;
    let v2 = version(&r, 2);
    assert_eq!(v2["comparison"]["flag_rate"]["verdict"], "too_few_samples");
    assert_eq!(v2["metrics"]["flag_rate"]["n"], 10);
    assert_close(&v2["metrics"]["flag_rate"]["value"], 0.9, "flag rate");

    // Client mistakes are 4xx naming the field.
    let bad = app.get(&key, "/v1/prompts/clear/report?label=nope").await;
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["error"]["param"], "label");
    let bad = app
        .get(&key, "/v1/prompts/clear/report?from=yesterday")
        .await;
    assert_eq!(bad.status(), 400);
    assert_eq!(
        app.get(&key, "/v1/prompts/missing/report").await.status(),
        404
    );
    app.stop().await;
}

#[tokio::test]
async fn report_verdicts_sqlite() {
    seeded_verdicts(Backend::Sqlite).await;
}

#[tokio::test]
async fn report_verdicts_postgres() {
    seeded_verdicts(Backend::Postgres).await;
}

const TOWER: &str = "The Eiffel Tower is 330 metres tall and stands in Paris. It opened in 1889.";

/// What a webhook receiver got: each body with its signature header.
type Received = std::sync::Arc<std::sync::Mutex<Vec<(Vec<u8>, Option<String>)>>>;

/// A real HTTP server that takes webhook posts.
async fn webhook_receiver() -> (std::net::SocketAddr, Received) {
    let got: Received = Default::default();
    let store = got.clone();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let store = store.clone();
                async move {
                    let sig = headers
                        .get("x-promptgate-signature")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    store.lock().unwrap().push((body.to_vec(), sig));
                    "ok"
                }
            },
        ),
    );
    (crate::helpers::serve(router).await, got)
}

/// HMAC-SHA256 written out from RFC 2104, to check the gateway's signature.
fn hmac_hex(key: &[u8], msg: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut k = [0u8; 64];
    k[..key.len()].copy_from_slice(key);
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::digest([ipad.as_slice(), msg].concat());
    hex::encode(Sha256::digest([opad.as_slice(), inner.as_slice()].concat()))
}

/// The version that served a chat call of user `user` through `production`.
async fn served_version(app: &TestApp, key: &str, user: &str) -> i64 {
    let resp = app
        .post(
            key,
            "/v1/chat/completions",
            json!({"prompt": {"id": "tower", "label": "production",
                              "variables": {"context": TOWER}},
                   "metadata": {"user": user}}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let prompt = resp.headers()["x-promptgate-prompt"].to_str().unwrap();
    prompt
        .strip_prefix("tower@")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("prompt header {prompt}"))
}

async fn guard_rolls_back(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let (hook, received) = webhook_receiver().await;
    let mut config = base_config(db.url());
    config.experiments.guard_interval_ms = 100;
    config
        .alerts
        .webhooks
        .push(promptgate::alerts::config::WebhookConfig {
            url: format!("http://{hook}/hook"),
            secret: Some("s3cret".to_owned().into()),
        });
    let app = spawn_app(config).await;
    let key = app.team_key("t").await;
    // v1 repeats a sentence its context supports; v2 one it contradicts.
    for (answer, labels) in [
        ("The Eiffel Tower opened in 1889.", json!(["production"])),
        ("The Eiffel Tower opened in 1925 in Berlin.", json!([])),
    ] {
        let body = json!({
            "type": "chat",
            "messages": [{"role": "user", "content": answer}],
            "config": {"model": "mock-repeat"},
            "variables_schema": {"context": "string"},
            "grounding_variable": "context",
            "labels": labels,
        });
        let resp = app
            .post(ADMIN_KEY, "/v1/prompts/tower/versions", body)
            .await;
        assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    }
    let rollout = json!({"rollout": [{"version": 1, "weight": 50}, {"version": 2, "weight": 50}],
                         "guard": {"metric": "flag_rate", "max_worse_by": 0.2, "min_samples": 15}});
    let resp = app
        .put(ADMIN_KEY, "/v1/prompts/tower/labels/production", rollout)
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());

    // Traffic until the guard acts (each user sticks to one version).
    let mut served = [0usize; 3];
    let mut fired = false;
    for user in 0..400 {
        let v = served_version(&app, &key, &format!("u{user}")).await;
        served[v as usize] += 1;
        let label: Value = app
            .get(ADMIN_KEY, "/v1/prompts")
            .await
            .json()
            .await
            .unwrap();
        let target = &label["data"][0]["labels"]["production"];
        if target["rollout"][1]["weight"] == 0 {
            fired = true;
            break;
        }
    }
    assert!(fired, "the guard never fired (served {served:?})");
    assert!(served[1] >= 15 && served[2] >= 15, "{served:?}");

    let history: Value = app
        .get(ADMIN_KEY, "/v1/prompts/tower/labels/production/history")
        .await
        .json()
        .await
        .unwrap();
    let last = &history["data"][0];
    assert_eq!(last["actor"], "guard", "{history}");
    assert_eq!(last["to"]["rollout"][1], json!({"version": 2, "weight": 0}));
    assert_eq!(last["to"]["guard"]["metric"], "flag_rate");
    let reason = last["reason"].as_str().unwrap();
    assert!(
        reason.contains("flag_rate of v2") && reason.contains("baseline v1"),
        "{reason}"
    );

    // Exactly one signed event, however many ticks pass.
    for _ in 0..100 {
        if !received.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "events: {got:?}");
    let (body, sig) = &got[0];
    assert_eq!(
        sig.as_deref(),
        Some(format!("sha256={}", hmac_hex(b"s3cret", body)).as_str())
    );
    let event: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(event["type"], "guard.fired");
    assert_eq!(event["data"]["prompt"], "tower");
    assert_eq!(event["data"]["candidate"], 2);
    assert_eq!(event["data"]["baseline"], 1);
    assert!(
        event["data"]["difference"].as_f64().unwrap() > 0.2,
        "{event}"
    );

    // From now on every user gets version 1.
    for user in 0..40 {
        assert_eq!(served_version(&app, &key, &format!("u{user}")).await, 1);
    }
    let metrics = app.get(ADMIN_KEY, "/metrics").await.text().await.unwrap();
    // (The recorder is per process: the other backend's test may count too.)
    let fired: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("promptgate_guard_fired_total{metric=\"flag_rate\"} "))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(fired >= 1, "{metrics}");
    app.stop().await;
}

#[tokio::test]
async fn guard_rolls_back_sqlite() {
    guard_rolls_back(Backend::Sqlite).await;
}

#[tokio::test]
async fn guard_rolls_back_postgres() {
    guard_rolls_back(Backend::Postgres).await;
}

/// Drift: `answers` before and after a pause, through prompt `name`; the
/// drift endpoint (split at the pause) and the gauges must agree on `drifts`.
async fn drift_run(backend: Backend, name: &str, answers: [&'static str; 2], drifts: bool) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let (hook, received) = webhook_receiver().await;
    let mut config = base_config(db.url());
    config.experiments.drift_interval_ms = 100;
    config.experiments.drift_recent_ms = 3_000;
    // The batch writer lingers 25 ms: records are in the store well before.
    config.experiments.drift_settle_ms = 300;
    config.experiments.drift_reference_ms = 60_000;
    config.experiments.drift_min_samples = 20;
    config
        .alerts
        .webhooks
        .push(promptgate::alerts::config::WebhookConfig {
            url: format!("http://{hook}/hook"),
            secret: None,
        });
    let app = spawn_app(config).await;
    let key = app.team_key("t").await;
    let body = json!({
        "type": "chat",
        "messages": [{"role": "user", "content": "{{answer}}"}],
        "config": {"model": "mock-repeat"},
        "variables_schema": {"answer": "string", "context": "string"},
        "grounding_variable": "context",
        "labels": ["production"],
    });
    let resp = app
        .post(ADMIN_KEY, &format!("/v1/prompts/{name}/versions"), body)
        .await;
    assert_eq!(resp.status(), 201);
    let send = |answer: &'static str| {
        let app = &app;
        let key = &key;
        async move {
            for _ in 0..25 {
                let resp = app
                    .post(
                        key,
                        "/v1/chat/completions",
                        json!({"prompt": {"id": name, "variables": {"answer": answer, "context": TOWER}}}),
                    )
                    .await;
                assert_eq!(resp.status(), 200);
            }
        }
    };
    send(answers[0]).await;
    // The recent window (3 s) has to hold the second phase only.
    tokio::time::sleep(std::time::Duration::from_millis(3_100)).await;
    let split = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    send(answers[1]).await;
    // Both phases written (the batch writer is asynchronous).
    for _ in 0..100 {
        let list: Value = app
            .get(&key, "/v1/requests?limit=100")
            .await
            .json()
            .await
            .unwrap();
        if list["data"].as_array().is_some_and(|d| d.len() >= 50) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    let resp = app
        .get(
            &key,
            &format!("/v1/monitoring/drift?since={}", split.replace('+', "%2B")),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let list: Value = resp.json().await.unwrap();
    let flag = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["prompt"] == name && d["metric"] == "flag_rate")
        .cloned();
    if drifts {
        let flag = flag.unwrap_or_else(|| panic!("no flag-rate drift in {list}"));
        assert_eq!(flag["version"], 1);
        assert_eq!(flag["reference"], 0.0);
        assert_eq!(flag["recent"], 1.0);
        assert_eq!(
            (flag["reference_n"].as_i64(), flag["recent_n"].as_i64()),
            (Some(25), Some(25))
        );
        assert_eq!(flag["test"], "two_proportion_z");
    } else {
        assert!(
            list["data"]
                .as_array()
                .unwrap()
                .iter()
                .all(|d| d["prompt"] != name),
            "an unchanged run drifted: {list}"
        );
    }

    // The monitor's gauge says the same.
    let series = format!("prompt=\"{name}\",version=\"1\",model=\"\",metric=\"flag_rate\"}}");
    let mut gauge = None;
    for _ in 0..100 {
        let metrics = app.get(ADMIN_KEY, "/metrics").await.text().await.unwrap();
        gauge = metrics
            .lines()
            .find(|l| l.starts_with("promptgate_prompt_drift{") && l.contains(&series))
            .and_then(|l| l.rsplit(' ').next())
            .map(str::to_owned);
        if gauge.as_deref() == Some(if drifts { "1" } else { "0" }) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        gauge.as_deref(),
        Some(if drifts { "1" } else { "0" }),
        "{series}"
    );
    let events = || -> Vec<Value> {
        received
            .lock()
            .unwrap()
            .iter()
            .map(|(b, _)| serde_json::from_slice::<Value>(b).unwrap())
            .filter(|e| e["data"]["drift"]["metric"] == "flag_rate")
            .collect()
    };
    for _ in 0..50 {
        if !drifts || !events().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // A few more ticks send nothing new: once per crossing.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let flag_events = events();
    assert_eq!(flag_events.len(), usize::from(drifts), "{flag_events:?}");
    if drifts {
        assert_eq!(flag_events[0]["type"], "drift.detected");
        assert_eq!(flag_events[0]["data"]["drift"]["prompt"], name);
    }
    app.stop().await;
}

const SUPPORTED: &str = "The Eiffel Tower opened in 1889.";
const CONTRADICTED: &str = "The Eiffel Tower opened in 1925 in Berlin.";

#[tokio::test]
async fn drift_is_reported_sqlite() {
    drift_run(
        Backend::Sqlite,
        "shift-sqlite",
        [SUPPORTED, CONTRADICTED],
        true,
    )
    .await;
}

#[tokio::test]
async fn drift_is_reported_postgres() {
    drift_run(
        Backend::Postgres,
        "shift-postgres",
        [SUPPORTED, CONTRADICTED],
        true,
    )
    .await;
}

#[tokio::test]
async fn no_drift_on_an_unchanged_run_sqlite() {
    drift_run(
        Backend::Sqlite,
        "steady-sqlite",
        [SUPPORTED, SUPPORTED],
        false,
    )
    .await;
}

#[tokio::test]
async fn no_drift_on_an_unchanged_run_postgres() {
    drift_run(
        Backend::Postgres,
        "steady-postgres",
        [SUPPORTED, SUPPORTED],
        false,
    )
    .await;
}

/// `budget.80` and `budget.100`, each sent once, as spend crosses them.
async fn budget_alerts(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let (hook, received) = webhook_receiver().await;
    let mut config = base_config(db.url());
    config.alerts.budget_check_ms = 50;
    config
        .alerts
        .webhooks
        .push(promptgate::alerts::config::WebhookConfig {
            url: format!("http://{hook}/hook"),
            secret: Some("k".to_owned().into()),
        });
    let app = spawn_app(config).await;
    let key = app.team_key("spender").await;
    let resp = app
        .put(
            ADMIN_KEY,
            "/v1/teams/spender/budget",
            json!({"usd": "0.0002", "period": "day"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let kinds = || -> Vec<String> {
        received
            .lock()
            .unwrap()
            .iter()
            .map(|(b, _)| serde_json::from_slice::<Value>(b).unwrap()["type"].to_string())
            .collect()
    };
    // Spend until the budget refuses (each call costs a few dozen µUSD).
    // (A small `max_tokens` keeps the worst-case reservation under the budget.)
    let mut served = 0;
    for _ in 0..40 {
        let resp = app
            .post(
                &key,
                "/v1/chat/completions",
                json!({"model": "mock-1", "max_tokens": 8,
                       "messages": [{"role": "user", "content": "hello"}]}),
            )
            .await;
        if resp.status() != 200 {
            break;
        }
        served += 1;
    }
    assert!(served >= 2, "served {served}");
    for _ in 0..200 {
        if kinds().len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut got = kinds();
    got.sort();
    assert_eq!(got, vec!["\"budget.100\"", "\"budget.80\""], "{got:?}");
    let (body, sig) = received.lock().unwrap()[0].clone();
    assert_eq!(sig, Some(format!("sha256={}", hmac_hex(b"k", &body))));
    let event: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(event["data"]["team"], "spender");
    assert_eq!(event["data"]["budget_usd"], "0.0002");
    app.stop().await;
}

#[tokio::test]
async fn budget_alerts_sqlite() {
    budget_alerts(Backend::Sqlite).await;
}

#[tokio::test]
async fn budget_alerts_postgres() {
    budget_alerts(Backend::Postgres).await;
}
