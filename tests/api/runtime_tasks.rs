//! The `promptgate_tokio_alive_tasks` gauge: it counts the runtime's tasks
//! when `/metrics` is scraped, and the tasks of calls whose client hung up go
//! away (what `scripts/soak` watches over an hour).

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;

use crate::helpers::{base_config, counter, spawn_app, TestApp, TestDb};

/// A bound on how long the cut calls may take to be cleaned up, so that a leak
/// fails the test instead of hanging it; not a performance assertion.
const HANG_GUARD: Duration = Duration::from_secs(20);
const TASKS: &str = "promptgate_tokio_alive_tasks";

async fn alive_tasks(app: &TestApp) -> f64 {
    counter(&app.metrics().await, TASKS)
}

/// Opens a slow stream on a connection of its own, reads its first event and
/// hangs up: the client that goes away mid-stream.
async fn cut_stream(app: &TestApp, key: &str) {
    let client = reqwest::Client::new();
    let resp = client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": "mock-slow", "stream": true,
                      "messages": [{"role": "user", "content": "hello"}]}))
        .send()
        .await
        .expect("stream");
    assert_eq!(resp.status(), 200);
    let mut body = resp.bytes_stream();
    let first = tokio::time::timeout(HANG_GUARD, body.next())
        .await
        .expect("first event")
        .expect("a chunk")
        .expect("chunk ok");
    assert!(first.starts_with(b"data: "), "{first:?}");
}

#[tokio::test]
async fn tasks_of_cut_streams_do_not_outlive_them() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let key = app.team_key("t").await;
    app.chat(&key, "mock-1").await;
    // The scrape runs inside the gateway, on a connection task of its own.
    let before = alive_tasks(&app).await;
    assert!(before >= 1.0, "{TASKS} = {before}");

    // Held open, the streams' connections are tasks the gauge counts.
    let client = reqwest::Client::new();
    let mut open = Vec::new();
    for _ in 0..5 {
        let resp = client
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(&key)
            .json(&json!({"model": "mock-slow", "stream": true,
                          "messages": [{"role": "user", "content": "hello"}]}))
            .send()
            .await
            .expect("stream");
        assert_eq!(resp.status(), 200);
        open.push(resp);
    }
    let during = alive_tasks(&app).await;
    assert!(
        during >= before + 5.0,
        "before {before}, with 5 open streams {during}"
    );
    drop(open);
    drop(client);

    for _ in 0..20 {
        cut_stream(&app, &key).await;
    }
    let settled = tokio::time::timeout(HANG_GUARD, async {
        loop {
            let now = alive_tasks(&app).await;
            if now <= before {
                return now;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        settled.is_ok(),
        "tasks after 25 cut streams stayed above {before}: {}",
        alive_tasks(&app).await
    );
    app.stop().await;
}
