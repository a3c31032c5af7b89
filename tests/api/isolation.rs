//! Team isolation, swept over every endpoint that returns team data: team B's
//! key, pointed at team A's records, costs, budget, keys, cache entries,
//! prompt reports and audit trail, and signed in to the web console, gets a
//! 403 or 404 and not one byte of A's data; and no key, upstream credential
//! or secret prompt variable is ever written to the log or the traces.

mod console_pages;
mod log_capture;
mod secret_vars;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{
    base_config, http_upstream, mock_upstream, spawn_app, TestApp, TestDb, ADMIN_KEY,
};
use secret_vars::SECRET_VALUE;

/// Only team A's calls carry this: any response to B that holds it leaks.
const MARK: &str = "alpha-only-5be1d07c";
/// The upstream's credential (from the variable its config names).
const UPSTREAM_SECRET: &str = "sk-upstream-sweep-9a41f3";
const UPSTREAM_KEY_ENV: &str = "PROMPTGATE_TEST_SWEEP_UPSTREAM_KEY";

struct Answer {
    status: u16,
    text: String,
    cache: String,
    /// `x-request-id`.
    id: String,
}

async fn call(app: &TestApp, key: &str, method: Method, path: &str, body: Option<Value>) -> Answer {
    let mut req = app.http.request(method, app.url(path)).bearer_auth(key);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.expect("answer");
    let status = resp.status().as_u16();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (cache, id) = (header("x-promptgate-cache"), header("x-request-id"));
    let text = resp.text().await.expect("body");
    Answer {
        status,
        text,
        cache,
        id,
    }
}

