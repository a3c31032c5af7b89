//! Crash safety under load, on SQLite and PostgreSQL: 64 clients call the
//! built-in mock (plain and streamed, fast and slow) when the gateway gets a
//! SIGTERM or a `kill -9`; after a restart on the same store, the ledger (the
//! request records), the cost report and the team's budget counter must agree
//! with what the clients were answered.
//!
//! What the counter may differ by: it counts each call's cost rounded up to a
//! whole micro-USD, the ledger counts it exactly (pico-USD). So the budget's
//! `spent_usd` lies in [ledger total, ledger total + 1 µUSD × charged records].
//! (The mock's prices are whole USD per million tokens, so every mock cost is
//! a whole number of micro-USD and the two are in fact equal.)

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::cache::{redis_url, RedisKeys};
use crate::helpers::{Backend, TestDb, ADMIN_KEY};
use crate::shutdown::{held_config, held_upstream, signal, start_gateway, team_key, Server};

/// Concurrent clients.
const CLIENTS: usize = 64;
/// Answers to wait for before the signal, so the load is in full swing.
const ANSWERS_BEFORE_SIGNAL: usize = 300;

/// A short hold lease, so that a killed gateway's reservations lapse within
/// the test's bounded wait (the default is 30 s).
const CONFIG: &str = "budget_hold_lease_s = 2\n";

/// Where the budget counter lives: in the store (SQLite: in memory, rebuilt
/// from the ledger at start; PostgreSQL: in the database), or in Redis.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum CounterIn {
    Store(Backend),
    Redis,
}

/// The store, the config and (with Redis) the test's keys, deleted at the end.
struct Setup {
    db: TestDb,
    config: String,
    _redis: Option<RedisKeys>,
}

