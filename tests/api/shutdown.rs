//! SIGTERM under load: every request that was answered keeps its record.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::ADMIN_KEY;

struct Server {
    child: tokio::process::Child,
    base: String,
}

async fn start(dir: &std::path::Path) -> Server {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_promptgate"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(dir)
        .env("PROMPTGATE_ADMIN_KEY", ADMIN_KEY)
        .env(
            "PROMPTGATE__STORE__URL",
            format!("sqlite://{}", dir.join("pg.db").display()),
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start promptgate");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            return Server { child, base };
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("promptgate did not start");
}

#[tokio::test]
async fn sigterm_under_load_loses_no_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path()).await;
    let http = reqwest::Client::new();
    let base = server.base.clone();
    http.post(format!("{base}/v1/teams"))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({"name": "t"}))
        .send()
        .await
        .unwrap();
    let key: Value = http
        .post(format!("{base}/v1/teams/t/keys"))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = key["key"].as_str().unwrap().to_owned();

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
    let pid = server.child.id().expect("pid");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
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
