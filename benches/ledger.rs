//! Ledger benchmark: batch-writer throughput (records/s) and cost-report
//! latency over a month of records for 100 teams, on SQLite and (when
//! `PROMPTGATE_TEST_POSTGRES_URL` is set) PostgreSQL.
//!
//!     cargo bench --bench ledger            # RECORDS=200000 MONTH_RECORDS=500000 by default

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::sync::Arc;
use std::time::Instant;

use promptgate::store::{self, Dim, ReportQuery, RequestRecord, Store};

fn env_n(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn record(i: usize, team: usize, created_at: i64) -> RequestRecord {
    RequestRecord {
        id: format!("bench-{i}"),
        team: format!("team-{team:03}"),
        key_id: Some(format!("key_{team}")),
        endpoint: "chat.completions".into(),
        model: Some(
            [
                "gpt-4o-mini",
                "gpt-4o",
                "gpt-4.1-mini",
                "claude-sonnet-4",
                "mock-1",
            ][i % 5]
                .into(),
        ),
        upstream: Some("openai".into()),
        stream: i % 2 == 0,
        status: 200,
        outcome: "ok".into(),
        prompt_tokens: Some(230 + (i % 100) as i64),
        completion_tokens: Some(16 + (i % 50) as i64),
        cached_tokens: Some(0),
        reasoning_tokens: Some(0),
        latency_us: 1500,
        ttft_us: Some(300),
        client_closed: false,
        error: None,
        metadata: Some(r#"{"user":"u-1","tags":["checkout"]}"#.into()),
        created_at,
        prompt_name: (i % 3 == 0).then(|| "support/rag-answer".into()),
        prompt_version: (i % 3 == 0).then_some(1),
        prompt_sha256: None,
        cache: Some("miss".into()),
        cost_pusd: Some(57_000_000 + (i % 1000) as i64),
        saved_pusd: None,
        usage_source: Some("upstream".into()),
        tags: Some(r#"["checkout"]"#.into()),
        grounding_score: None,
        flagged: None,
        grounding: None,
        key_hint: Some("pg-abcdef".into()),
        attempts: Some(1),
        budget_charge: None,
    }
}

async fn writer_throughput(store: Arc<dyn Store>, n: usize) -> f64 {
    let (sink, writer) = store::writer::spawn(store, 8192, 512);
    let start = Instant::now();
    let now = promptgate::time::now_ms();
    // Several producers, as request tasks would be.
    let producers: Vec<_> = (0..8)
        .map(|p| {
            let sink = sink.clone();
            tokio::spawn(async move {
                for i in (p..n).step_by(8) {
                    sink.send(record(i, i % 100, now)).await;
                }
            })
        })
        .collect();
    for p in producers {
        let _ = p.await;
    }
    drop(sink);
    writer.finish().await;
    n as f64 / start.elapsed().as_secs_f64()
}

/// Records per second written in batches of `size` straight to the store:
/// the batches the writer sends under moderate load (at 2,800 requests/s its
/// 25 ms linger gathers about 70), not the full ones of a flood.
async fn batch_insert_throughput(store: &dyn Store, n: usize, size: usize) -> f64 {
    let now = promptgate::time::now_ms();
    let records: Vec<_> = (0..n)
        .map(|i| record(2_000_000 + i, i % 100, now))
        .collect();
    let start = Instant::now();
    for batch in records.chunks(size) {
        store.insert_records(batch).await.expect("insert");
    }
    n as f64 / start.elapsed().as_secs_f64()
}

async fn report_latency(store: &dyn Store, month_records: usize) {
    let now = promptgate::time::now_ms();
    let month_ms = 30 * 86_400_000i64;
    let mut batch = Vec::with_capacity(1000);
    for i in 0..month_records {
        let at = now - month_ms + (i as i64 * month_ms / month_records as i64);
        batch.push(record(1_000_000 + i, i % 100, at));
        if batch.len() == 1000 {
            store.insert_records(&batch).await.expect("insert");
            batch.clear();
        }
    }
    store.insert_records(&batch).await.expect("insert");
    for (label, group_by) in [
        ("group_by=team,model", vec![Dim::Team, Dim::Model]),
        ("group_by=day", vec![Dim::Day]),
        (
            "group_by=team,prompt,version",
            vec![Dim::Team, Dim::Prompt, Dim::Version],
        ),
    ] {
        let q = ReportQuery {
            from_ms: now - month_ms,
            to_ms: now + 1,
            team: None,
            group_by,
        };
        let start = Instant::now();
        let rows = store.cost_report(&q).await.expect("report");
        let all = start.elapsed();
        let q_team = ReportQuery {
            team: Some("team-042".into()),
            ..q
        };
        let start = Instant::now();
        store.cost_report(&q_team).await.expect("report");
        let one = start.elapsed();
        println!(
            "  report {label:<30} all teams {:>8.1} ms ({} rows); one team {:>7.1} ms",
            all.as_secs_f64() * 1e3,
            rows.len(),
            one.as_secs_f64() * 1e3
        );
    }
}

async fn pg_database(admin_url: &str) -> Option<String> {
    use sqlx::{Connection, Executor};
    let name = format!("pgbench_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(admin_url).await.ok()?;
    conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
        .await
        .ok()?;
    let base = admin_url
        .rsplit_once('/')
        .map(|(b, _)| b)
        .unwrap_or(admin_url);
    Some(format!("{base}/{name}"))
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; under `cargo test` this runs as a quick
    // smoke test of the same code with small sizes.
    let full = std::env::args().any(|a| a == "--bench");
    let n = env_n("RECORDS", if full { 200_000 } else { 2_000 });
    let month = env_n("MONTH_RECORDS", if full { 500_000 } else { 5_000 });
    let dir = tempfile::tempdir().expect("tempdir");
    let mut backends = vec![(
        "sqlite",
        format!("sqlite://{}", dir.path().join("ledger.db").display()),
    )];
    if let Ok(admin) = std::env::var("PROMPTGATE_TEST_POSTGRES_URL") {
        if let Some(url) = pg_database(&admin).await {
            backends.push(("postgres", url));
        }
    } else {
        println!("PROMPTGATE_TEST_POSTGRES_URL not set: PostgreSQL skipped");
    }
    for (name, url) in &backends {
        let store = store::connect(url, 4).await.expect("connect");
        let rate = writer_throughput(store.clone(), n).await;
        println!("{name}: batch writer {rate:>10.0} records/s ({n} records, batches of 512)");
        let rate = batch_insert_throughput(store.as_ref(), n / 4, 70).await;
        println!(
            "{name}: batches of 70 {rate:>10.0} records/s ({} records)",
            n / 4
        );
        report_latency(store.as_ref(), month).await;
    }
    // The PostgreSQL database was made for this run: remove it.
    if let (Some((_, url)), Ok(admin)) = (
        backends.get(1),
        std::env::var("PROMPTGATE_TEST_POSTGRES_URL"),
    ) {
        use sqlx::{Connection, Executor};
        if let (Some(name), Ok(mut conn)) = (
            url.rsplit('/').next(),
            sqlx::PgConnection::connect(&admin).await,
        ) {
            let _ = conn
                .execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
                .await;
        }
    }
}
