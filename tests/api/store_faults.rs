//! Store and Redis faults: PostgreSQL cut off and unreachable for 10 s,
//! Redis killed and restarted, the SQLite file's disk full. Calls keep being
//! answered, or fail with a 503 where correctness needs what is down; no
//! record is lost or written twice; nothing an admin call changed during the
//! outage is left behind; the gateway recovers without a restart, and its
//! metrics show the outage.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde_json::json;

use crate::fault_kit::{assert_unavailable, Gateway, PrivateRedis, TcpProxy, Tmpfs, PATIENCE};
use crate::helpers::{base_config, spawn_app, TestDb, ADMIN_KEY};

/// How long PostgreSQL stays unreachable (the figure).
const OUTAGE: Duration = Duration::from_secs(10);

/// `postgres://user@host:port/db` → (host:port, the same URL through `proxy`).
fn through(url: &str, proxy: std::net::SocketAddr) -> (std::net::SocketAddr, String) {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (user, rest) = rest.rsplit_once('@').unwrap();
    let (host, db) = rest.split_once('/').unwrap();
    let target = std::net::ToSocketAddrs::to_socket_addrs(host)
        .unwrap()
        .next()
        .unwrap();
    (target, format!("{scheme}://{user}@{proxy}/{db}"))
}

/// The rows `sql` returns, read straight from the store at `url`.
async fn query<T>(url: &str, sql: &str, bind: Option<&str>) -> Vec<T>
where
    T: Send + Unpin,
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>,
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let q = sqlx::query_as(sql);
        let q = match bind {
            Some(b) => q.bind(b.to_owned()),
            None => q,
        };
        let rows = q.fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let q = sqlx::query_as(sql);
        let q = match bind {
            Some(b) => q.bind(b.to_owned()),
            None => q,
        };
        let rows = q.fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows
    }
}

/// How many rows each request id has in the store.
async fn record_counts(url: &str) -> HashMap<String, i64> {
    let sql = "SELECT id, COUNT(*) FROM requests GROUP BY id";
    query::<(String, i64)>(url, sql, None)
        .await
        .into_iter()
        .collect()
}

/// `SELECT COUNT(*) … WHERE … = $1` with `name`.
async fn rows_naming(url: &str, sql: &str, name: &str) -> i64 {
    query::<(i64,)>(url, sql, Some(name)).await[0].0
}

/// Every answered call has exactly one record: none lost, none twice.
fn assert_one_record_each(counts: &HashMap<String, i64>, answered: &[String]) {
    for id in answered {
        assert_eq!(counts.get(id), Some(&1), "records of {id}");
    }
}

/// What an admin or a new key must get while the store is down: a clear 503
/// (each after the pool's 10 s acquire timeout, hence asked at once).
async fn during_the_outage(gw: &Gateway, uncached_key: &str, budgeted_key: &str) {
    let team = gw.post(
        ADMIN_KEY,
        "/v1/teams",
        json!({"name": "made-during-outage"}),
    );
    let key = gw.post(ADMIN_KEY, "/v1/teams/steady/keys", json!({}));
    let uncached = gw.chat(uncached_key, "uncached");
    let ready = gw.send(reqwest::Method::GET, "", "/readyz", None);
    let budgeted = gw.chat(budgeted_key, "budgeted");
    let ((s1, b1), (s2, b2), (s3, _, b3), (s4, b4), (s5, _, b5)) =
        tokio::join!(team, key, uncached, ready, budgeted);
    assert_unavailable(s1, &b1, "creating a team");
    assert_unavailable(s2, &b2, "creating a key");
    // a valid key this replica has not seen yet cannot be checked: 503, not 401
    assert_unavailable(s3, &b3, "a key made on another replica");
    assert_unavailable(s4, &b4, "readiness");
    // without Redis the budget counter is in PostgreSQL: not checked, not spent
    assert_unavailable(s5, &b5, "a budgeted call");
}

