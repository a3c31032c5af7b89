//! Non-streaming proxy behaviour: routing, pass-through, errors, records.

use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;
use axum::routing::any;
use serde_json::{json, Value};

use crate::helpers::{
    base_config, error_of, http_upstream, mock_upstream, serve, spawn_app, TestDb, ADMIN_KEY,
};

#[tokio::test]
async fn body_passes_through_field_for_field() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let key = app.team_key("t").await;
    let sent = json!({
        "model": "mock-echo",
        "messages": [{"role": "user", "content": "héllo \"quoted\""}],
        "some_future_field": {"nested": [1, 2.5, null, "x"]},
        "logprobs": true, "seed": 7, "service_tier": "flex",
        "metadata": {"user": "u-1", "tags": ["checkout"]},
        "cache": {"ttl": 5}
    });
    let resp = app.post(&key, "/v1/chat/completions", sent.clone()).await;
    assert_eq!(resp.status(), 200);
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = resp.json().await.unwrap();
    let received: Value =
        serde_json::from_str(body["choices"][0]["message"]["content"].as_str().unwrap()).unwrap();
    assert_eq!(received["some_future_field"], sent["some_future_field"]);
    assert_eq!(received["messages"], sent["messages"]);
    assert_eq!(received["seed"], 7);
    assert!(
        received.get("cache").is_none(),
        "extension fields are consumed"
    );
    assert!(
        received.get("metadata").is_none(),
        "promptgate metadata is not forwarded"
    );
    let rec = app.record(&key, &id).await;
    assert_eq!(rec["metadata"]["user"], "u-1");
    assert_eq!(rec["outcome"], "ok");
    assert_eq!(rec["upstream"], "mock");
    assert!(rec["prompt_tokens"].as_i64().unwrap() > 0);
    app.stop().await;
}

