//! Times the rollout report over 1 M request records, in each store.
//!
//! ```text
//! cargo run --release --example report_bench -- [postgres://…/db]
//! ```
//!
//! SQLite runs in a temporary file; PostgreSQL (when a URL is given) in a
//! database of its own, created and dropped here. 900 k records of version 1
//! and 100 k of version 2 of one prompt, in the window; the report is timed
//! five times and the median printed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark fails loudly

use std::sync::Arc;
use std::time::Instant;

use promptgate::experiments::{rollout_report, ReportRequest};
use promptgate::registry::{RolloutEntry, Target};
use promptgate::store::{RequestRecord, Store};

const RECORDS: usize = 1_000_000;
const BATCH: usize = 5_000;

fn record(i: usize, now: i64) -> RequestRecord {
    let version = if i % 10 == 0 { 2 } else { 1 };
    RequestRecord {
        id: format!("bench-{i}"),
        team: format!("team-{}", i % 4),
        endpoint: "chat.completions".into(),
        model: Some("mock-1".into()),
        status: if i % 97 == 0 { 502 } else { 200 },
        outcome: "ok".into(),
        prompt_tokens: Some(200 + (i % 50) as i64),
        completion_tokens: Some(40 + (i % 30) as i64),
        latency_us: 50_000 + ((i * 7919) % 400_000) as i64,
        created_at: now - (i as i64 % 86_400_000),
        prompt_name: Some("bench/answer".into()),
        prompt_version: Some(version),
        cache: Some(if i % 5 == 0 { "hit" } else { "miss" }.into()),
        cost_pusd: Some(1_000_000 + (i % 1000) as i64 * 1_000),
        grounding_score: Some(((i * 31) % 100) as f64 / 100.0),
        flagged: Some(i % (7 + version as usize) == 0),
        ..RequestRecord::default()
    }
}

async fn bench(store: Arc<dyn Store>) {
    let now = promptgate::time::now_ms();
    let seeding = Instant::now();
    for start in (0..RECORDS).step_by(BATCH) {
        let batch: Vec<RequestRecord> = (start..start + BATCH).map(|i| record(i, now)).collect();
        store.insert_records(&batch).await.unwrap();
    }
    println!(
        "{}: seeded {RECORDS} records in {:.1} s",
        store.backend(),
        seeding.elapsed().as_secs_f64()
    );
    let current = Target::Rollout(vec![
        RolloutEntry {
            version: 1,
            weight: 90,
        },
        RolloutEntry {
            version: 2,
            weight: 10,
        },
    ]);
    let req = ReportRequest {
        name: "bench/answer",
        label: "production",
        current: &current,
        from_ms: Some(now - 2 * 86_400_000),
        to_ms: now + 1,
        team: None,
        baseline: None,
        min_samples: 30,
    };
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let report = rollout_report(store.as_ref(), &req).await.unwrap();
        times.push(t.elapsed().as_secs_f64());
        let total: i64 = report.versions.iter().map(|v| v.requests).sum();
        assert_eq!(total, RECORDS as i64);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{}: report over {RECORDS} records: median {:.3} s (min {:.3}, max {:.3})",
        store.backend(),
        times[2],
        times[0],
        times[4]
    );
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    bench(promptgate::store::connect(&url, 4).await.unwrap()).await;

    if let Some(admin_url) = std::env::args().nth(1) {
        use sqlx::Connection;
        let name = format!("pgbench_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .await
            .unwrap();
        let (base, _) = admin_url.rsplit_once('/').unwrap();
        let store = promptgate::store::connect(&format!("{base}/{name}"), 4)
            .await
            .unwrap();
        bench(store.clone()).await;
        drop(store);
        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&mut admin)
            .await
            .unwrap();
    }
}
