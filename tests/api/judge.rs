//! The judge tier (`[grounding.judge]`): async verdicts on the record, sync
//! verdicts in headers, its cost in the caller's ledger and budget, the
//! verdict cache, and a judge that fails, hangs or talks nonsense.

use std::net::SocketAddr;
use std::time::Duration;

use promptgate::Config;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::helpers::{
    base_config, error_of, http_upstream, mock_upstream, spawn_app, TestApp, TestDb, ADMIN_KEY,
};

const CONTEXT: &str = "The Eiffel Tower is 330 metres tall and stands in Paris. It opened in 1889.";

/// A config whose judge is `model` with the given `[grounding.judge]` keys.
fn judged(db: &TestDb, judge: Value) -> Config {
    let mut config = base_config(db.url());
    let mut table = json!({"model": "mock-1", "sample_rate": 1.0});
    for (k, v) in judge.as_object().unwrap() {
        table[k] = v.clone();
    }
    config.grounding.judge = Some(serde_json::from_value(table).unwrap());
    config
}

/// A judge model on its own mock server, so tests can count its calls.
fn judged_by_server(db: &TestDb, addr: SocketAddr, judge: Value) -> Config {
    let mut config = judged(db, judge);
    config.upstreams = vec![http_upstream("judges", addr, &["judge-model"], 5)];
    config.grounding.judge.as_mut().unwrap().model = "judge-model".into();
    config
}

/// `mock-repeat` answers with `answer`; the request carries the context.
async fn ask(app: &TestApp, key: &str, answer: &str, grounding: Value) -> reqwest::Response {
    let mut g = json!({"context": [CONTEXT]});
    for (k, v) in grounding.as_object().unwrap() {
        g[k] = v.clone();
    }
    app.post(
        key,
        "/v1/chat/completions",
        json!({"model": "mock-repeat", "messages": [{"role": "user", "content": answer}],
               "grounding": g}),
    )
    .await
}

async fn sync_ask(app: &TestApp, key: &str, answer: &str) -> reqwest::Response {
    ask(app, key, answer, json!({"tiers": ["fast", "judge"]})).await
}

fn header<'a>(resp: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

fn id_of(resp: &reqwest::Response) -> String {
    header(resp, "x-request-id").unwrap().to_owned()
}

