//! SIGTERM under load: every request that was answered keeps its record.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::ADMIN_KEY;

/// The real binary, started by a test.
pub struct Server {
    pub child: tokio::process::Child,
    pub base: String,
}

async fn start(dir: &std::path::Path) -> Server {
    start_with(dir, None).await
}

/// Starts the binary on a SQLite file in `dir`, with `config` (TOML) as its
/// config file when given.
async fn start_with(dir: &std::path::Path, config: Option<&str>) -> Server {
    let store = format!("sqlite://{}", dir.join("pg.db").display());
    start_gateway(dir, &store, config).await
}

/// Starts the binary in `dir` on the store at `store_url`, with `config`
/// (TOML) as its config file when given.
pub async fn start_gateway(dir: &std::path::Path, store_url: &str, config: Option<&str>) -> Server {
    let env = [("PROMPTGATE__STORE__URL", store_url.to_owned())];
    let (child, base) = crate::fault_kit::spawn_binary(dir, &env, config).await;
    Server { child, base }
}

#[tokio::test]
async fn sigterm_under_load_loses_no_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path()).await;
    let http = reqwest::Client::new();
    let base = server.base.clone();
    let key = team_key(&http, &base).await;

    // 64 concurrent requests, half streaming, against a slow model so many
    // are in flight when the signal arrives.
    let mut tasks = Vec::new();
    for i in 0..64 {
        let (http, base, key) = (http.clone(), base.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            let body = json!({"model": "mock-slow", "stream": i % 2 == 0,
                "messages": [{"role": "user", "content": format!("request {i}")}]});
            let resp = http
                .post(format!("{base}/v1/chat/completions"))
                .bearer_auth(&key)
                .json(&body)
                .send()
                .await
                .ok()?;
            let id = resp
                .headers()
                .get("x-request-id")?
                .to_str()
                .ok()?
                .to_owned();
            // Read the whole answer: the client saw it completed.
            resp.bytes().await.ok()?;
            Some(id)
        }));
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    sigterm(&server);
    let mut ids = Vec::new();
    for t in tasks {
        if let Some(id) = t.await.unwrap() {
            ids.push(id);
        }
    }
    let exit = tokio::time::timeout(Duration::from_secs(60), server.child.wait())
        .await
        .expect("exits")
        .unwrap();
    assert!(exit.success(), "clean exit after SIGTERM: {exit:?}");
    assert!(!ids.is_empty(), "some requests were answered");

    let server = start(dir.path()).await;
    for id in &ids {
        let resp = http
            .get(format!("{}/v1/requests/{id}", server.base))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "record {id} lost");
    }
    eprintln!("{} answered requests, all recorded", ids.len());
}

/// Sends SIGTERM to the gateway this test started (by its PID).
fn sigterm(server: &Server) {
    signal(server, "-TERM");
}

/// Sends `signal` (`-TERM`, `-KILL`) to the gateway this test started (by its PID).
pub fn signal(server: &Server, signal: &str) {
    let pid = server.child.id().expect("pid");
    let status = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// An upstream that tells the test when a call arrived and answers it only
/// when the test says so.
pub async fn held_upstream() -> (
    std::net::SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<()>,
    std::sync::Arc<tokio::sync::Notify>,
) {
    let (arrived_tx, arrived) = tokio::sync::mpsc::unbounded_channel();
    let release = std::sync::Arc::new(tokio::sync::Notify::new());
    let r = release.clone();
    let router = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move || {
            let (arrived_tx, r) = (arrived_tx.clone(), r.clone());
            async move {
                let _ = arrived_tx.send(());
                r.notified().await;
                axum::Json(json!({"id": "c", "object": "chat.completion", "created": 1,
                    "model": "held", "choices": [{"index": 0, "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "finished"}}],
                    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}))
            }
        }),
    );
    (crate::helpers::serve(router).await, arrived, release)
}

pub fn held_config(upstream: std::net::SocketAddr, grace_s: u64) -> String {
    format!(
        "shutdown_grace_s = {grace_s}\n[[upstreams]]\nname = \"held\"\n\
         base_url = \"http://{upstream}/v1\"\nmodels = [\"held\"]\ntimeout_s = 60\n"
    )
}

pub async fn team_key(http: &reqwest::Client, base: &str) -> String {
    let admin = |path: &str, body: Value| {
        http.post(format!("{base}{path}"))
            .bearer_auth(ADMIN_KEY)
            .json(&body)
            .send()
    };
    admin("/v1/teams", json!({"name": "t"})).await.unwrap();
    let key: Value = admin("/v1/teams/t/keys", json!({}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    key["key"].as_str().unwrap().to_owned()
}

/// Waits until connecting to the gateway is refused; false if it never is.
async fn refuses_connections(base: &str) -> bool {
    let addr = base.trim_start_matches("http://").to_owned();
    for _ in 0..400 {
        if tokio::net::TcpStream::connect(&addr).await.is_err() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

#[tokio::test]
async fn sigterm_lets_the_call_in_flight_finish_and_refuses_new_connections() {
    let dir = tempfile::tempdir().unwrap();
    let (upstream, mut arrived, release) = held_upstream().await;
    let mut server = start_with(dir.path(), Some(&held_config(upstream, 30))).await;
    let http = reqwest::Client::new();
    let key = team_key(&http, &server.base).await;
    let call = tokio::spawn({
        let (http, base, key) = (http.clone(), server.base.clone(), key.clone());
        async move {
            let resp = http
                .post(format!("{base}/v1/chat/completions"))
                .bearer_auth(&key)
                .json(&json!({"model": "held", "messages": [{"role": "user", "content": "x"}]}))
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    });
    arrived.recv().await.expect("the call reached the upstream");
    sigterm(&server);
    assert!(
        refuses_connections(&server.base).await,
        "new connections are refused during the grace period"
    );
    assert!(!call.is_finished(), "the call is still in flight");
    release.notify_waiters();
    let (status, body) = call.await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("finished"), "{body}");
    let exit = tokio::time::timeout(Duration::from_secs(60), server.child.wait())
        .await
        .expect("exits")
        .unwrap();
    assert!(exit.success(), "clean exit after SIGTERM: {exit:?}");
}

#[tokio::test]
async fn calls_still_running_after_the_grace_are_cut_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let (upstream, mut arrived, _never_released) = held_upstream().await;
    let mut server = start_with(dir.path(), Some(&held_config(upstream, 1))).await;
    let http = reqwest::Client::new();
    let key = team_key(&http, &server.base).await;
    let call = tokio::spawn({
        let (http, base, key) = (http.clone(), server.base.clone(), key.clone());
        async move {
            http.post(format!("{base}/v1/chat/completions"))
                .bearer_auth(&key)
                .header("x-request-id", "cut-at-grace-end")
                .json(&json!({"model": "held", "messages": [{"role": "user", "content": "x"}]}))
                .send()
                .await
        }
    });
    arrived.recv().await.expect("the call reached the upstream");
    sigterm(&server);
    let exit = tokio::time::timeout(Duration::from_secs(60), server.child.wait())
        .await
        .expect("exits once the grace is over")
        .unwrap();
    assert!(exit.success(), "clean exit after SIGTERM: {exit:?}");
    assert!(call.await.unwrap().is_err(), "the call was cut");

    let server = start_with(dir.path(), Some(&held_config(upstream, 1))).await;
    let rec: Value = http
        .get(format!("{}/v1/requests/cut-at-grace-end", server.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rec["outcome"], "client_closed", "{rec}");
}
