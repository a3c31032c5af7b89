//! Upstreams that misbehave after their status line: a body that trickles
//! in past the timeout, a 200 that is not JSON (or not an event stream).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::response::Response;
use serde_json::{json, Value};

use crate::helpers::{base_config, error_of, http_upstream, serve, spawn_app, TestApp, TestDb};

/// Guards against a hang turning into a stuck test: a bound on how long a
/// step may take, not a performance assertion.
const HANG_GUARD: Duration = Duration::from_secs(20);

/// How a scripted upstream answers.
pub type Script = fn() -> Response;

/// An upstream whose every answer is `make()`.
async fn scripted(make: Script) -> std::net::SocketAddr {
    serve(axum::Router::new().fallback(move || async move { make() })).await
}

/// When each request reached a scripted upstream.
pub type Arrivals = Arc<Mutex<Vec<Instant>>>;

/// An upstream that answers its n-th request with `steps[n]` (the last step
/// repeats), and notes when each arrived.
pub async fn sequence(steps: Vec<Script>) -> (std::net::SocketAddr, Arrivals) {
    let arrivals: Arrivals = Arc::default();
    let seen = arrivals.clone();
    let router = axum::Router::new().fallback(move || {
        let seen = seen.clone();
        let steps = steps.clone();
        async move {
            let n = {
                let mut seen = seen.lock().unwrap();
                seen.push(Instant::now());
                seen.len() - 1
            };
            steps[n.min(steps.len() - 1)]()
        }
    });
    (serve(router).await, arrivals)
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

const HTML: &str = "<!DOCTYPE html><html><body>SECRET-PAGE 502 Bad Gateway</body></html>";

fn html_page() -> Response {
    Response::builder()
        .header("content-type", "text/html")
        .body(Body::from(HTML))
        .unwrap()
}

fn not_json() -> Response {
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from("SECRET-PAGE ok"))
        .unwrap()
}

/// Says it is an event stream; sends an HTML page.
fn html_as_event_stream() -> Response {
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from(HTML.replace("><", ">\n\n<")))
        .unwrap()
}

/// Says it is an event stream; sends nothing, and stays open.
fn silent_event_stream() -> Response {
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(futures_util::stream::pending::<
            Result<Bytes, std::io::Error>,
        >()))
        .unwrap()
}

/// A 502 `upstream_error` without the upstream's bytes; its record says why.
async fn assert_bad_gateway(app: &TestApp, key: &str, resp: reqwest::Response, what: &str) {
    assert_eq!(resp.status(), 502, "{what}");
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let text = resp.text().await.unwrap();
    assert!(!text.contains("SECRET-PAGE"), "{what}: {text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(error_of(&body).0, "upstream_error", "{what}: {body}");
    let rec = app.record(key, &id).await;
    assert_eq!(rec["outcome"], "upstream_error", "{what}");
    assert_eq!(rec["status"], 502, "{what}");
    let why = rec["error"].as_str().unwrap();
    assert!(
        why.contains("not JSON") || why.contains("not an event stream"),
        "{what}: {why}"
    );
}

#[tokio::test]
async fn html_or_non_json_200_is_a_502_not_relayed() {
    let cases: [(Script, bool, &str); 5] = [
        (html_page, false, "HTML page"),
        (html_page, true, "HTML page to a stream"),
        (not_json, false, "not JSON"),
        (not_json, true, "not JSON to a stream"),
        (
            html_as_event_stream,
            true,
            "HTML labelled text/event-stream",
        ),
    ];
    for (make, stream, what) in cases {
        let (_db, app, key) = app_with(scripted(make).await, 5).await;
        let resp = call(&app, &key, stream).await;
        assert_bad_gateway(&app, &key, resp, what).await;
        app.stop().await;
    }
}

#[tokio::test]
async fn stream_without_a_first_event_is_a_504_before_the_head() {
    let (_db, app, key) = app_with(scripted(silent_event_stream).await, 1).await;
    let resp = call(&app, &key, true).await;
    assert_eq!(resp.status(), 504);
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        error_of(&body),
        ("upstream_error", None, Some("upstream_timeout"))
    );
    assert_eq!(app.record(&key, &id).await["outcome"], "timeout");
    app.stop().await;
}