#[tokio::test]
async fn client_request_id_is_echoed_and_recorded() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let key = app.team_key("t").await;
    let resp = app
        .http
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .header("x-request-id", "my-trace-123")
        .json(&json!({"model": "mock-1", "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "my-trace-123");
    assert_eq!(app.record(&key, "my-trace-123").await["status"], 200);
    app.stop().await;
}

#[tokio::test]
async fn routes_by_glob_and_prefix_to_an_http_upstream() {
    let db = TestDb::sqlite();
    let upstream = mock_upstream().await;
    let mut config = base_config(db.url());
    config.upstreams = vec![http_upstream("remote", upstream, &["remote-*"], 30)];
    let app = spawn_app(config).await;
    let key = app.team_key("t").await;
    // "remote/mock-echo": the prefix picks the upstream and is removed from the name.
    let resp = app.chat(&key, "remote/mock-echo").await;
    assert_eq!(resp.status(), 200);
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = resp.json().await.unwrap();
    let received: Value =
        serde_json::from_str(body["choices"][0]["message"]["content"].as_str().unwrap()).unwrap();
    assert_eq!(received["model"], "mock-echo");
    assert_eq!(app.record(&key, &id).await["upstream"], "remote");
    // Built-in mock still serves mock-*.
    assert_eq!(app.chat(&key, "mock-1").await.status(), 200);
    app.stop().await;
}

type Seen = Arc<Mutex<Vec<(String, String, HeaderMap, String)>>>;

/// An upstream that records what it was sent and answers 200 `{}`.
async fn capture_upstream() -> (std::net::SocketAddr, Seen) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let router = axum::Router::new().fallback(any(
        move |method: axum::http::Method,
              uri: axum::http::Uri,
              headers: HeaderMap,
              body: String| {
            let s = s.clone();
            async move {
                s.lock()
                    .unwrap()
                    .push((method.to_string(), uri.to_string(), headers, body));
                axum::Json(json!({"object": "list", "data": [], "ok": true}))
            }
        },
    ));
    (serve(router).await, seen)
}

#[tokio::test]
async fn upstream_credential_is_substituted_and_other_paths_pass_through() {
    let db = TestDb::sqlite();
    let (addr, seen) = capture_upstream().await;
    let var = format!("PG_TEST_UPSTREAM_KEY_{}", uuid::Uuid::new_v4().simple());
    std::env::set_var(&var, "sk-upstream-secret");
    let mut config = base_config(db.url());
    let mut up = http_upstream("vendor", addr, &["*"], 30);
    up.api_key_env = Some(var);
    config.upstreams = vec![up];
    let app = spawn_app(config).await;
    let key = app.team_key("t").await;

    let resp = app
        .http
        .get(app.url("/v1/files?purpose=batch&limit=2"))
        .bearer_auth(&key)
        .header("openai-beta", "assistants=v2")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let del = app
        .http
        .delete(app.url("/v1/chat/completions/abc"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 200);
    let chat = app.chat(&key, "gpt-4o-mini").await;
    assert_eq!(chat.status(), 200);
    let text = chat.text().await.unwrap();
    assert!(!text.contains("sk-upstream-secret"));

    let seen = seen.lock().unwrap().clone();
    let (method, uri, headers, _) = &seen[0];
    assert_eq!(
        (method.as_str(), uri.as_str()),
        ("GET", "/v1/files?purpose=batch&limit=2")
    );
    assert_eq!(headers["authorization"], "Bearer sk-upstream-secret");
    assert_eq!(headers["openai-beta"], "assistants=v2");
    assert_eq!(seen[1].0, "DELETE");
    assert_eq!(seen[1].1, "/v1/chat/completions/abc");
    for (_, _, h, _) in seen.iter() {
        let all = format!("{h:?}");
        assert!(
            !all.contains(&key),
            "the client's key never reaches the upstream"
        );
    }
    // Passthrough without a valid key is refused before reaching the upstream.
    let anon = app.http.get(app.url("/v1/files")).send().await.unwrap();
    assert_eq!(anon.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn client_mistakes_are_4xx_with_the_field_named() {
    let db = TestDb::sqlite();
    let mut config = base_config(db.url());
    config.limits.max_body_bytes = 4096;
    let app = spawn_app(config).await;
    let key = app.team_key("t").await;
    let raw = |body: &'static str| {
        app.http
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let cases: Vec<(&str, u16, Option<&str>)> = vec![
        ("{\"model\": ", 400, None),
        ("[1,2,3]", 400, None),
        (
            "{\"messages\": [{\"role\":\"user\",\"content\":\"x\"}]}",
            400,
            Some("model"),
        ),
        ("{\"model\": 5, \"messages\": []}", 400, Some("model")),
        (
            "{\"model\": \"mock-1\", \"messages\": []}",
            400,
            Some("messages"),
        ),
        ("{\"model\": \"mock-1\"}", 400, Some("messages")),
        (
            "{\"model\": \"mock-1\", \"messages\": \"hi\"}",
            400,
            Some("messages"),
        ),
        (
            "{\"model\": \"mock-1\", \"stream\": \"yes\", \"messages\": [{}]}",
            400,
            Some("stream"),
        ),
        (
            "{\"model\": \"gpt-nope\", \"messages\": [{}]}",
            404,
            Some("model"),
        ),
    ];
    for (body, status, param) in cases {
        let resp = raw(body).await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "{body}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(error_of(&v).1, param, "{body}: {v}");
        assert!(v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    let big = "x".repeat(10_000);
    let resp = app
        .post(
            &key,
            "/v1/chat/completions",
            json!({"model": "mock-1", "messages": [{"role": "user", "content": big}]}),
        )
        .await;
    assert_eq!(resp.status(), 413);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(error_of(&v).0, "invalid_request_error");
    let nf: Value = app.chat(&key, "gpt-nope").await.json().await.unwrap();
    assert_eq!(error_of(&nf).2, Some("model_not_found"));
    app.stop().await;
}

#[tokio::test]
async fn upstream_failures_map_to_502_504_and_4xx_pass_through() {
    let db = TestDb::sqlite();
    let mut config = base_config(db.url());
    config.upstreams = vec![
        promptgate::config::UpstreamConfig {
            name: "mock".into(),
            base_url: None,
            api_key_env: None,
            kind: Default::default(),
            models: vec!["mock-*".into()],
            timeout_s: 1,
            retry: None,
            cooldown: None,
        },
        http_upstream("down", "127.0.0.1:9".parse().unwrap(), &["down-*"], 5),
    ];
    let app = spawn_app(config).await;
    let key = app.team_key("t").await;

    let check = |status: u16, kind: &'static str| {
        move |resp: reqwest::Response| async move {
            assert_eq!(resp.status().as_u16(), status);
            let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
            let v: Value = resp.json().await.unwrap();
            assert_eq!(error_of(&v).0, kind, "{v}");
            id
        }
    };
    let id500 = check(502, "upstream_error")(app.chat(&key, "mock-error-500").await).await;
    let id429 = check(429, "invalid_request_error")(app.chat(&key, "mock-error-429").await).await;
    let id_down = check(502, "upstream_error")(app.chat(&key, "down-1").await).await;
    let id_hang = check(504, "upstream_error")(app.chat(&key, "mock-hang").await).await;
    let id401 = {
        let resp = app.chat(&key, "mock-error-401").await;
        assert_eq!(
            resp.status(),
            502,
            "the upstream refusing our credential is not the client's 401"
        );
        resp.headers()["x-request-id"].to_str().unwrap().to_owned()
    };
    assert_eq!(app.record(&key, &id500).await["outcome"], "upstream_error");
    assert_eq!(app.record(&key, &id429).await["status"], 429);
    assert_eq!(
        app.record(&key, &id_down).await["outcome"],
        "upstream_error"
    );
    assert_eq!(app.record(&key, &id_hang).await["outcome"], "timeout");
    assert_eq!(app.record(&key, &id401).await["status"], 502);
    // mock-flaky alternates: the first fails, the second succeeds.
    assert_eq!(app.chat(&key, "mock-flaky").await.status(), 502);
    assert_eq!(app.chat(&key, "mock-flaky").await.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn other_endpoints_and_models() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let key = app.team_key("t").await;
    let emb = app
        .post(
            &key,
            "/v1/embeddings",
            json!({"model": "mock-embedding", "input": ["a", "b"], "dimensions": 16}),
        )
        .await;
    assert_eq!(emb.status(), 200);
    let id = emb.headers()["x-request-id"].to_str().unwrap().to_owned();
    let v: Value = emb.json().await.unwrap();
    assert_eq!(v["data"][1]["embedding"].as_array().unwrap().len(), 16);
    assert_eq!(app.record(&key, &id).await["endpoint"], "embeddings");
    let cmp = app
        .post(
            &key,
            "/v1/completions",
            json!({"model": "mock-1", "prompt": "say hi", "max_tokens": 3}),
        )
        .await;
    let v: Value = cmp.json().await.unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    let resp = app
        .post(
            &key,
            "/v1/responses",
            json!({"model": "mock-1", "input": "hi"}),
        )
        .await;
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "response");
    let rec = app.record(&key, &id).await;
    assert_eq!(rec["prompt_tokens"], v["usage"]["input_tokens"]);
    assert_eq!(rec["completion_tokens"], v["usage"]["output_tokens"]);
    let models: Value = app.get(&key, "/v1/models").await.json().await.unwrap();
    assert!(models["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["id"] == "mock-1"));
    assert_eq!(app.get(&key, "/v1/models/mock-1").await.status(), 200);
    assert_eq!(app.get(&key, "/v1/models/gpt-unknown").await.status(), 404);
    // The admin key may call models too; its records go to the admin pseudo-team.
    assert_eq!(app.chat(ADMIN_KEY, "mock-1").await.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn aliases_route_to_their_target_and_are_listed() {
    let db = TestDb::sqlite();
    let mut config = base_config(db.url());
    config.aliases.insert("fast".into(), "mock-echo".into());
    let app = spawn_app(config).await;
    let key = app.team_key("t").await;
    let resp = app.chat(&key, "fast").await;
    assert_eq!(resp.status(), 200);
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = resp.json().await.unwrap();
    let received: Value =
        serde_json::from_str(body["choices"][0]["message"]["content"].as_str().unwrap()).unwrap();
    assert_eq!(
        received["model"], "mock-echo",
        "the upstream sees the target"
    );
    assert_eq!(app.record(&key, &id).await["model"], "mock-echo");
    let models: Value = app.get(&key, "/v1/models").await.json().await.unwrap();
    assert!(models["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["id"] == "fast"));
    assert_eq!(app.get(&key, "/v1/models/fast").await.status(), 200);
    app.stop().await;
}

#[test]
fn aliases_are_validated() {
    let mut config = promptgate::Config::default();
    config.aliases.insert("a".into(), "a".into());
    let err = config.validate().unwrap_err().to_string();
    assert!(err.contains("aliases.a"), "{err}");
}

/// The Responses API accepts a call without `model` (a stored prompt names
/// it): it goes to the catch-all upstream byte for byte, and the record is
/// priced by the model the answer names.
#[tokio::test]
async fn model_less_responses_call_goes_to_the_catch_all_upstream_unchanged() {
    let db = TestDb::sqlite();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let s = seen.clone();
    let router = axum::Router::new().route(
        "/v1/responses",
        axum::routing::post(move |body: String| {
            let s = s.clone();
            async move {
                s.lock().unwrap().push(body);
                axum::Json(json!({
                    "id": "resp_1", "object": "response", "status": "completed",
                    "model": "gpt-4o-mini", "output": [],
                    "usage": {"input_tokens": 1000, "output_tokens": 500, "total_tokens": 1500}
                }))
            }
        }),
    );
    let addr = serve(router).await;
    let mut config = base_config(db.url());
    config.upstreams = vec![http_upstream("vendor", addr, &["*"], 30)];
    let app = spawn_app(config).await;
    let key = app.team_key("t").await;

    let sent = r#"{"prompt": {"id": "pmpt_abc", "version": "2", "variables": {"city": "Oslo"}}, "input": "hi"}"#;
    let resp = app
        .http
        .post(app.url("/v1/responses"))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body(sent)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(seen.lock().unwrap().as_slice(), [sent.to_owned()]);
    let rec = app.record(&key, &id).await;
    assert_eq!(rec["model"], "gpt-4o-mini", "{rec}");
    assert_eq!(rec["upstream"], "vendor");
    assert!(rec["cost_usd"].as_str().is_some_and(|c| c != "0"), "{rec}");

    // Other endpoints still need a model.
    let chat = app
        .post(
            &key,
            "/v1/chat/completions",
            json!({"messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(chat.status(), 400);
    let err: Value = chat.json().await.unwrap();
    assert_eq!(err["error"]["param"], "model");
    app.stop().await;
}

/// Without a catch-all upstream a model-less Responses call is a 400 naming `model`.
#[tokio::test]
async fn model_less_responses_call_without_a_catch_all_is_400() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let key = app.team_key("t").await;
    let resp = app
        .post(&key, "/v1/responses", json!({"input": "hi"}))
        .await;
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["param"], "model");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("catch-all"),
        "{err}"
    );
    app.stop().await;
}

#[tokio::test]
async fn oversized_body_gets_its_413_not_a_connection_reset() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let key = app.team_key("t").await;
    // 64 MiB against the default 32 MiB limit, sent the way most clients
    // send: the whole body first, then the answer is read. A gateway that
    // closes while the body is still arriving resets the connection.
    let piece = vec![b' '; 1 << 20];
    for chunked in [false, true] {
        let mut tcp = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        let framing = if chunked {
            "transfer-encoding: chunked".to_owned()
        } else {
            format!("content-length: {}", 64 * piece.len())
        };
        let head = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {key}\r\n\
             content-type: application/json\r\nconnection: close\r\n{framing}\r\n\r\n"
        );
        let sent = async {
            tcp.write_all(head.as_bytes()).await?;
            for _ in 0..64 {
                if chunked {
                    tcp.write_all(format!("{:x}\r\n", piece.len()).as_bytes())
                        .await?;
                }
                tcp.write_all(&piece).await?;
                if chunked {
                    tcp.write_all(b"\r\n").await?;
                }
            }
            if chunked {
                tcp.write_all(b"0\r\n\r\n").await?;
            }
            let mut answer = Vec::new();
            tcp.read_to_end(&mut answer).await?;
            Ok::<_, std::io::Error>(answer)
        };
        let answer = tokio::time::timeout(std::time::Duration::from_secs(60), sent)
            .await
            .expect("no hang")
            .unwrap_or_else(|e| panic!("413 expected (chunked: {chunked}), got {e:?}"));
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        assert!(answer.contains("request_too_large"), "{answer}");
    }
    app.stop().await;
}
