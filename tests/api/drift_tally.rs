//! The drift monitor's running sums: slid forward check after check, they
//! must equal the same windows read whole, on both stores; and a window
//! read in slices must equal one statement over it.

use promptgate::experiments::tally::Windows;
use promptgate::experiments::tally::{sums, Sums, Tally, SLICE_MS};
use promptgate::store::{GroupStats, RequestRecord, StatsQuery};

use crate::helpers::{Backend, TestDb};

/// `n` records `step_ms` apart from `start_ms`, over three groups (two
/// versions of a prompt and a raw model) with varied tokens, scores,
/// flags, costs and statuses.
fn records(start_ms: i64, step_ms: i64, n: i64) -> Vec<RequestRecord> {
    (0..n)
        .map(|i| {
            let (prompt_name, prompt_version) = match i % 3 {
                0 => (Some("p".to_owned()), Some(1)),
                1 => (Some("p".to_owned()), Some(2)),
                _ => (None, None),
            };
            RequestRecord {
                id: format!("r{i}"),
                team: if i % 4 == 0 { "a" } else { "b" }.into(),
                endpoint: "chat.completions".into(),
                model: Some(if i % 2 == 0 { "m1" } else { "m2" }.into()),
                status: if i % 17 == 0 { 502 } else { 200 },
                outcome: "ok".into(),
                prompt_tokens: Some(10 + i % 7),
                completion_tokens: Some(5 + i % 11),
                latency_us: 1000 + i,
                created_at: start_ms + i * step_ms,
                prompt_name,
                prompt_version,
                cache: Some(if i % 5 == 0 { "hit" } else { "miss" }.into()),
                cost_pusd: Some(1_000 + 37 * i),
                grounding_score: (i % 2 == 0).then(|| (i % 10) as f64 / 10.0),
                flagged: (i % 2 == 0).then_some(i % 6 == 0),
                ..RequestRecord::default()
            }
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn assert_same(got: &Sums, want: &Sums, what: &str) {
    let keys = |s: &Sums| s.keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(got), keys(want), "{what}: groups");
    for (k, g) in got {
        let w = &want[k];
        let counts = |s: &GroupStats| {
            [
                s.requests,
                s.errors,
                s.flag_n,
                s.flagged,
                s.score_n,
                s.cost_n,
                s.input_n,
                s.output_n,
                s.cache_n,
                s.cache_hits,
            ]
        };
        let floats = |s: &GroupStats| {
            [
                s.score_sum,
                s.score_sq,
                s.cost_sum,
                s.cost_sq,
                s.input_sum,
                s.input_sq,
                s.output_sum,
                s.output_sq,
            ]
        };
        assert_eq!(counts(g), counts(w), "{what}: counts of {k:?}");
        for (a, b) in floats(g).into_iter().zip(floats(w)) {
            assert!(close(a, b), "{what}: {k:?}: {a} against {b}");
        }
        assert!(g.requests > 0, "{what}: an empty group was kept: {k:?}");
    }
}

async fn slid_sums_equal_whole_reads(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = promptgate::store::connect(db.url(), 2).await.unwrap();
    // 600 records 50 ms apart: 30 s of traffic.
    let base = 1_000_000_000;
    store.insert_records(&records(base, 50, 600)).await.unwrap();
    let windows = |to: i64| Windows {
        reference_from_ms: to - 12_000,
        split_ms: to - 4_000,
        to_ms: to,
    };
    let mut to = base + 2_000;
    let mut tally = Tally::build(store.as_ref(), windows(to), 0).await.unwrap();
    // Uneven steps, some of them landing on a record's time, through the
    // traffic and past its end, until every record left both windows.
    let steps = [1, 49, 50, 333, 1_000, 2_501, 3_999, 0, 4_000, 777];
    let mut i = 0;
    while to < base + 45_000 {
        to += steps[i % steps.len()];
        i += 1;
        let next = windows(to);
        assert!(tally.can_slide_to(&next));
        tally.slide(store.as_ref(), next).await.unwrap();
        let whole = Tally::build(store.as_ref(), next, 0).await.unwrap();
        assert_same(&tally.recent, &whole.recent, &format!("recent at {to}"));
        assert_same(
            &tally.reference,
            &whole.reference,
            &format!("reference at {to}"),
        );
    }
    assert!(tally.recent.is_empty() && tally.reference.is_empty());
}

#[tokio::test]
async fn slid_sums_equal_whole_reads_sqlite() {
    slid_sums_equal_whole_reads(Backend::Sqlite).await;
}

#[tokio::test]
async fn slid_sums_equal_whole_reads_postgres() {
    slid_sums_equal_whole_reads(Backend::Postgres).await;
}

/// A window many slices wide, read a slice at a time, gives what one
/// statement over it gives, for every team and for one.
async fn sliced_reads_equal_one_statement(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = promptgate::store::connect(db.url(), 2).await.unwrap();
    let base = 2_000_000_000;
    // One record every 7 s for an hour: twelve slices and a part.
    store
        .insert_records(&records(base, 7_000, 520))
        .await
        .unwrap();
    let (from, to) = (base - 1, base + 520 * 7_000 + SLICE_MS / 3);
    assert!((to - from) / SLICE_MS >= 12);
    for team in [None, Some("a")] {
        let q = StatsQuery {
            from_ms: from,
            to_ms: to,
            team: team.map(str::to_owned),
            prompt: None,
        };
        let mut one = Sums::new();
        for row in store.group_stats(&q).await.unwrap() {
            promptgate::experiments::tally::add(&mut one, &row, 1);
        }
        let sliced = sums(store.as_ref(), team, from, to).await.unwrap();
        assert!(one.len() >= 3, "groups: {one:?}");
        assert_same(&sliced, &one, &format!("team {team:?}"));
    }
}

#[tokio::test]
async fn sliced_reads_equal_one_statement_sqlite() {
    sliced_reads_equal_one_statement(Backend::Sqlite).await;
}

#[tokio::test]
async fn sliced_reads_equal_one_statement_postgres() {
    sliced_reads_equal_one_statement(Backend::Postgres).await;
}