/// PostgreSQL drops every connection (a restart) and refuses new ones for
/// 10 s. Calls of known keys are answered throughout and their records are
/// written once it is back; admin writes and unknown keys get a 503 and leave
/// nothing behind; no restart is needed afterwards.
#[tokio::test]
async fn postgres_cut_off_for_ten_seconds() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let (target, _) = through(db.url(), "127.0.0.1:1".parse().unwrap());
    let proxy = TcpProxy::start(target).await;
    let (_, via_proxy) = through(db.url(), proxy.addr);
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("PROMPTGATE__STORE__URL", via_proxy),
        // keys this replica did not make are learnt only by looking them up
        ("PROMPTGATE__KEYS__REFRESH_MS", "3600000".to_owned()),
    ];
    let gw = Gateway::start(dir.path(), &env, None).await;
    let key = gw.team_key("steady").await;
    let elsewhere = {
        let other = spawn_app(base_config(db.url())).await;
        let key = other.team_key("elsewhere").await;
        other.stop().await;
        key
    };
    let budgeted = gw.team_key("budgeted").await;
    let (status, body) = gw
        .send(
            reqwest::Method::PUT,
            ADMIN_KEY,
            "/v1/teams/budgeted/budget",
            Some(json!({"usd": "100", "period": "day"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, first, _) = gw.chat(&key, "before").await;
    assert_eq!(status, 200);
    gw.wait_for_metric("promptgate_store_up", 1.0).await;
    let errors_before = gw
        .metric("promptgate_record_write_errors_total")
        .await
        .unwrap_or(0.0);

    proxy.go_down().await;
    gw.wait_for_metric("promptgate_store_up", 0.0).await;
    let calls = async {
        let mut answered = vec![first];
        let started = Instant::now();
        while started.elapsed() < OUTAGE {
            let (status, id, body) = gw.chat(&key, &format!("during {}", answered.len())).await;
            assert_eq!(status, 200, "a call during the outage: {body}");
            answered.push(id);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        answered
    };
    let (answered, ()) = tokio::join!(calls, during_the_outage(&gw, &elsewhere, &budgeted));
    let queued = gw.metric("promptgate_records_queued").await.unwrap_or(0.0);
    assert!(queued >= 1.0, "records wait for the store: {queued}");
    // a failed write is counted (after the pool's acquire timeout)
    gw.wait_for_metric_above("promptgate_record_write_errors_total", errors_before)
        .await;

    proxy.heal().await;
    gw.wait_for_metric("promptgate_store_up", 1.0).await;
    gw.wait_for_metric("promptgate_records_queued", 0.0).await;
    assert_one_record_each(&record_counts(db.url()).await, &answered);
    let teams = "SELECT COUNT(*) FROM teams WHERE name = $1";
    assert_eq!(rows_naming(db.url(), teams, "made-during-outage").await, 0);
    let audit = "SELECT COUNT(*) FROM audit_log WHERE target = $1";
    assert_eq!(rows_naming(db.url(), audit, "made-during-outage").await, 0);

    // back without a restart
    let (status, _) = gw
        .post(ADMIN_KEY, "/v1/teams", json!({"name": "made-after"}))
        .await;
    assert_eq!(status, 201);
    let (status, _, body) = gw.chat(&elsewhere, "known now").await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = gw.chat(&budgeted, "budgeted after").await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = gw.send(reqwest::Method::GET, "", "/readyz", None).await;
    assert_eq!(status, 200);
}

fn redis_config(url: &str) -> String {
    format!(
        "[cache]\nredis_url = \"{url}\"\nprefix = \"faults\"\n\n\
         [[cache.rules]]\nmodels = [\"mock-1\"]\nttl_s = 300\n\n\
         [[rate_limits]]\nteam = \"*\"\nrpm = 10000\n"
    )
}

/// Redis is killed and started again, empty. Calls of a team without a
/// budget are answered throughout (cache tier skipped, rate limits counted
/// per replica); a budgeted team's calls get a 503 while its counter cannot
/// be checked, and work again once Redis is back, without a restart.
#[tokio::test]
async fn redis_killed_and_restarted() {
    let Some(mut redis) = PrivateRedis::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("pg.db").display());
    let config = redis_config(&redis.url());
    let gw = Gateway::start(
        dir.path(),
        &[("PROMPTGATE__STORE__URL", store)],
        Some(&config),
    )
    .await;
    let free = gw.team_key("free").await;
    let budgeted = gw.team_key("budgeted").await;
    let (status, body) = gw
        .send(
            reqwest::Method::PUT,
            ADMIN_KEY,
            "/v1/teams/budgeted/budget",
            Some(json!({"usd": "100", "period": "day"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(gw.chat(&free, "a").await.0, 200);
    assert_eq!(gw.chat(&budgeted, "b").await.0, 200);
    gw.wait_for_metric("promptgate_redis_up", 1.0).await;

    redis.kill().await;
    gw.wait_for_metric("promptgate_redis_up", 0.0).await;
    for n in 0..5 {
        let (status, _, body) = gw.chat(&free, &format!("free {n}")).await;
        assert_eq!(status, 200, "a team without a budget: {body}");
    }
    let (status, _, body) = gw.chat(&budgeted, "budgeted during").await;
    assert_unavailable(status, &body, "a budgeted call");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("budget counter"), "{message}");

    assert!(redis.restart().await);
    gw.wait_for_metric("promptgate_redis_up", 1.0).await;
    let started = Instant::now();
    loop {
        let (status, _, body) = gw.chat(&budgeted, "budgeted after").await;
        if status == 200 {
            break;
        }
        assert_unavailable(status, &body, "a budgeted call after the restart");
        assert!(
            started.elapsed() < PATIENCE,
            "the budget counter never came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // the counter starts again from the recorded spend, and the cache tier is used again
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let started = Instant::now();
    // A new body each time: a repeated one would be answered from the
    // in-process tier after its first miss, and if that miss's write to
    // Redis fell in the tier's sit-out after the restart, Redis would
    // never be asked again.
    for n in 0.. {
        let _ = gw.chat(&free, &format!("cached after {n}")).await;
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("faults:*")
            .query_async(&mut conn)
            .await
            .unwrap();
        let budget = keys
            .iter()
            .any(|k| k.starts_with("faults:budget:budgeted:"));
        let cached = keys.iter().any(|k| k.starts_with("faults:resp:"));
        if budget && cached {
            break;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "redis keys after the restart: {keys:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The SQLite file's disk fills up. Calls are answered, their records wait
/// in the queue; an admin write gets a 503 and leaves nothing behind; once
/// room is made every record is written, once, without a restart.
#[tokio::test]
async fn sqlite_disk_full_then_freed() {
    let Some(fs) = Tmpfs::mount("8m") else {
        return;
    };
    let url = format!("sqlite://{}", fs.dir.path().join("pg.db").display());
    let work = tempfile::tempdir().unwrap();
    let gw = Gateway::start(
        work.path(),
        &[("PROMPTGATE__STORE__URL", url.clone())],
        None,
    )
    .await;
    let key = gw.team_key("t").await;
    let (status, first, _) = gw.chat(&key, "before").await;
    assert_eq!(status, 200);
    gw.wait_for_metric("promptgate_records_queued", 0.0).await;
    let errors_before = gw
        .metric("promptgate_record_write_errors_total")
        .await
        .unwrap_or(0.0);

    let filler = fs.fill();
    let mut answered = vec![first];
    let started = Instant::now();
    loop {
        let (status, id, body) = gw.chat(&key, &format!("full {}", answered.len())).await;
        assert_eq!(status, 200, "a call with the disk full: {body}");
        answered.push(id);
        let errors = gw
            .metric("promptgate_record_write_errors_total")
            .await
            .unwrap_or(0.0);
        if errors > errors_before {
            break;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "records kept being written to a full disk"
        );
    }
    let (status, body) = gw
        .post(ADMIN_KEY, "/v1/teams", json!({"name": "made-while-full"}))
        .await;
    assert_unavailable(status, &body, "creating a team on a full disk");
    let queued = gw.metric("promptgate_records_queued").await.unwrap_or(0.0);
    assert!(queued >= 1.0, "records wait for room: {queued}");

    std::fs::remove_file(filler).unwrap();
    gw.wait_for_metric("promptgate_records_queued", 0.0).await;
    assert_one_record_each(&record_counts(&url).await, &answered);
    let teams = "SELECT COUNT(*) FROM teams WHERE name = $1";
    assert_eq!(rows_naming(&url, teams, "made-while-full").await, 0);
    let (status, _) = gw
        .post(ADMIN_KEY, "/v1/teams", json!({"name": "made-after"}))
        .await;
    assert_eq!(status, 201);
    drop(gw);
}

/// A budgeted stream that starts before Redis is restarted and ends after:
/// its settlement used to create the period's counter in the empty Redis
/// (reserved below zero, spent without what the team spent before), so the
/// team's budget restarted near zero. Now the next reservation starts the
/// counter again from the recorded spend.
#[tokio::test]
async fn a_stream_across_a_redis_restart_does_not_restart_its_budget_at_zero() {
    let Some(mut redis) = PrivateRedis::start().await else {
        return;
    };
    let puppet = crate::helpers::puppet_upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("pg.db").display());
    let config = format!(
        "[cache]\nredis_url = \"{}\"\nprefix = \"faults\"\n\n\
         [[upstreams]]\nname = \"puppet\"\nbase_url = \"http://{}/v1\"\nmodels = [\"p\"]\ntimeout_s = 30\n\n\
         [prices.\"p\"]\ninput = \"1\"\noutput = \"1\"\n",
        redis.url(),
        puppet.addr
    );
    let gw = Gateway::start(
        dir.path(),
        &[("PROMPTGATE__STORE__URL", store)],
        Some(&config),
    )
    .await;
    let key = gw.team_key("budgeted").await;
    let other = gw.team_key("other").await;
    for team in ["budgeted", "other"] {
        let (status, body) = gw
            .send(
                reqwest::Method::PUT,
                ADMIN_KEY,
                &format!("/v1/teams/{team}/budget"),
                Some(json!({"usd": "100", "period": "day"})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, _, _) = gw.chat(&key, "spend before the restart").await;
    assert_eq!(status, 200);
    gw.wait_for_metric("promptgate_records_queued", 0.0).await;
    let spent_before = budget_counter(&gw, "budgeted").await.unwrap().0;
    assert!(
        spent_before > Decimal::ZERO,
        "the first call cost something"
    );

    let frame = json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "p",
        "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": null}]});
    puppet
        .frames
        .send(format!("data: {frame}\n\n").into())
        .unwrap();
    let resp = gw
        .http
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&json!({"model": "p", "stream": true, "max_tokens": 1000,
            "messages": [{"role": "user", "content": "a long answer"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "the stream's head: reserved");

    redis.kill().await;
    assert!(redis.restart().await);
    // the budget counter's connection is back (another team's call goes through it)
    let started = Instant::now();
    while gw.chat(&other, "after the restart").await.0 != 200 {
        assert!(
            started.elapsed() < PATIENCE,
            "the budget counter never came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let last = json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "p",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}});
    puppet
        .frames
        .send(format!("data: {last}\n\ndata: [DONE]\n\n").into())
        .unwrap();
    drop(puppet.frames);
    resp.text().await.unwrap();
    gw.wait_for_metric("promptgate_records_queued", 0.0).await;

    let (status, _, _) = gw.chat(&key, "spend after the restart").await;
    assert_eq!(status, 200);
    let (spent, reserved) = budget_counter(&gw, "budgeted").await.unwrap();
    assert!(reserved >= Decimal::ZERO, "reserved {reserved}");
    assert!(
        spent >= spent_before,
        "spent {spent}, before the restart {spent_before}"
    );
}

/// `(spent, reserved)` of a team's budget, as the gateway reports them from
/// its counter in Redis (the counter's own layout is the gateway's business).
async fn budget_counter(gw: &Gateway, team: &str) -> Option<(Decimal, Decimal)> {
    let (status, body) = gw
        .send(
            reqwest::Method::GET,
            ADMIN_KEY,
            &format!("/v1/teams/{team}/budget"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let usd = |field: &str| Decimal::from_str(body[field].as_str()?).ok();
    Some((usd("spent_usd")?, usd("reserved_usd")?))
}
