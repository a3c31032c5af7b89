//! Keys with a name, an expiry and allowed models; rotation with a grace
//! window; the `promptgate teams` / `promptgate keys` CLI.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{base_config, spawn_app, TestApp, TestDb, ADMIN_KEY};

/// Runs the CLI against `app`; returns stdout (panics with stderr on failure).
async fn cli(app: &TestApp, args: &[&str]) -> String {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_promptgate"))
        .args(args)
        .args(["--url", &app.url(""), "--key", ADMIN_KEY])
        .env_remove("PROMPTGATE_URL")
        .env_remove("PROMPTGATE_ADMIN_KEY")
        .output()
        .await
        .expect("run the CLI");
    assert!(
        out.status.success(),
        "promptgate {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The `name: value` line of the CLI's output.
fn field(out: &str, name: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in {out}"))
        .trim()
        .to_owned()
}

async fn chat_status(app: &TestApp, key: &str, model: &str) -> (u16, String) {
    let resp = app.chat(key, model).await;
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    (resp.status().as_u16(), id)
}

/// Waits (up to 30 s) until `key` is refused; the time it took.
async fn until_refused(app: &TestApp, key: &str) -> Duration {
    let start = Instant::now();
    while app.chat(key, "mock-1").await.status() != 401 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "key never refused"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    start.elapsed()
}

#[tokio::test]
async fn cli_creates_lists_rotates_with_grace_and_revokes() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;

    let out = cli(&app, &["teams", "create", "ops"]).await;
    assert!(out.contains("created team ops"), "{out}");
    assert!(cli(&app, &["teams", "list"]).await.contains("ops"));

    let out = cli(
        &app,
        &[
            "keys",
            "create",
            "ops",
            "--name",
            "ci",
            "--models",
            "mock-1,mock-echo",
        ],
    )
    .await;
    let (id, first) = (field(&out, "id"), field(&out, "key"));
    assert_eq!(chat_status(&app, &first, "mock-1").await.0, 200);
    // a model the key may not call
    let resp = app.chat(&first, "mock-slow").await;
    assert_eq!(resp.status(), 403);
    let err: Value = resp.json().await.unwrap();
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("mock-slow"),
        "{err}"
    );

    let listed = cli(&app, &["keys", "list", "ops"]).await;
    assert!(
        listed.contains(&id) && listed.contains("ci") && listed.contains(&first[..9]),
        "{listed}"
    );
    assert!(listed.contains("mock-1,mock-echo"), "{listed}");

    // rotate with a 2 s grace: both secrets work, under the same id
    let before_rotation = Instant::now();
    let out = cli(&app, &["keys", "rotate", &id, "--grace", "2s"]).await;
    assert_eq!(field(&out, "id"), id);
    let second = field(&out, "key");
    assert_ne!(second, first);
    let (status, new_req) = chat_status(&app, &second, "mock-1").await;
    assert_eq!(status, 200);
    let (status, old_req) = chat_status(&app, &first, "mock-1").await;
    assert_eq!(status, 200, "the old secret works during the grace");
    let new_rec = app.record(ADMIN_KEY, &new_req).await;
    let old_rec = app.record(ADMIN_KEY, &old_req).await;
    assert_eq!(new_rec["key_id"], id.as_str());
    assert_eq!(old_rec["key_id"], id.as_str());
    assert_eq!(new_rec["key_hint"], &second[..9], "{new_rec}");
    assert_eq!(old_rec["key_hint"], &first[..9], "{old_rec}");
    // then the old secret is refused (never before its grace ends), the new one not
    until_refused(&app, &first).await;
    assert!(before_rotation.elapsed() >= Duration::from_secs(2));
    assert_eq!(chat_status(&app, &second, "mock-1").await.0, 200);
    // the allowed models survive the rotation
    assert_eq!(app.chat(&second, "mock-slow").await.status(), 403);

    // rotating without grace: the old secret stops at once
    let out = cli(&app, &["keys", "rotate", &id]).await;
    let third = field(&out, "key");
    assert_eq!(app.chat(&second, "mock-1").await.status(), 401);
    assert_eq!(chat_status(&app, &third, "mock-1").await.0, 200);

    let out = cli(&app, &["keys", "revoke", &id]).await;
    assert!(out.contains("revoked"), "{out}");
    assert_eq!(app.chat(&third, "mock-1").await.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn an_expired_key_is_refused() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    app.post(ADMIN_KEY, "/v1/teams", json!({"name": "t"})).await;
    let expires = chrono::Utc::now() + chrono::Duration::seconds(2);
    let created: Value = app
        .post(
            ADMIN_KEY,
            "/v1/teams/t/keys",
            json!({"expires_at": expires.to_rfc3339()}),
        )
        .await
        .json()
        .await
        .unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(created["expires_at"].is_string(), "{created}");
    let start = Instant::now();
    assert_eq!(app.chat(&key, "mock-1").await.status(), 200);
    until_refused(&app, &key).await;
    // never before its expiry
    assert!(chrono::Utc::now() >= expires, "{:?}", start.elapsed());
    app.stop().await;
}

#[tokio::test]
async fn bad_key_requests_name_the_field() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    app.post(ADMIN_KEY, "/v1/teams", json!({"name": "t"})).await;
    for (body, param) in [
        (json!({"expires_at": "tomorrow"}), "expires_at"),
        (json!({"expires_at": "2001-01-01T00:00:00Z"}), "expires_at"),
        (json!({"models": []}), "models"),
        (json!({"name": ""}), "name"),
    ] {
        let resp = app.post(ADMIN_KEY, "/v1/teams/t/keys", body.clone()).await;
        assert_eq!(resp.status(), 400, "{body}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"]["param"], param, "{err}");
    }
    let resp = app
        .post(ADMIN_KEY, "/v1/teams/t/keys", json!({"colour": "red"}))
        .await;
    assert_eq!(resp.status(), 400);
    // nothing was half-written: still no key
    let keys: Value = app
        .get(ADMIN_KEY, "/v1/teams/t/keys")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(keys["data"].as_array().unwrap().len(), 0, "{keys}");

    let key = app.team_key("t").await;
    let id = app.state.store.active_keys().await.unwrap()[0].id.clone();
    let rotate = format!("/v1/keys/{id}/rotate");
    let resp = app.post(ADMIN_KEY, &rotate, json!({"grace_s": -1})).await;
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["param"], "grace_s");
    assert_eq!(app.post(&key, &rotate, json!({})).await.status(), 403);
    assert_eq!(
        app.post(ADMIN_KEY, "/v1/keys/key_nope/rotate", json!({}))
            .await
            .status(),
        404
    );
    // the refused rotations changed nothing
    assert_eq!(app.chat(&key, "mock-1").await.status(), 200);
    app.stop().await;
}
