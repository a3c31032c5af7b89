//! Upstreams that misbehave after their status line: a body that trickles
//! in past the timeout, a 200 that is not JSON (or not an event stream).

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::response::Response;
use serde_json::{json, Value};

use crate::helpers::{base_config, error_of, http_upstream, serve, spawn_app, TestApp, TestDb};

/// Guards against a hang turning into a stuck test: a bound on how long a
/// step may take, not a performance assertion.
const HANG_GUARD: Duration = Duration::from_secs(20);

/// An upstream whose every answer is `make()`.
async fn scripted(make: fn() -> Response) -> std::net::SocketAddr {
    serve(axum::Router::new().fallback(move || async move { make() })).await
}

async fn app_with(upstream: std::net::SocketAddr, timeout_s: u64) -> (TestDb, TestApp, String) {
    let db = TestDb::sqlite();
    let mut config = base_config(db.url());
    config.upstreams = vec![http_upstream("scripted", upstream, &["s"], timeout_s)];
    let app = spawn_app(config).await;
    let key = app.team_key("t").await;
    (db, app, key)
}

async fn call(app: &TestApp, key: &str, stream: bool) -> reqwest::Response {
    let body =
        json!({"model": "s", "stream": stream, "messages": [{"role": "user", "content": "x"}]});
    tokio::time::timeout(HANG_GUARD, app.post(key, "/v1/chat/completions", body))
        .await
        .expect("the gateway answers")
}

/// Headers at once, then one byte of a JSON body every 100 ms, forever.
fn trickle() -> Response {
    let bytes = futures_util::stream::unfold((), |()| async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        Some((Ok::<_, std::io::Error>(Bytes::from_static(b" ")), ()))
    });
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from_stream(bytes))
        .unwrap()
}

#[tokio::test]
async fn trickling_body_is_cut_at_the_total_deadline_with_504() {
    let (_db, app, key) = app_with(scripted(trickle).await, 1).await;
    let resp = call(&app, &key, false).await;
    assert_eq!(resp.status(), 504);
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = tokio::time::timeout(HANG_GUARD, resp.json())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        error_of(&body),
        ("upstream_error", None, Some("upstream_timeout"))
    );
    assert_eq!(app.record(&key, &id).await["outcome"], "timeout");
    app.stop().await;
}