async fn content_of(resp: reqwest::Response) -> String {
    let body: Value = resp.json().await.unwrap();
    body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Waits until the record has the judge's verdict (or its error).
async fn judged_record(app: &TestApp, key: &str, id: &str) -> Value {
    for _ in 0..200 {
        let rec = app.record(key, id).await;
        let g = &rec["grounding"];
        if !g["judge"].is_null() || !g["judge_error"].is_null() {
            return rec;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("record {id} never got a judge verdict");
}

async fn served(addr: SocketAddr) -> u64 {
    let stats: Value = reqwest::get(format!("http://{addr}/v1/stats"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    stats["served"].as_u64().unwrap()
}

fn dec(v: &Value) -> Decimal {
    v.as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn async_verdict_lands_on_the_record_and_in_flagged_listings() {
    let db = TestDb::sqlite();
    let app = spawn_app(judged(&db, json!({"mode": "async"}))).await;
    let key = app.team_key("t").await;
    let answer = "The Eiffel Tower opened in 1925 in Berlin.";
    let resp = ask(&app, &key, answer, json!({})).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-promptgate-judge"), Some("pending"));
    let id = id_of(&resp);
    assert_eq!(content_of(resp).await, answer);

    let rec = judged_record(&app, &key, &id).await;
    let judge = &rec["grounding"]["judge"];
    assert_eq!(judge["score"], 0.0, "{rec}");
    assert_eq!(judge["flagged"], true);
    assert_eq!(judge["model"], "mock-1");
    assert_eq!(judge["claims"][0]["supported"], false);
    assert_eq!(rec["grounding"]["combined"]["rule"], "judge");
    assert_eq!(rec["flagged"], true);
    // The fast tier's report is still there, whole.
    assert!(rec["grounding"]["claims"]
        .as_array()
        .is_some_and(|c| !c.is_empty()));

    let good = ask(&app, &key, "The Eiffel Tower opened in 1889.", json!({})).await;
    let good_id = id_of(&good);
    let good_rec = judged_record(&app, &key, &good_id).await;
    assert_eq!(good_rec["grounding"]["judge"]["score"], 1.0, "{good_rec}");
    let quote = good_rec["grounding"]["judge"]["claims"][0]["quote"]
        .as_str()
        .unwrap();
    assert!(CONTEXT.contains(quote), "{quote}");
    assert_eq!(good_rec["flagged"], false);

    let flagged: Value = app
        .get(&key, "/v1/requests?flagged=true")
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = flagged["data"]
        .as_array()
        .or(flagged.as_array())
        .unwrap()
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert!(ids.contains(&id.as_str()), "{flagged}");
    assert!(!ids.contains(&good_id.as_str()));

    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("promptgate_grounding_judge_verdicts_total"),
        "{metrics}"
    );
    app.stop().await;
}

#[tokio::test]
async fn sync_verdict_comes_in_headers_and_the_judge_rule_decides() {
    let db = TestDb::sqlite();
    let app = spawn_app(judged(&db, json!({"mode": "async", "flag": "judge"}))).await;
    let key = app.team_key("t").await;
    let answer = "The Eiffel Tower opened in 1889. It stands in Berlin.";
    let resp = sync_ask(&app, &key, answer).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-promptgate-judge"), Some("0.5000"));
    assert_eq!(header(&resp, "x-promptgate-flagged"), Some("true"));
    assert!(header(&resp, "x-promptgate-grounding").is_some());
    let id = id_of(&resp);
    assert_eq!(content_of(resp).await, answer);
    let rec = app.record(&key, &id).await;
    let claims = rec["grounding"]["judge"]["claims"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(claims.len(), 2, "{rec}");
    assert_eq!(claims[0]["supported"], true);
    assert_eq!(claims[1]["supported"], false);
    assert_eq!(rec["flagged"], true);

    // `tiers: ["fast"]` asks for no judge, whatever the sample rate.
    let fast_only = ask(&app, &key, answer, json!({"tiers": ["fast"]})).await;
    assert!(header(&fast_only, "x-promptgate-judge").is_none());
    let rec = app.record(&key, &id_of(&fast_only)).await;
    assert!(rec["grounding"]["judge"].is_null());

    // A bad `tiers` is the client's error, named.
    let bad = ask(&app, &key, answer, json!({"tiers": ["slow"]})).await;
    assert_eq!(bad.status(), 400);
    let v: Value = bad.json().await.unwrap();
    assert_eq!(error_of(&v).1, Some("grounding.tiers"));
    app.stop().await;
}

#[tokio::test]
async fn sync_mode_judges_sampled_requests_and_sample_rate_zero_judges_none() {
    let db = TestDb::sqlite();
    let app = spawn_app(judged(&db, json!({"mode": "sync", "flag": "either"}))).await;
    let key = app.team_key("t").await;
    let resp = ask(&app, &key, "The Eiffel Tower opened in 1889.", json!({})).await;
    assert_eq!(header(&resp, "x-promptgate-judge"), Some("1.0000"));
    assert_eq!(header(&resp, "x-promptgate-flagged"), Some("false"));
    app.stop().await;

    let db = TestDb::sqlite();
    let app = spawn_app(judged(&db, json!({"sample_rate": 0.0}))).await;
    let key = app.team_key("t").await;
    let resp = ask(&app, &key, "The Eiffel Tower opened in 1889.", json!({})).await;
    assert!(header(&resp, "x-promptgate-judge").is_none());
    let rec = app.record(&key, &id_of(&resp)).await;
    assert!(rec["grounding"]["judge"].is_null(), "{rec}");
    // Asking explicitly still gets the judge.
    let resp = sync_ask(&app, &key, "The Eiffel Tower opened in 1889.").await;
    assert_eq!(header(&resp, "x-promptgate-judge"), Some("1.0000"));
    app.stop().await;
}

#[tokio::test]
async fn the_judge_call_is_the_callers_tagged_ledger_row_and_counts_against_the_budget() {
    let db = TestDb::sqlite();
    let app = spawn_app(judged(&db, json!({}))).await;
    let key = app.team_key("t").await;
    let put = app
        .put(
            ADMIN_KEY,
            "/v1/teams/t/budget",
            json!({"usd": 100.0, "period": "month"}),
        )
        .await;
    assert_eq!(put.status(), 200);
    let resp = sync_ask(&app, &key, "The Eiffel Tower opened in 1889.").await;
    assert_eq!(header(&resp, "x-promptgate-judge"), Some("1.0000"));
    let id = id_of(&resp);
    let main = app.record(&key, &id).await;
    let judge = app.record(&key, &format!("{id}:judge")).await;
    assert_eq!(judge["team"], "t", "{judge}");
    assert_eq!(judge["tags"], json!(["grounding-judge"]));
    assert_eq!(judge["model"], "mock-1");
    assert!(judge["grounding"].is_null());
    let judge_cost = dec(&judge["cost_usd"]);
    assert!(judge_cost > Decimal::ZERO, "{judge}");

    let report: Value = app
        .get(&key, "/v1/costs?group_by=tag")
        .await
        .json()
        .await
        .unwrap();
    let row = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["tag"] == "grounding-judge")
        .unwrap_or_else(|| panic!("no grounding-judge row: {report}"));
    assert_eq!(row["requests"], 1);
    assert_eq!(dec(&row["cost_usd"]), judge_cost);

    // The budget has spent both calls (settled asynchronously; the counter
    // rounds each call up to a micro-USD).
    let micro = |d: Decimal| (d * Decimal::from(1_000_000)).ceil() / Decimal::from(1_000_000);
    let expected = micro(dec(&main["cost_usd"])) + micro(judge_cost);
    let mut spent = Decimal::ZERO;
    for _ in 0..100 {
        let budget: Value = app
            .get(&key, "/v1/teams/t/budget")
            .await
            .json()
            .await
            .unwrap();
        spent = dec(&budget["spent_usd"]);
        if spent == expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(spent, expected);
    app.stop().await;
}

#[tokio::test]
async fn an_identical_second_call_is_a_verdict_cache_hit() {
    let judges = mock_upstream().await;
    let db = TestDb::sqlite();
    let app = spawn_app(judged_by_server(&db, judges, json!({}))).await;
    let key = app.team_key("t").await;
    let answer = "The Eiffel Tower opened in 1889. It stands in Berlin.";
    let first = sync_ask(&app, &key, answer).await;
    assert_eq!(header(&first, "x-promptgate-judge"), Some("0.5000"));
    let first = app.record(&key, &id_of(&first)).await;
    assert_eq!(first["grounding"]["judge"]["cached"], false);
    assert_eq!(served(judges).await, 1);

    let second = sync_ask(&app, &key, answer).await;
    assert_eq!(header(&second, "x-promptgate-judge"), Some("0.5000"));
    let second_id = id_of(&second);
    let second = app.record(&key, &second_id).await;
    assert_eq!(second["grounding"]["judge"]["cached"], true, "{second}");
    assert_eq!(served(judges).await, 1, "no second judge call");
    let none = app
        .get(&key, &format!("/v1/requests/{second_id}:judge"))
        .await;
    assert_eq!(none.status(), 404);

    // Another answer is judged anew.
    sync_ask(&app, &key, "The Eiffel Tower opened in 1889.").await;
    assert_eq!(served(judges).await, 2);

    // Another team's identical call is judged for that team: verdicts are
    // kept per team, like cached answers.
    let other = app.team_key("u").await;
    let theirs = sync_ask(&app, &other, answer).await;
    let theirs = app.record(&other, &id_of(&theirs)).await;
    assert_eq!(theirs["grounding"]["judge"]["cached"], false, "{theirs}");
    assert_eq!(served(judges).await, 3);
    app.stop().await;
}

#[tokio::test]
async fn a_fabricated_quote_is_caught() {
    let db = TestDb::sqlite();
    let app = spawn_app(judged(&db, json!({}))).await;
    let key = app.team_key("t").await;
    let resp = sync_ask(
        &app,
        &key,
        "The Eiffel Tower opened in 1889 judge-fabricate.",
    )
    .await;
    assert_eq!(header(&resp, "x-promptgate-judge"), Some("0.0000"));
    assert_eq!(header(&resp, "x-promptgate-flagged"), Some("true"));
    let rec = app.record(&key, &id_of(&resp)).await;
    let claim = &rec["grounding"]["judge"]["claims"][0];
    assert_eq!(claim["supported"], false, "{rec}");
    assert_eq!(claim["quote_found"], false);
    assert_eq!(claim["quote"], "The context says exactly this.");
    assert_eq!(claim["reason"], "the quote is not in the context");
    app.stop().await;
}

/// A judge that fails leaves the caller's answer and the fast result as they were.
async fn failing_judge(trigger: &str, code: &str, async_mode: bool) {
    let db = TestDb::sqlite();
    let app = spawn_app(judged(&db, json!({"timeout_ms": 300}))).await;
    let key = app.team_key("t").await;
    let answer = format!("The Eiffel Tower opened in 1889 {trigger}.");
    let started = std::time::Instant::now();
    let resp = if async_mode {
        ask(&app, &key, &answer, json!({})).await
    } else {
        sync_ask(&app, &key, &answer).await
    };
    assert_eq!(resp.status(), 200, "{trigger}");
    let id = id_of(&resp);
    let fast_flag = header(&resp, "x-promptgate-flagged").unwrap().to_owned();
    if async_mode {
        assert_eq!(header(&resp, "x-promptgate-judge"), Some("pending"));
    } else {
        assert_eq!(header(&resp, "x-promptgate-judge"), Some("error"));
        assert_eq!(header(&resp, "x-promptgate-judge-error"), Some(code));
    }
    assert_eq!(content_of(resp).await, answer);
    assert!(started.elapsed() < Duration::from_secs(5));

    let rec = judged_record(&app, &key, &id).await;
    let g = &rec["grounding"];
    assert!(g["judge"].is_null(), "{rec}");
    assert_eq!(g["judge_error"]["code"], code, "{rec}");
    assert!(g["judge_error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    // The fast result stands.
    assert_eq!(rec["flagged"], g["flagged"]);
    assert_eq!(rec["flagged"].to_string(), fast_flag);
    assert_eq!(rec["status"], 200);
    app.stop().await;
}

#[tokio::test]
async fn a_judge_500_leaves_the_fast_result() {
    failing_judge("judge-500", "upstream_error", false).await;
    failing_judge("judge-500", "upstream_error", true).await;
}

#[tokio::test]
async fn a_judge_timeout_leaves_the_fast_result() {
    failing_judge("judge-hang", "timeout", false).await;
    failing_judge("judge-hang", "timeout", true).await;
}

#[tokio::test]
async fn a_non_json_judge_answer_leaves_the_fast_result() {
    failing_judge("judge-garbage", "invalid_verdict", false).await;
}

#[tokio::test]
async fn score_endpoint_runs_the_tiers_asked_for() {
    let db = TestDb::sqlite();
    let app = spawn_app(judged(&db, json!({"flag": "either"}))).await;
    let key = app.team_key("t").await;
    let score = |tiers: Value| {
        let (app, key) = (&app, &key);
        async move {
            let mut body = json!({"context": [CONTEXT],
                "answer": "The Eiffel Tower opened in 1889. It stands in Berlin."});
            if !tiers.is_null() {
                body["tiers"] = tiers;
            }
            app.post(key, "/v1/grounding/score", body).await
        }
    };
    let fast: Value = score(Value::Null).await.json().await.unwrap();
    assert!(fast["score"].is_number());
    assert!(fast["judge"].is_null());
    assert_eq!(fast["tiers"], json!(["fast"]));
    assert_eq!(fast["combined"]["flagged"], fast["flagged"]);

    let both: Value = score(json!(["fast", "judge"])).await.json().await.unwrap();
    assert_eq!(both["score"], fast["score"]);
    assert_eq!(both["judge"]["score"], 0.5, "{both}");
    assert_eq!(both["combined"], json!({"flagged": true, "rule": "either"}));

    let judge_only: Value = score(json!(["judge"])).await.json().await.unwrap();
    assert!(judge_only["score"].is_null());
    assert_eq!(judge_only["judge"]["score"], 0.5);
    assert_eq!(judge_only["combined"]["flagged"], true);

    for bad in [json!([]), json!(["fast", "slow"]), json!("judge")] {
        let resp = score(bad).await;
        assert_eq!(resp.status(), 400);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(error_of(&v).1, Some("tiers"), "{v}");
    }
    app.stop().await;

    // Without `[grounding.judge]` the judge tier is refused, naming the field.
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let key = app.team_key("t").await;
    let resp = app
        .post(
            &key,
            "/v1/grounding/score",
            json!({"context": CONTEXT, "answer": "x", "tiers": ["judge"]}),
        )
        .await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(error_of(&v).1, Some("tiers"));
    app.stop().await;
}

#[tokio::test]
async fn a_judge_model_no_upstream_serves_stops_the_start() {
    let db = TestDb::sqlite();
    let mut config = judged(&db, json!({}));
    config.grounding.judge.as_mut().unwrap().model = "gpt-judge".into();
    let err = promptgate::App::build(config).await.err().expect("refused");
    assert!(err.to_string().contains("grounding.judge.model"), "{err}");
}

#[tokio::test]
async fn streamed_answers_get_the_verdict_on_the_record() {
    let db = TestDb::sqlite();
    let app = spawn_app(judged(&db, json!({"mode": "sync"}))).await;
    let key = app.team_key("t").await;
    let resp = app
        .post(
            &key,
            "/v1/chat/completions",
            json!({"model": "mock-repeat", "stream": true,
                   "messages": [{"role": "user", "content": "The Eiffel Tower opened in 1925 in Berlin."}],
                   "grounding": {"context": [CONTEXT], "tiers": ["fast", "judge"]}}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    // A stream cannot wait for the judge: its verdict goes to the record.
    assert_eq!(header(&resp, "x-promptgate-judge"), Some("pending"));
    let id = id_of(&resp);
    let text = resp.text().await.unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    let rec = judged_record(&app, &key, &id).await;
    assert_eq!(rec["grounding"]["judge"]["score"], 0.0, "{rec}");
    assert_eq!(rec["flagged"], true);
    app.stop().await;
}

#[tokio::test]
async fn shutdown_waits_for_a_pending_verdict() {
    let db = TestDb::sqlite();
    let judges = mock_upstream().await;
    let mut config = judged_by_server(&db, judges, json!({}));
    // The judge model is slow (100 ms): the answer is back long before the verdict.
    config
        .aliases
        .insert("slow-judge".into(), "judges/mock-slow".into());
    config.grounding.judge.as_mut().unwrap().model = "slow-judge".into();
    let app = spawn_app(config).await;
    let key = app.team_key("t").await;
    let resp = ask(&app, &key, "The Eiffel Tower opened in 1889.", json!({})).await;
    assert_eq!(header(&resp, "x-promptgate-judge"), Some("pending"));
    let id = id_of(&resp);
    let state = app.state.clone();
    app.stop().await;
    let rec = state
        .store
        .get_record(&id, None)
        .await
        .unwrap()
        .expect("record written");
    let grounding: Value = serde_json::from_str(rec.grounding.as_deref().unwrap()).unwrap();
    assert_eq!(grounding["judge"]["score"], 1.0, "{grounding}");
}

#[tokio::test]
async fn the_flag_rule_decides_and_a_judge_only_request_ignores_the_fast_flag() {
    let db = TestDb::sqlite();
    // threshold 0: this judge never flags; the fast tier flags this answer.
    let app = spawn_app(judged(&db, json!({"flag": "fast", "threshold": 0.0}))).await;
    let key = app.team_key("t").await;
    let answer = "The Eiffel Tower opened in 1925 in Berlin.";
    let both = sync_ask(&app, &key, answer).await;
    assert_eq!(header(&both, "x-promptgate-judge"), Some("0.0000"));
    assert_eq!(header(&both, "x-promptgate-flagged"), Some("true"));
    let judge_only = ask(&app, &key, answer, json!({"tiers": ["judge"]})).await;
    assert_eq!(header(&judge_only, "x-promptgate-judge"), Some("0.0000"));
    assert_eq!(header(&judge_only, "x-promptgate-flagged"), Some("false"));
    let rec = app.record(&key, &id_of(&judge_only)).await;
    assert_eq!(rec["flagged"], false);
    // The fast report itself still says what the fast tier found.
    assert_eq!(rec["grounding"]["flagged"], true, "{rec}");
    app.stop().await;

    let db = TestDb::sqlite();
    let app = spawn_app(judged(&db, json!({"flag": "either", "threshold": 0.0}))).await;
    let key = app.team_key("t").await;
    let resp = sync_ask(&app, &key, answer).await;
    assert_eq!(header(&resp, "x-promptgate-flagged"), Some("true"));
    app.stop().await;
}

#[tokio::test]
async fn a_team_over_budget_gets_no_verdict_but_its_answer() {
    let db = TestDb::sqlite();
    let app = spawn_app(judged(&db, json!({}))).await;
    let key = app.team_key("t").await;
    // Room for one call's worst case (16,384 output tokens at 2 USD per
    // million), not for the judge call made while the answer's is held.
    let put = app
        .put(
            ADMIN_KEY,
            "/v1/teams/t/budget",
            json!({"usd": 0.05, "period": "month"}),
        )
        .await;
    assert_eq!(put.status(), 200);
    let answer = "The Eiffel Tower opened in 1889.";
    let resp = sync_ask(&app, &key, answer).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-promptgate-judge"), Some("error"));
    assert_eq!(
        header(&resp, "x-promptgate-judge-error"),
        Some("budget_exceeded")
    );
    let id = id_of(&resp);
    assert_eq!(content_of(resp).await, answer);
    let rec = app.record(&key, &id).await;
    assert_eq!(
        rec["grounding"]["judge_error"]["code"], "budget_exceeded",
        "{rec}"
    );
    let refused = app.record(&key, &format!("{id}:judge")).await;
    assert_eq!(refused["status"], 429);
    assert_eq!(refused["tags"], json!(["grounding-judge"]));
    app.stop().await;
}
