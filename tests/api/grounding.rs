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