#[tokio::test]
async fn team_b_sees_nothing_of_team_a_and_no_secret_is_logged() {
    log_capture::start();
    // Safety of set_var: this variable is this test's own; no other test reads it.
    std::env::set_var(UPSTREAM_KEY_ENV, UPSTREAM_SECRET);
    let upstream = mock_upstream().await;
    let db = TestDb::sqlite();
    let mut config = base_config(db.url());
    let mut remote = http_upstream("remote", upstream, &["remote-*"], 10);
    remote.api_key_env = Some(UPSTREAM_KEY_ENV.to_owned());
    config.upstreams.push(remote);
    let (collector, traces, _) = crate::tracing::receiver(None).await;
    config.tracing.otlp_endpoint = Some(format!("http://{collector}"));
    config.tracing.export_interval_ms = 20;
    let app = spawn_app(config).await;
    let key_a = app.team_key("alpha").await;
    let key_b = app.team_key("beta").await;

    // Team A's data: a cached, grounded call through the credentialed upstream,
    // a budget, a prompt used with its variables.
    let prompt = json!({"type": "chat", "messages": [{"role": "user", "content": "{{q}}"}],
        "variables_schema": {"q": "string"}, "labels": ["production"]});
    assert_eq!(
        call(
            &app,
            ADMIN_KEY,
            Method::POST,
            "/v1/prompts/sweep/versions",
            Some(prompt)
        )
        .await
        .status,
        201
    );
    let a_body = json!({"model": "remote/mock-echo",
        "messages": [{"role": "user", "content": format!("{MARK} question")}],
        "grounding": {"context": [format!("{MARK} is the context.")]},
        "cache": {"ttl": 600}});
    let a_call = app
        .http
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&key_a)
        .json(&a_body)
        .send()
        .await
        .expect("answer");
    assert_eq!(a_call.status(), 200);
    let a_id = a_call.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let with_prompt =
        json!({"model": "mock-echo", "prompt": {"id": "sweep", "variables": {"q": MARK}}});
    let prompted = call(
        &app,
        &key_a,
        Method::POST,
        "/v1/chat/completions",
        Some(with_prompt),
    )
    .await;
    assert_eq!(prompted.status, 200, "{}", prompted.text);
    secret_vars::add_secret_version(&app).await;
    let [prompted_id, streamed_id] = secret_vars::use_secret(&app, &key_a).await;
    let budget = json!({"usd": "12.34", "period": "month"});
    assert!(
        call(
            &app,
            ADMIN_KEY,
            Method::PUT,
            "/v1/teams/alpha/budget",
            Some(budget)
        )
        .await
        .status
            < 300
    );
    let a_record = app.record(&key_a, &a_id).await;
    assert!(
        a_record.to_string().contains(MARK),
        "A's record holds A's data: {a_record}"
    );
    let keys = call(&app, ADMIN_KEY, Method::GET, "/v1/teams/alpha/keys", None).await;
    let keys: Value = serde_json::from_str(&keys.text).unwrap();
    let a_key_id = keys["data"][0]["id"].as_str().expect("a key id").to_owned();

    // The controls: the admin key does see A's data on these routes, so an
    // empty answer to B below is isolation, not a broken route.
    for path in [
        "/v1/requests?team=alpha".to_owned(),
        format!("/v1/requests/{a_id}"),
        "/v1/costs?team=alpha&group_by=team".to_owned(),
        "/v1/teams/alpha/budget".to_owned(),
    ] {
        let a = call(&app, ADMIN_KEY, Method::GET, &path, None).await;
        assert_eq!(a.status, 200, "admin {path}: {}", a.text);
        assert!(
            a.text.contains(&a_id) || a.text.contains("alpha"),
            "admin {path}: {}",
            a.text
        );
    }

    let report = call(&app, ADMIN_KEY, Method::GET, "/v1/costs?team=alpha", None).await;
    let report: Value = serde_json::from_str(&report.text).unwrap();
    let a_cost = report["rows"][0]["cost_usd"]
        .as_str()
        .expect("A's cost")
        .to_owned();

    // Team B at A's objects and ids: refused, as if they did not exist.
    let refused: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/v1/requests/{a_id}"), None),
        (Method::GET, "/v1/requests?team=alpha".into(), None),
        (Method::GET, "/v1/costs?team=alpha".into(), None),
        (
            Method::GET,
            "/v1/costs?team=alpha&group_by=model".into(),
            None,
        ),
        (Method::GET, "/v1/teams/alpha/budget".into(), None),
        (
            Method::PUT,
            "/v1/teams/alpha/budget".into(),
            Some(json!({"usd": "1", "period": "day"})),
        ),
        (Method::DELETE, "/v1/teams/alpha/budget".into(), None),
        (Method::GET, "/v1/teams/alpha/keys".into(), None),
        (Method::POST, "/v1/teams/alpha/keys".into(), Some(json!({}))),
        (Method::DELETE, format!("/v1/keys/{a_key_id}"), None),
        (
            Method::POST,
            format!("/v1/keys/{a_key_id}/rotate"),
            Some(json!({})),
        ),
        (Method::GET, "/v1/teams".into(), None),
        (Method::GET, "/v1/audit".into(), None),
        (Method::DELETE, "/v1/cache".into(), None),
        (
            Method::GET,
            "/v1/prompts/sweep/report?team=alpha".into(),
            None,
        ),
        (Method::GET, "/v1/monitoring/drift?team=alpha".into(), None),
    ];
    for (method, path, body) in refused {
        let b = call(&app, &key_b, method.clone(), &path, body).await;
        assert!(
            matches!(b.status, 403 | 404),
            "B {method} {path}: {} {}",
            b.status,
            b.text
        );
        // An id B itself sent may be named back ("`…` not found").
        let secrets = [
            MARK,
            a_id.as_str(),
            a_key_id.as_str(),
            "12.34",
            a_cost.as_str(),
        ];
        for secret in secrets.into_iter().filter(|s| !path.contains(s)) {
            assert!(
                !b.text.contains(secret),
                "B {method} {path} shows {secret}: {}",
                b.text
            );
        }
    }

    // B's own listings answer, and hold nothing of A.
    for path in [
        "/v1/requests",
        "/v1/costs",
        "/v1/costs?group_by=model",
        "/v1/teams/beta/budget",
        "/v1/prompts/sweep/report",
    ] {
        let b = call(&app, &key_b, Method::GET, path, None).await;
        assert!(
            b.status == 200 || b.status == 404,
            "B {path}: {} {}",
            b.status,
            b.text
        );
        for secret in [MARK, a_id.as_str(), "alpha", "12.34", a_cost.as_str()] {
            assert!(
                !b.text.contains(secret),
                "B {path} shows {secret}: {}",
                b.text
            );
        }
    }

    let a_bytes = vec![a_key_id.as_str(), "12.34", a_cost.as_str()];
    let team_a = console_pages::TeamA {
        key: &key_a,
        call_id: &a_id,
        prompted_id: &prompted_id,
        bytes: a_bytes,
    };
    console_pages::sweep(&app, &team_a, &key_b).await;

    // The same cached call from B is not answered from A's entry.
    let again = call(
        &app,
        &key_a,
        Method::POST,
        "/v1/chat/completions",
        Some(a_body.clone()),
    )
    .await;
    assert_eq!(again.cache, "hit", "A's own entry serves A");
    let b = call(
        &app,
        &key_b,
        Method::POST,
        "/v1/chat/completions",
        Some(a_body),
    )
    .await;
    assert_eq!(b.status, 200);
    assert_eq!(
        b.cache, "miss",
        "B must not be answered from A's cache entry"
    );

    // A key that does not exist is refused without saying whose it might be.
    let bogus = "pg-not-a-real-key-0c7d2e";
    assert_eq!(
        call(&app, bogus, Method::GET, "/v1/requests", None)
            .await
            .status,
        401
    );

    for id in [&prompted_id, &streamed_id] {
        secret_vars::assert_record_struck(&app, &key_a, id).await;
    }
    let (root, _) = traces.call(&prompted_id).await;
    assert_eq!(
        root.attr("promptgate.prompt.name"),
        "sweep",
        "the call was traced"
    );
    app.stop().await;
    let log = log_capture::stop();
    let exported = traces.raw.lock().unwrap().concat();
    let exported = String::from_utf8_lossy(&exported).into_owned();
    assert!(
        log.contains("all request records written"),
        "the log was captured: {log}"
    );
    for secret in [
        key_a.as_str(),
        key_b.as_str(),
        ADMIN_KEY,
        UPSTREAM_SECRET,
        SECRET_VALUE,
        bogus,
    ] {
        assert!(
            !log.contains(secret),
            "the log shows a secret ({secret}):\n{log}"
        );
        assert!(
            !exported.contains(secret),
            "the traces show a secret ({secret})"
        );
    }
}
