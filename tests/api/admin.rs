//! Teams, keys, permissions and team isolation over HTTP.

use serde_json::{json, Value};

use crate::helpers::{base_config, error_of, spawn_app, Backend, TestDb, ADMIN_KEY};

#[tokio::test]
async fn keys_are_shown_once_and_stored_hashed() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let key = app.team_key("search").await;
    assert!(
        key.starts_with("pg-") && key.len() >= 3 + 32,
        "at least 128 bits"
    );
    let list: Value = app
        .get(ADMIN_KEY, "/v1/teams/search/keys")
        .await
        .json()
        .await
        .unwrap();
    let shown = list.to_string();
    assert!(!shown.contains(&key), "listing never shows the key");
    let rows = app.state.store.active_keys().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_ne!(rows[0].key_hash, key);
    assert_eq!(rows[0].key_hash, promptgate::auth::hash_key(&key));
    app.stop().await;
}

#[tokio::test]
async fn unknown_and_revoked_keys_get_401() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let resp = app.chat("pg-nonsense", "mock-1").await;
    assert_eq!(resp.status(), 401);
    assert!(
        resp.headers().contains_key("x-request-id"),
        "refused calls carry a request id too"
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(error_of(&body).2, Some("invalid_api_key"));
    let no_header = app.http.get(app.url("/v1/models")).send().await.unwrap();
    assert_eq!(no_header.status(), 401);

    let key = app.team_key("t1").await;
    assert_eq!(app.chat(&key, "mock-1").await.status(), 200);
    // x-api-key works as well as Authorization.
    let via_header = app
        .http
        .get(app.url("/v1/models"))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(via_header.status(), 200);
    let id = app.state.store.active_keys().await.unwrap()[0].id.clone();
    let del = app
        .http
        .delete(app.url(&format!("/v1/keys/{id}")))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 200);
    assert_eq!(
        app.chat(&key, "mock-1").await.status(),
        401,
        "revocation is immediate on this replica"
    );
    let again = app
        .http
        .delete(app.url(&format!("/v1/keys/{id}")))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200, "revoking twice is idempotent");
    let missing = app
        .http
        .delete(app.url("/v1/keys/key_missing"))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn team_keys_cannot_use_admin_endpoints() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let key = app.team_key("t1").await;
    let resp = app.post(&key, "/v1/teams", json!({"name": "evil"})).await;
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(error_of(&body).2, Some("permission_denied"));
    assert_eq!(
        app.post(&key, "/v1/teams/t1/keys", json!({}))
            .await
            .status(),
        403
    );
    assert_eq!(app.get(&key, "/v1/teams").await.status(), 403);
    app.stop().await;
}

#[tokio::test]
async fn team_input_is_validated() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let bad = app
        .post(ADMIN_KEY, "/v1/teams", json!({"name": "Has Spaces"}))
        .await;
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(error_of(&body).1, Some("name"));
    let missing = app.post(ADMIN_KEY, "/v1/teams", json!({})).await;
    assert_eq!(missing.status(), 400);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(error_of(&body).1, Some("name"));
    app.team_key("dup").await;
    assert_eq!(
        app.post(ADMIN_KEY, "/v1/teams", json!({"name": "dup"}))
            .await
            .status(),
        409
    );
    assert_eq!(
        app.post(ADMIN_KEY, "/v1/teams/ghost/keys", json!({}))
            .await
            .status(),
        404
    );
    app.stop().await;
}

async fn records_are_team_scoped_on(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let app = spawn_app(base_config(db.url())).await;
    let a = app.team_key("team-a").await;
    let b = app.team_key("team-b").await;
    let resp = app.chat(&a, "mock-1").await;
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let rec = app.record(&a, &id).await;
    assert_eq!(rec["team"], "team-a");
    assert_eq!(
        app.get(&b, &format!("/v1/requests/{id}")).await.status(),
        404,
        "another team's record is not found"
    );
    let admin = app.get(ADMIN_KEY, &format!("/v1/requests/{id}")).await;
    assert_eq!(admin.status(), 200);
    let list_b: Value = app.get(&b, "/v1/requests").await.json().await.unwrap();
    assert!(list_b["data"].as_array().unwrap().is_empty());
    assert_eq!(app.get(&b, "/v1/requests?team=team-a").await.status(), 404);
    let list_a: Value = app.get(&a, "/v1/requests").await.json().await.unwrap();
    assert_eq!(list_a["data"].as_array().unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn records_are_team_scoped_sqlite() {
    records_are_team_scoped_on(Backend::Sqlite).await;
}

#[tokio::test]
async fn records_are_team_scoped_postgres() {
    records_are_team_scoped_on(Backend::Postgres).await;
}

#[tokio::test]
async fn ops_endpoints() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let ready: Value = app
        .http
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["store"], "sqlite");
    let key = app.team_key("t").await;
    app.chat(&key, "mock-1").await;
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("promptgate_requests_total"), "{metrics}");
    assert!(metrics.contains("promptgate_request_duration_seconds"));
    let spec: Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(spec["paths"]["/v1/chat/completions"].is_object());
    let nf = app.http.get(app.url("/nope")).send().await.unwrap();
    assert_eq!(nf.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn wrong_method_on_a_known_path_is_405_with_allow() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let cases = [
        (reqwest::Method::PUT, "/v1/teams", "GET,HEAD,POST"),
        (reqwest::Method::PATCH, "/v1/requests", "GET,HEAD"),
        (reqwest::Method::PUT, "/v1/cache", "DELETE"),
        (reqwest::Method::POST, "/healthz", "GET,HEAD"),
    ];
    for (method, path, allow) in cases {
        let resp = app
            .http
            .request(method.clone(), app.url(path))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 405, "{method} {path}");
        let mut got: Vec<&str> = resp.headers()["allow"]
            .to_str()
            .unwrap()
            .split(',')
            .collect();
        got.sort_unstable();
        assert_eq!(got.join(","), allow, "{method} {path}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(
            error_of(&v),
            ("invalid_request_error", None, Some("method_not_allowed")),
            "{method} {path}: {v}"
        );
    }
    app.stop().await;
}
