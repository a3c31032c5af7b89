//! The audit log: every admin write once, with before / after; admin only;
//! no route edits it.

use serde_json::{json, Value};

use crate::helpers::{base_config, spawn_app, TestApp, TestDb, ADMIN_KEY};

async fn entries(app: &TestApp, query: &str) -> Vec<Value> {
    let resp = app.get(ADMIN_KEY, &format!("/v1/audit{query}")).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    body["data"].as_array().unwrap().clone()
}

async fn admin_writes_are_audited(db: TestDb) {
    let app = spawn_app(base_config(db.url())).await;
    assert_eq!(
        app.post(ADMIN_KEY, "/v1/teams", json!({"name": "t"}))
            .await
            .status(),
        201
    );
    let key: Value = app
        .post(ADMIN_KEY, "/v1/teams/t/keys", json!({"name": "ci"}))
        .await
        .json()
        .await
        .unwrap();
    let id = key["key"]
        .as_str()
        .map(|_| key["id"].as_str().unwrap().to_owned())
        .unwrap();
    let team_key = key["key"].as_str().unwrap().to_owned();
    app.post(
        ADMIN_KEY,
        &format!("/v1/keys/{id}/rotate"),
        json!({"grace_s": 0}),
    )
    .await;
    app.put(
        ADMIN_KEY,
        "/v1/teams/t/budget",
        json!({"usd": "10", "period": "month"}),
    )
    .await;
    app.put(
        ADMIN_KEY,
        "/v1/teams/t/budget",
        json!({"usd": "12.50", "period": "month"}),
    )
    .await;
    app.http
        .delete(app.url("/v1/teams/t/budget"))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    app.http
        .delete(app.url("/v1/cache?prompt=support/faq"))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    app.http
        .delete(app.url(&format!("/v1/keys/{id}")))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    let version = json!({"type": "chat", "messages": [{"role": "user", "content": "Hi"}]});
    let two = json!({"type": "chat", "messages": [{"role": "user", "content": "Hello"}]});
    assert_eq!(
        app.post(ADMIN_KEY, "/v1/prompts/greet/versions", version.clone())
            .await
            .status(),
        201
    );
    // the same content again creates nothing, and is not logged
    assert_eq!(
        app.post(ADMIN_KEY, "/v1/prompts/greet/versions", version)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.post(ADMIN_KEY, "/v1/prompts/greet/versions", two)
            .await
            .status(),
        201
    );
    let moved = app
        .put(
            ADMIN_KEY,
            "/v1/prompts/greet/labels/production",
            json!({"version": 1}),
        )
        .await;
    assert_eq!(moved.status(), 200);
    let moved = app
        .put(
            ADMIN_KEY,
            "/v1/prompts/greet/labels/production",
            json!({"rollout": [{"version": 1, "weight": 90}, {"version": 2, "weight": 10}]}),
        )
        .await;
    assert_eq!(moved.status(), 200);
    // a refused write leaves no entry
    assert_eq!(
        app.post(ADMIN_KEY, "/v1/teams", json!({"name": "t"}))
            .await
            .status(),
        409
    );

    let all = entries(&app, "").await;
    let actions: Vec<&str> = all.iter().map(|e| e["action"].as_str().unwrap()).collect();
    // newest first, each write once
    assert_eq!(
        actions,
        [
            "label.move",
            "label.move",
            "prompt.version",
            "prompt.version",
            "key.revoke",
            "cache.clear",
            "budget.delete",
            "budget.put",
            "budget.put",
            "key.rotate",
            "key.create",
            "team.create"
        ],
        "{all:#?}"
    );
    for e in &all {
        assert_eq!(e["actor"], "admin");
        assert!(e["at"].is_string() && e["id"].is_i64(), "{e}");
    }
    let by = |action: &str| all.iter().find(|e| e["action"] == action).unwrap().clone();
    assert_eq!(by("team.create")["before"], Value::Null);
    assert_eq!(by("team.create")["after"]["name"], "t");
    assert_eq!(by("key.create")["target"], id.as_str());
    assert_eq!(by("key.create")["after"]["name"], "ci");
    let rotate = by("key.rotate");
    assert_ne!(rotate["before"]["hint"], rotate["after"]["hint"]);
    let puts: Vec<&Value> = all.iter().filter(|e| e["action"] == "budget.put").collect();
    assert_eq!(puts[1]["before"], Value::Null);
    assert_eq!(puts[0]["before"]["usd"], "10");
    assert_eq!(puts[0]["after"]["usd"], "12.5");
    // the rollout's entry shows where the label pointed before
    assert_eq!(all[0]["target"], "greet:production");
    assert_eq!(all[0]["before"], json!({"version": 1}), "{}", all[0]);
    assert_eq!(all[0]["after"]["target"]["rollout"][1]["weight"], 10);
    assert_eq!(all[1]["before"], Value::Null);
    assert_eq!(all[2]["after"]["version"], 2);
    assert_eq!(by("budget.delete")["after"], Value::Null);
    assert_eq!(by("cache.clear")["target"], "support/faq");
    assert_eq!(by("key.revoke")["before"]["revoked_at"], Value::Null);
    assert!(by("key.revoke")["after"]["revoked_at"].is_string());
    // no secret reaches the log
    let text = serde_json::to_string(&all).unwrap();
    assert!(
        !text.contains(&team_key) && !text.contains("key_hash"),
        "{text}"
    );

    // filters and paging
    assert_eq!(entries(&app, "?action=budget.put").await.len(), 2);
    assert_eq!(entries(&app, &format!("?target={id}")).await.len(), 3);
    let page = entries(&app, "?limit=3").await;
    assert_eq!(page.len(), 3);
    let next = entries(&app, &format!("?limit=3&before={}", page[2]["id"])).await;
    assert_eq!(next[0]["action"], "prompt.version");
    assert!(entries(&app, "?from=2999-01-01").await.is_empty());
    let resp = app.get(ADMIN_KEY, "/v1/audit?limit=0").await;
    assert_eq!(resp.status(), 400);

    // team keys get 403; nothing can change the log
    let other = app.team_key("t").await;
    assert_eq!(app.get(&other, "/v1/audit").await.status(), 403);
    for method in [
        reqwest::Method::DELETE,
        reqwest::Method::PUT,
        reqwest::Method::POST,
    ] {
        let resp = app
            .http
            .request(method.clone(), app.url("/v1/audit"))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 405, "{method}");
    }
    app.stop().await;
}

#[tokio::test]
async fn admin_writes_are_audited_sqlite() {
    admin_writes_are_audited(TestDb::sqlite()).await;
}

#[tokio::test]
async fn admin_writes_are_audited_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    admin_writes_are_audited(db).await;
}
