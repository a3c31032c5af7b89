//! Two replicas on one PostgreSQL database.

use std::time::{Duration, Instant};

use crate::helpers::{base_config, spawn_app, TestApp, TestDb, ADMIN_KEY};

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
    revoke_on_a_until_refused_on_b(&a, &b, &key, Duration::from_secs(5)).await;
    a.stop().await;
    b.stop().await;
}

/// Revokes the (only) key on `a`, then waits until `b` refuses it (fails
/// the test after `within`).
async fn revoke_on_a_until_refused_on_b(a: &TestApp, b: &TestApp, key: &str, within: Duration) {
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
    while b.chat(key, "mock-1").await.status() != 401 {
        assert!(
            start.elapsed() < within,
            "the revocation never reached replica b"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Replicas that would not refresh their keys for an hour: whatever crosses
/// between them here crossed through the store lookup or a notification.
fn replica_config(db: &TestDb) -> promptgate::Config {
    let mut config = base_config(db.url());
    config.keys.refresh_ms = 3_600_000;
    config
}

async fn new_key_works_on_the_other_replica_at_once(db: TestDb) {
    let a = spawn_app(replica_config(&db)).await;
    let b = spawn_app(replica_config(&db)).await;
    let key = a.team_key("shared").await;
    // the first call on b: no waiting for b's refresh
    assert_eq!(b.chat(&key, "mock-1").await.status(), 200);
    assert_eq!(b.state.keys.store_lookups(), 1);
    // and the second is answered from memory
    assert_eq!(b.chat(&key, "mock-1").await.status(), 200);
    assert_eq!(b.state.keys.store_lookups(), 1);
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_new_key_works_on_the_other_replica_at_once_sqlite() {
    new_key_works_on_the_other_replica_at_once(TestDb::sqlite()).await;
}

#[tokio::test]
async fn a_new_key_works_on_the_other_replica_at_once_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    new_key_works_on_the_other_replica_at_once(db).await;
}

/// With PostgreSQL a revocation is pushed (`NOTIFY`), not polled: b refreshes
/// its keys only hourly here, yet refuses the key as soon as a revokes it.
#[tokio::test]
async fn a_revocation_is_pushed_to_the_other_replica() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let a = spawn_app(replica_config(&db)).await;
    let b = spawn_app(replica_config(&db)).await;
    let key = a.team_key("shared").await;
    assert_eq!(b.chat(&key, "mock-1").await.status(), 200);
    revoke_on_a_until_refused_on_b(&a, &b, &key, Duration::from_secs(30)).await;
    a.stop().await;
    b.stop().await;
}

/// 10,000 calls with random keys of the right shape: every one is a 401, and
/// the store is asked at most the burst plus the sustained rate over the run.
#[tokio::test]
async fn random_keys_cost_a_bounded_number_of_store_lookups() {
    let db = TestDb::sqlite();
    let app = spawn_app(replica_config(&db)).await;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..32 {
        let (http, url) = (app.http.clone(), app.url("/v1/chat/completions"));
        tasks.push(tokio::spawn(async move {
            let mut refused = 0;
            for i in (worker..10_000).step_by(32) {
                let key = format!("pg-{:048x}", (i as u128) * 0x9e37_79b9_7f4a_7c15 + 1);
                let resp = http
                    .post(&url)
                    .bearer_auth(key)
                    .json(&serde_json::json!({"model": "mock-1", "messages": []}))
                    .send()
                    .await
                    .unwrap();
                refused += usize::from(resp.status() == 401);
            }
            refused
        }));
    }
    let mut refused = 0;
    for t in tasks {
        refused += t.await.unwrap();
    }
    let bound = 40 + (20.0 * started.elapsed().as_secs_f64()).ceil() as u64;
    assert_eq!(refused, 10_000);
    let lookups = app.state.keys.store_lookups();
    assert!(
        lookups <= bound,
        "{lookups} store lookups for 10,000 random keys (bound {bound})"
    );
    assert!(lookups >= 1, "unknown keys are looked up in the store");
    app.stop().await;
}
