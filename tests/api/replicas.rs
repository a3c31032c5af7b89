//! Two replicas on one PostgreSQL database.

use std::time::{Duration, Instant};

use crate::helpers::{base_config, spawn_app, TestDb, ADMIN_KEY};

/// A key revoked on one replica is refused by the other within 5 s
/// (each replica polls the store; the test config polls every 200 ms).
#[tokio::test]
async fn revocation_reaches_the_other_replica() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let a = spawn_app(base_config(db.url())).await;
    let b = spawn_app(base_config(db.url())).await;
    let key = a.team_key("shared").await;
    let start = Instant::now();
    while b.chat(&key, "mock-1").await.status() != 200 {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "new key never reached replica b"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let id = a.state.store.active_keys().await.unwrap()[0].id.clone();
    let del = a
        .http
        .delete(a.url(&format!("/v1/keys/{id}")))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 200);
    let start = Instant::now();
    while b.chat(&key, "mock-1").await.status() != 401 {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "revocation never reached replica b"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.stop().await;
    b.stop().await;
}