/// `None`: the test is skipped (no PostgreSQL or Redis configured outside CI).
async fn setup(counter: CounterIn, config: &str) -> Option<Setup> {
    match counter {
        CounterIn::Store(backend) => Some(Setup {
            db: TestDb::new(backend).await?,
            config: config.to_owned(),
            _redis: None,
        }),
        CounterIn::Redis => {
            let url = redis_url()?;
            let prefix = format!("pgtest-crash-{}", uuid::Uuid::new_v4().simple());
            Some(Setup {
                db: TestDb::sqlite(),
                config: format!("{config}[cache]\nredis_url = \"{url}\"\nprefix = \"{prefix}\"\n"),
                _redis: Some(RedisKeys::new(&url, &prefix)),
            })
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Stop {
    Term,
    Kill,
}

/// One call as its client saw it.
struct Call {
    id: String,
    /// The cost the client was told, when it got a complete answer.
    answered: Option<Decimal>,
    /// When the client had the whole answer.
    done_at: Instant,
}

#[tokio::test]
async fn sigterm_under_load_sqlite() {
    crash_under_load(CounterIn::Store(Backend::Sqlite), Stop::Term).await;
}

#[tokio::test]
async fn sigterm_under_load_postgres() {
    crash_under_load(CounterIn::Store(Backend::Postgres), Stop::Term).await;
}

#[tokio::test]
async fn sigterm_under_load_redis() {
    crash_under_load(CounterIn::Redis, Stop::Term).await;
}

#[tokio::test]
async fn kill_9_under_load_sqlite() {
    crash_under_load(CounterIn::Store(Backend::Sqlite), Stop::Kill).await;
}

#[tokio::test]
async fn kill_9_under_load_postgres() {
    crash_under_load(CounterIn::Store(Backend::Postgres), Stop::Kill).await;
}

#[tokio::test]
async fn kill_9_under_load_redis() {
    crash_under_load(CounterIn::Redis, Stop::Kill).await;
}

async fn crash_under_load(counter: CounterIn, stop: Stop) {
    let Some(Setup { db, config, _redis }) = setup(counter, CONFIG).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut server = start_gateway(dir.path(), db.url(), Some(&config)).await;
    let http = reqwest::Client::new();
    let key = team_key(&http, &server.base).await;
    let resp = http
        .put(format!("{}/v1/teams/t/budget", server.base))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({"usd": "1000", "period": "day"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());

    let answers = Arc::new(AtomicUsize::new(0));
    let stopping = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let load = Load {
                http: http.clone(),
                base: server.base.clone(),
                key: key.clone(),
                answers: answers.clone(),
                stopping: stopping.clone(),
            };
            tokio::spawn(load.run(c))
        })
        .collect();
    let waited = tokio::time::timeout(Duration::from_secs(60), async {
        while answers.load(Ordering::Acquire) < ANSWERS_BEFORE_SIGNAL {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "the load never got going");
    let signalled_at = Instant::now();
    signal(&server, if stop == Stop::Term { "-TERM" } else { "-KILL" });
    stopping.store(true, Ordering::Release);
    let mut calls = Vec::new();
    for c in clients {
        calls.extend(c.await.unwrap());
    }
    let exit = tokio::time::timeout(Duration::from_secs(60), server.child.wait())
        .await
        .expect("the gateway exits")
        .unwrap();
    if stop == Stop::Term {
        assert!(exit.success(), "clean exit after SIGTERM: {exit:?}");
    }

    let server = start_gateway(dir.path(), db.url(), Some(&config)).await;
    let records = records_of(&http, &server, &key, &calls).await;
    let answered = calls.iter().filter(|c| c.answered.is_some()).count();
    let mut lost = Vec::new();
    let mut recorded_total = Decimal::ZERO;
    let mut charged = 0i64;
    for call in &calls {
        let record = records.get(&call.id);
        if let Some(cost) = record.and_then(|r| r["cost_usd"].as_str()) {
            let cost = Decimal::from_str(cost).unwrap();
            recorded_total += cost;
            charged += i64::from(cost > Decimal::ZERO);
        }
        match (call.answered, record) {
            (Some(told), Some(record)) => {
                assert_eq!(record["outcome"], "ok", "{record}");
                let cost = Decimal::from_str(record["cost_usd"].as_str().unwrap()).unwrap();
                assert_eq!(
                    cost, told,
                    "the ledger charges {} what it was told",
                    call.id
                );
            }
            (Some(_), None) => lost.push(signalled_at.saturating_duration_since(call.done_at)),
            (None, Some(record)) if stop == Stop::Term => {
                // A call cut before its answer was complete: recorded as such.
                assert_ne!(record["outcome"], "ok", "{record}");
            }
            (None, _) => {}
        }
    }
    eprintln!(
        "{stop:?}, counter in {counter:?}: {} calls, {answered} answered, {} records, {} answered calls without a record{}",
        calls.len(),
        records.len(),
        lost.len(),
        lost.iter()
            .max()
            .map(|d| format!(" (answered at most {} ms before the signal)", d.as_millis()))
            .unwrap_or_default(),
    );
    if stop == Stop::Term {
        assert!(
            lost.is_empty(),
            "SIGTERM lost the records of answered calls"
        );
    }

    // The cost report is the ledger: it sums exactly the records of these calls
    // (no charged record of a call the test did not make).
    let report = ledger_total(&http, &server).await;
    assert_eq!(report, recorded_total, "the cost report sums the records");

    // The budget counter agrees with the ledger, and nothing stays reserved.
    let (spent, reserved) = budget_after_holds_lapse(&http, &server, &key).await;
    assert_eq!(reserved, Decimal::ZERO, "reservations outlived the calls");
    let rounding = Decimal::new(charged, 6);
    if counter == CounterIn::Redis && stop == Stop::Kill {
        // Redis books a cost after its record's transaction: a kill between
        // the two leaves a recorded call uncounted (at most the batch being
        // booked), never a counted call without its record.
        assert!(
            spent <= report + rounding,
            "budget spent {spent} counts calls the ledger {report} has no record of"
        );
        eprintln!("Redis counter after kill -9: spent {spent}, ledger {report}");
        return;
    }
    assert!(
        spent >= report && spent <= report + rounding,
        "budget spent {spent} vs ledger {report} (+ up to {rounding} rounding)"
    );
}

/// What each client task needs.
struct Load {
    http: reqwest::Client,
    base: String,
    key: String,
    answers: Arc<AtomicUsize>,
    stopping: Arc<AtomicBool>,
}

impl Load {
    /// Calls one after another until the signal; returns what each got.
    async fn run(self, client: usize) -> Vec<Call> {
        let mut calls = Vec::new();
        for n in 0.. {
            if self.stopping.load(Ordering::Acquire) {
                break;
            }
            let id = format!("crash-{client}-{n}");
            let stream = (client + n) % 2 == 0;
            // A third of the calls are slow, so many are in flight at the signal.
            let model = if (client + n) % 3 == 0 {
                "mock-slow"
            } else {
                "mock-1"
            };
            let answered = self.call(&id, model, stream).await;
            if answered.is_some() {
                self.answers.fetch_add(1, Ordering::AcqRel);
            }
            calls.push(Call {
                id,
                answered,
                done_at: Instant::now(),
            });
        }
        calls
    }

    /// The cost the client was told, if it got the whole answer.
    async fn call(&self, id: &str, model: &str, stream: bool) -> Option<Decimal> {
        let body = json!({"model": model, "stream": stream,
            "messages": [{"role": "user", "content": format!("call {id}")}]});
        let resp = tokio::time::timeout(
            Duration::from_secs(60),
            self.http
                .post(format!("{}/v1/chat/completions", self.base))
                .bearer_auth(&self.key)
                .header("x-request-id", id)
                .json(&body)
                .send(),
        )
        .await
        .ok()?
        .ok()?;
        if resp.status() != 200 {
            return None;
        }
        let header = resp
            .headers()
            .get("x-promptgate-cost-usd")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = tokio::time::timeout(Duration::from_secs(60), resp.bytes())
            .await
            .ok()?
            .ok()?;
        if !stream {
            serde_json::from_slice::<Value>(&bytes).ok()?;
            return Decimal::from_str(&header?).ok();
        }
        stream_cost(std::str::from_utf8(&bytes).ok()?)
    }
}

/// The cost in a complete stream's `: promptgate {…}` comment (`None` when the
/// stream did not reach `[DONE]`).
fn stream_cost(text: &str) -> Option<Decimal> {
    if !text.trim_end().ends_with("data: [DONE]") {
        return None;
    }
    let facts = text.lines().find_map(|l| l.strip_prefix(": promptgate "))?;
    let facts: Value = serde_json::from_str(facts).ok()?;
    Decimal::from_str(facts["cost_usd"].as_str()?).ok()
}

/// The records of `calls` that the restarted gateway has, by id.
async fn records_of(
    http: &reqwest::Client,
    server: &Server,
    key: &str,
    calls: &[Call],
) -> HashMap<String, Value> {
    futures_util::stream::iter(calls)
        .map(|call| async move {
            let resp = http
                .get(format!("{}/v1/requests/{}", server.base, call.id))
                .bearer_auth(key)
                .send()
                .await
                .unwrap();
            match resp.status().as_u16() {
                200 => Some((call.id.clone(), resp.json::<Value>().await.unwrap())),
                404 => None,
                s => panic!("record {}: status {s}", call.id),
            }
        })
        .buffer_unordered(16)
        .filter_map(|r| async move { r })
        .collect()
        .await
}

/// The team's total in the cost report.
async fn ledger_total(http: &reqwest::Client, server: &Server) -> Decimal {
    let report: Value = http
        .get(format!("{}/v1/costs?group_by=team&team=t", server.base))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows = report["rows"].as_array().expect("rows");
    rows.iter()
        .map(|r| Decimal::from_str(r["cost_usd"].as_str().unwrap()).unwrap())
        .sum()
}

/// The budget's (spent, reserved) once the holds of calls that died with the
/// old process have lapsed (bounded wait: a lease is a few seconds); what is
/// left reserved after the wait is returned for the test to fail on.
async fn budget_after_holds_lapse(
    http: &reqwest::Client,
    server: &Server,
    key: &str,
) -> (Decimal, Decimal) {
    let mut last = (Decimal::ZERO, Decimal::ZERO);
    for _ in 0..150 {
        let budget: Value = http
            .get(format!("{}/v1/teams/t/budget", server.base))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let usd = |f: &str| Decimal::from_str(budget[f].as_str().expect(f)).unwrap();
        last = (usd("spent_usd"), usd("reserved_usd"));
        if last.1.is_zero() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    last
}

/// A gateway with one priced model, `held`, whose calls the test releases.
fn held_priced_config(upstream: std::net::SocketAddr, grace_s: u64, lease_s: u64) -> String {
    format!(
        "budget_hold_lease_s = {lease_s}\n{}[prices.\"held\"]\ninput = \"1\"\noutput = \"2\"\n",
        held_config(upstream, grace_s)
    )
}

/// Starts a `held` call of team `t` and returns once it reached the upstream.
async fn call_in_flight(
    http: &reqwest::Client,
    server: &Server,
    key: &str,
    arrived: &mut tokio::sync::mpsc::UnboundedReceiver<()>,
) -> tokio::task::JoinHandle<Result<reqwest::Response, reqwest::Error>> {
    let call = tokio::spawn({
        let (http, base, key) = (http.clone(), server.base.clone(), key.to_owned());
        async move {
            http.post(format!("{base}/v1/chat/completions"))
                .bearer_auth(&key)
                .json(&json!({"model": "held", "max_tokens": 100,
                    "messages": [{"role": "user", "content": "x"}]}))
                .send()
                .await
        }
    });
    arrived.recv().await.expect("the call reached the upstream");
    call
}

async fn put_budget(http: &reqwest::Client, server: &Server) {
    let resp = http
        .put(format!("{}/v1/teams/t/budget", server.base))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({"usd": "10", "period": "day"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
}

async fn budget_now(http: &reqwest::Client, server: &Server, key: &str) -> (Decimal, Decimal) {
    let budget: Value = http
        .get(format!("{}/v1/teams/t/budget", server.base))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let usd = |f: &str| Decimal::from_str(budget[f].as_str().expect(f)).unwrap();
    (usd("spent_usd"), usd("reserved_usd"))
}

/// Found by `kill_9_under_load_postgres`: the PostgreSQL counter kept the
/// reservations of the calls a killed gateway had in flight for the rest of
/// the period. Now they count only while their process renews its lease.
#[tokio::test]
async fn a_killed_gateways_reservations_lapse_with_its_lease_postgres() {
    killed_gateways_reservations_lapse(CounterIn::Store(Backend::Postgres)).await;
}

/// The same on Redis, which kept them until the counter's key expired (a day
/// after the period's end).
#[tokio::test]
async fn a_killed_gateways_reservations_lapse_with_its_lease_redis() {
    killed_gateways_reservations_lapse(CounterIn::Redis).await;
}

async fn killed_gateways_reservations_lapse(counter: CounterIn) {
    let (upstream, mut arrived, _never_released) = held_upstream().await;
    let Some(Setup { db, config, _redis }) =
        setup(counter, &held_priced_config(upstream, 30, 2)).await
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut server = start_gateway(dir.path(), db.url(), Some(&config)).await;
    let http = reqwest::Client::new();
    let key = team_key(&http, &server.base).await;
    put_budget(&http, &server).await;
    let call = call_in_flight(&http, &server, &key, &mut arrived).await;
    let (_, reserved) = budget_now(&http, &server, &key).await;
    assert!(reserved > Decimal::ZERO, "the call in flight holds money");

    signal(&server, "-KILL");
    tokio::time::timeout(Duration::from_secs(60), server.child.wait())
        .await
        .expect("the gateway exits")
        .unwrap();
    assert!(
        call.await.unwrap().is_err(),
        "the call died with the gateway"
    );

    let server = start_gateway(dir.path(), db.url(), Some(&config)).await;
    let (spent, reserved) = budget_after_holds_lapse(&http, &server, &key).await;
    assert_eq!(reserved, Decimal::ZERO, "the killed call's hold lapsed");
    assert_eq!(
        spent,
        Decimal::ZERO,
        "nothing was recorded, nothing is spent"
    );
}

/// A clean stop gives back what its process held at once (the lease here is
/// ten minutes, so a lapse cannot be what frees it), and books the cut call's
/// cost as its record says.
#[tokio::test]
async fn sigterm_gives_back_the_gateways_holds_at_once_postgres() {
    sigterm_gives_back_holds(CounterIn::Store(Backend::Postgres)).await;
}

#[tokio::test]
async fn sigterm_gives_back_the_gateways_holds_at_once_redis() {
    sigterm_gives_back_holds(CounterIn::Redis).await;
}

async fn sigterm_gives_back_holds(counter: CounterIn) {
    let (upstream, mut arrived, _never_released) = held_upstream().await;
    let Some(Setup { db, config, _redis }) =
        setup(counter, &held_priced_config(upstream, 1, 600)).await
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut server = start_gateway(dir.path(), db.url(), Some(&config)).await;
    let http = reqwest::Client::new();
    let key = team_key(&http, &server.base).await;
    put_budget(&http, &server).await;
    let call = call_in_flight(&http, &server, &key, &mut arrived).await;
    let (_, reserved) = budget_now(&http, &server, &key).await;
    assert!(reserved > Decimal::ZERO, "the call in flight holds money");

    signal(&server, "-TERM");
    let exit = tokio::time::timeout(Duration::from_secs(60), server.child.wait())
        .await
        .expect("the gateway exits once the grace is over")
        .unwrap();
    assert!(exit.success(), "clean exit after SIGTERM: {exit:?}");
    assert!(call.await.unwrap().is_err(), "the call was cut");

    let server = start_gateway(dir.path(), db.url(), Some(&config)).await;
    let (spent, reserved) = budget_now(&http, &server, &key).await;
    assert_eq!(
        reserved,
        Decimal::ZERO,
        "nothing stays held after a clean stop"
    );
    assert_eq!(
        spent,
        ledger_total(&http, &server).await,
        "spent is what the ledger says"
    );
}
