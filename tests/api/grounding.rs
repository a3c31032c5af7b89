//! `POST /v1/grounding/score` over HTTP.

use serde_json::{json, Value};

use crate::helpers::{base_config, error_of, spawn_app, TestDb};

#[tokio::test]
async fn scores_supported_and_unsupported_answers() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let key = app.team_key("t").await;
    let context = ["The Eiffel Tower is 330 metres tall and stands in Paris. It opened in 1889."];
    let good: Value = app
        .post(
            &key,
            "/v1/grounding/score",
            json!({"context": context, "answer": "The Eiffel Tower opened in 1889."}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(good["flagged"], false, "{good}");
    let bad: Value = app
        .post(
            &key,
            "/v1/grounding/score",
            json!({"context": context, "answer": "The Eiffel Tower opened in 1925 in Berlin."}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(bad["flagged"], true, "{bad}");
    assert!(bad["score"].as_f64().unwrap() < good["score"].as_f64().unwrap());
    let claim = &bad["claims"][0];
    assert!(claim["reasons"].as_array().is_some_and(|r| !r.is_empty()));
    assert!(claim["evidence"].as_str().is_some());

    let missing = app
        .post(&key, "/v1/grounding/score", json!({"context": context}))
        .await;
    assert_eq!(missing.status(), 400);
    let v: Value = missing.json().await.unwrap();
    assert_eq!(error_of(&v).1, Some("answer"));
    let empty = app
        .post(
            &key,
            "/v1/grounding/score",
            json!({"context": [], "answer": "x"}),
        )
        .await;
    assert_eq!(empty.status(), 400);
    assert_eq!(
        app.post(
            "pg-bad",
            "/v1/grounding/score",
            json!({"context": "x", "answer": "x"})
        )
        .await
        .status(),
        401
    );
    app.stop().await;
}

const CONTEXT: &str = "The Eiffel Tower is 330 metres tall and stands in Paris. It opened in 1889.";

async fn chat_with_context(
    app: &crate::helpers::TestApp,
    key: &str,
    answer: &str,
    stream: bool,
) -> reqwest::Response {
    app.post(
        key,
        "/v1/chat/completions",
        json!({"model": "mock-repeat", "stream": stream,
               "messages": [{"role": "user", "content": answer}],
               "grounding": {"context": [CONTEXT]}}),
    )
    .await
}

#[tokio::test]
async fn inline_scores_non_stream_answers_with_headers_and_records() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let key = app.team_key("t").await;
    let good = chat_with_context(&app, &key, "The Eiffel Tower opened in 1889.", false).await;
    assert_eq!(good.headers()["x-promptgate-flagged"], "false");
    let header = |r: &reqwest::Response| -> f64 {
        r.headers()["x-promptgate-grounding"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let good_score = header(&good);
    assert!((0.0..=1.0).contains(&good_score));
    let good_id = good.headers()["x-request-id"].to_str().unwrap().to_owned();

    let bad = chat_with_context(
        &app,
        &key,
        "The Eiffel Tower opened in 1925 in Berlin.",
        false,
    )
    .await;
    assert_eq!(bad.headers()["x-promptgate-flagged"], "true");
    assert!(header(&bad) < good_score);
    let bad_id = bad.headers()["x-request-id"].to_str().unwrap().to_owned();
    let rec = app.record(&key, &bad_id).await;
    assert_eq!(rec["flagged"], true);
    assert!(rec["grounding"]["claims"]
        .as_array()
        .is_some_and(|c| !c.is_empty()));

    // No context, no scoring.
    let plain = app.chat(&key, "mock-1").await;
    assert!(plain.headers().get("x-promptgate-grounding").is_none());

    // ?flagged=true lists the flagged answer only, for this team only.
    app.record(&key, &good_id).await;
    let flagged: Value = app
        .get(&key, "/v1/requests?flagged=true")
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = flagged["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![bad_id.as_str()]);
    let other = app.team_key("other").await;
    let theirs: Value = app
        .get(&other, "/v1/requests?flagged=true")
        .await
        .json()
        .await
        .unwrap();
    assert!(theirs["data"].as_array().unwrap().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn inline_scores_streams_in_a_comment_before_done() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let key = app.team_key("t").await;
    let resp = chat_with_context(
        &app,
        &key,
        "The Eiffel Tower opened in 1925 in Berlin.",
        true,
    )
    .await;
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let text = resp.text().await.unwrap();
    let comment = text
        .split("\n\n")
        .find_map(|e| e.strip_prefix(": promptgate "))
        .expect("facts comment");
    let facts: Value = serde_json::from_str(comment).unwrap();
    assert_eq!(facts["grounding"]["flagged"], true);
    let done_at = text.find("data: [DONE]").unwrap();
    assert!(text.find(": promptgate ").unwrap() < done_at);
    assert_eq!(app.record(&key, &id).await["flagged"], true);
    app.stop().await;
}

#[tokio::test]
async fn mode_off_and_bad_fields() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let key = app.team_key("t").await;
    let off = app
        .post(
            &key,
            "/v1/chat/completions",
            json!({"model": "mock-repeat", "messages": [{"role": "user", "content": "x"}],
            "grounding": {"context": [CONTEXT], "mode": "off"}}),
        )
        .await;
    assert!(off.headers().get("x-promptgate-grounding").is_none());
    let bad = app
        .post(
            &key,
            "/v1/chat/completions",
            json!({"model": "mock-repeat", "messages": [{"role": "user", "content": "x"}],
            "grounding": {"context": 5}}),
        )
        .await;
    assert_eq!(bad.status(), 400);
    let v: Value = bad.json().await.unwrap();
    assert_eq!(error_of(&v).1, Some("grounding.context"));
    app.stop().await;
}

async fn chat_with_threshold(
    app: &crate::helpers::TestApp,
    key: &str,
    answer: &str,
    threshold: Value,
) -> reqwest::Response {
    app.post(
        key,
        "/v1/chat/completions",
        json!({"model": "mock-repeat",
               "messages": [{"role": "user", "content": answer}],
               "grounding": {"context": [CONTEXT], "threshold": threshold}}),
    )
    .await
}

#[tokio::test]
async fn request_threshold_overrides_the_configured_one() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let key = app.team_key("t").await;
    let good = "The Eiffel Tower opened in 1889.";
    let bad = "The Eiffel Tower opened in 1925 in Berlin.";
    // default threshold: the good answer passes, the bad one is flagged
    assert_eq!(
        chat_with_context(&app, &key, good, false).await.headers()["x-promptgate-flagged"],
        "false"
    );
    // 0.99: even the supported answer (a probability below 1) is flagged
    let strict = chat_with_threshold(&app, &key, good, json!(0.99)).await;
    assert_eq!(strict.headers()["x-promptgate-flagged"], "true");
    let id = strict.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let rec = app.record(&key, &id).await;
    assert_eq!(rec["grounding"]["threshold"], 0.99);
    // 0: nothing is flagged
    let lax = chat_with_threshold(&app, &key, bad, json!(0)).await;
    assert_eq!(lax.headers()["x-promptgate-flagged"], "false");

    for wrong in [json!(1.5), json!(-0.1), json!("0.6")] {
        let resp = chat_with_threshold(&app, &key, good, wrong.clone()).await;
        assert_eq!(resp.status(), 400, "{wrong}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(error_of(&v).0, "invalid_request_error", "{v}");
        assert_eq!(error_of(&v).1, Some("grounding.threshold"), "{v}");
    }

    // the scoring endpoint takes the same override
    let scored: Value = app
        .post(
            &key,
            "/v1/grounding/score",
            json!({"context": [CONTEXT], "answer": good, "threshold": 0.99}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(scored["flagged"], true, "{scored}");
    assert_eq!(scored["threshold"], 0.99);
    let wrong = app
        .post(
            &key,
            "/v1/grounding/score",
            json!({"context": [CONTEXT], "answer": good, "threshold": 2}),
        )
        .await;
    assert_eq!(wrong.status(), 400);
    let v: Value = wrong.json().await.unwrap();
    assert_eq!(error_of(&v).1, Some("threshold"), "{v}");
    app.stop().await;
}

#[tokio::test]
async fn configured_threshold_applies() {
    let db = TestDb::sqlite();
    let mut config = base_config(db.url());
    config.grounding.threshold = Some(0.99);
    let app = spawn_app(config).await;
    let key = app.team_key("t").await;
    let resp = chat_with_context(&app, &key, "The Eiffel Tower opened in 1889.", false).await;
    assert_eq!(resp.headers()["x-promptgate-flagged"], "true");
    let scored: Value = app
        .post(
            &key,
            "/v1/grounding/score",
            json!({"context": [CONTEXT], "answer": "The Eiffel Tower opened in 1889."}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(scored["threshold"], 0.99);
    app.stop().await;
}

/// Regression: striking a secret variable's value from the stored report was
/// not enough, the fast tier's reasons quote the answer's words one by one
/// ("words not in context: …"). The answer is now scored with the value
/// struck, so no word of it is left.
#[tokio::test]
async fn a_secret_repeated_by_the_answer_leaves_no_word_in_the_grounding_reasons() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let key = app.team_key("vault").await;
    let prompt = json!({"type": "chat",
        "messages": [{"role": "user", "content": "Log in with {{token}}."}],
        "variables_schema": {"token": {"type": "string", "secret": true}},
        "labels": ["production"]});
    let made = app
        .post(
            crate::helpers::ADMIN_KEY,
            "/v1/prompts/vault/versions",
            prompt,
        )
        .await;
    assert_eq!(made.status(), 201);
    let body = json!({"model": "mock-echo",
        "prompt": {"id": "vault", "variables": {"token": "zq81-wxv55-pebble"}},
        "grounding": {"context": ["Logins need a token."]}});
    let resp = app.post(&key, "/v1/chat/completions", body).await;
    assert_eq!(resp.status(), 200);
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(
        resp.text().await.unwrap().contains("wxv55"),
        "the echo repeats it"
    );
    let record = app.record(&key, &id).await;
    assert!(record["grounding"]["claims"].is_array(), "{record}");
    let text = record.to_string();
    for word in ["zq81", "wxv55", "pebble"] {
        assert!(!text.contains(word), "the record keeps {word}: {text}");
    }
    app.stop().await;
}
