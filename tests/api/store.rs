//! The store suite, run against SQLite and PostgreSQL alike.

use promptgate::store::{self, ApiKeyRow, RecordFilter, RecordSearch, RequestRecord, Team};

use crate::helpers::{Backend, TestDb};

/// Runs `$body` with a fresh store of each backend.
macro_rules! on_both_backends {
    ($name:ident, |$store:ident| $body:block) => {
        mod $name {
            use super::*;

            async fn run(backend: Backend) {
                let Some(db) = TestDb::new(backend).await else {
                    return;
                };
                let $store = store::connect(db.url(), 4).await.expect("connect");
                $body
            }

            #[tokio::test]
            async fn sqlite() {
                run(Backend::Sqlite).await;
            }

            #[tokio::test]
            async fn postgres() {
                run(Backend::Postgres).await;
            }
        }
    };
}

fn record(id: &str, team: &str, n: i64) -> RequestRecord {
    RequestRecord {
        id: id.into(),
        team: team.into(),
        key_id: Some("key_1".into()),
        endpoint: "chat.completions".into(),
        model: Some("mock-1".into()),
        upstream: Some("mock".into()),
        stream: n % 2 == 0,
        status: 200,
        outcome: "ok".into(),
        prompt_tokens: Some(10 + n),
        completion_tokens: Some(5),
        cached_tokens: Some(0),
        reasoning_tokens: Some(0),
        latency_us: 1234,
        ttft_us: Some(100),
        client_closed: false,
        error: None,
        metadata: Some(r#"{"user":"u-1"}"#.into()),
        created_at: 1_700_000_000_000 + n,
        prompt_name: Some("support/answer".into()),
        prompt_version: Some(3),
        prompt_sha256: Some("abc".into()),
        cache: Some("miss".into()),
        cost_pusd: Some(1_000 * n),
        saved_pusd: None,
        usage_source: Some("upstream".into()),
        tags: None,
        grounding_score: None,
        flagged: None,
        grounding: None,
        key_hint: Some("pg-abcdef".into()),
        attempts: Some(1),
        budget_charge: None,
    }
}

on_both_backends!(teams_are_unique, |s| {
    let t = Team {
        name: "search".into(),
        created_at: 1,
    };
    assert!(s.create_team(&t).await.unwrap());
    assert!(
        !s.create_team(&t).await.unwrap(),
        "second create is refused"
    );
    assert_eq!(s.get_team("search").await.unwrap().unwrap().name, "search");
    assert!(s.get_team("nope").await.unwrap().is_none());
    s.create_team(&Team {
        name: "ads".into(),
        created_at: 2,
    })
    .await
    .unwrap();
    let names: Vec<String> = s
        .list_teams()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, vec!["ads", "search"]);
});

on_both_backends!(keys_store_hashes_and_revoke_once, |s| {
    s.create_team(&Team {
        name: "t".into(),
        created_at: 1,
    })
    .await
    .unwrap();
    let key = ApiKeyRow {
        id: "key_a".into(),
        team: "t".into(),
        key_hash: "h1".into(),
        hint: "pg-abc".into(),
        created_at: 5,
        revoked_at: None,
        name: Some("ci".into()),
        expires_at: Some(4_000_000_000_000),
        allowed_models: Some(r#"["mock-1"]"#.into()),
        previous_hash: None,
        previous_hint: None,
        previous_expires_at: None,
    };
    s.insert_key(&key).await.unwrap();
    let stored = s.get_key("key_a").await.unwrap().unwrap();
    assert_eq!(stored.name.as_deref(), Some("ci"));
    assert_eq!(stored.expires_at, Some(4_000_000_000_000));
    assert_eq!(stored.models(), Some(vec!["mock-1".to_owned()]));
    // rotation: the new secret finds the key, the old one too (until its grace)
    let rotation = promptgate::store::KeyRotation {
        id: "key_a",
        new_hash: "h2",
        new_hint: "pg-def",
        old_valid_until: 77,
    };
    assert!(s.rotate_key(&rotation).await.unwrap());
    let by_new = s.find_key_by_hash("h2").await.unwrap().unwrap();
    assert_eq!(
        (by_new.id.as_str(), by_new.hint.as_str()),
        ("key_a", "pg-def")
    );
    let by_old = s.find_key_by_hash("h1").await.unwrap().unwrap();
    assert_eq!(by_old.previous_hint.as_deref(), Some("pg-abc"));
    assert_eq!(by_old.previous_expires_at, Some(77));
    let unknown = promptgate::store::KeyRotation {
        id: "key_nope",
        ..rotation
    };
    assert!(!s.rotate_key(&unknown).await.unwrap());
    assert_eq!(s.find_key_by_hash("h2").await.unwrap().unwrap().id, "key_a");
    assert_eq!(s.active_keys().await.unwrap().len(), 1);
    assert!(s.revoke_key("key_a", 9).await.unwrap());
    assert!(!s.revoke_key("key_a", 10).await.unwrap(), "already revoked");
    assert!(s.active_keys().await.unwrap().is_empty());
    assert_eq!(
        s.get_key("key_a").await.unwrap().unwrap().revoked_at,
        Some(9)
    );
    assert_eq!(s.list_keys("t").await.unwrap().len(), 1);
    // A key for a team that does not exist violates the foreign key.
    let orphan = ApiKeyRow {
        id: "key_b".into(),
        team: "ghost".into(),
        key_hash: "h2".into(),
        ..key
    };
    assert!(s.insert_key(&orphan).await.is_err());
});

on_both_backends!(settings_first_writer_wins, |s| {
    assert!(s.get_setting("x").await.unwrap().is_none());
    assert_eq!(s.put_setting_if_absent("x", "one").await.unwrap(), "one");
    assert_eq!(s.put_setting_if_absent("x", "two").await.unwrap(), "one");
});

on_both_backends!(cache_clears_are_read_back_in_order, |s| {
    assert_eq!(s.last_cache_clear().await.expect("last"), 0);
    let first = s.note_cache_clear(None, 1_000).await.expect("note");
    let second = s.note_cache_clear(Some("faq"), 2_000).await.expect("note");
    assert!(second > first);
    assert_eq!(s.last_cache_clear().await.expect("last"), second);
    assert_eq!(
        s.cache_clears_after(0).await.expect("read"),
        [(first, None), (second, Some("faq".to_owned()))]
    );
    assert_eq!(
        s.cache_clears_after(first).await.expect("read"),
        [(second, Some("faq".to_owned()))]
    );
    assert!(s.cache_clears_after(second).await.expect("read").is_empty());
});

on_both_backends!(records_round_trip_and_are_team_scoped, |s| {
    let batch: Vec<RequestRecord> = (0..300)
        .map(|i| record(&format!("r{i}"), if i % 3 == 0 { "a" } else { "b" }, i))
        .collect();
    s.insert_records(&batch).await.unwrap();
    let got = s.get_record("r4", None).await.unwrap().unwrap();
    assert_eq!(got.prompt_tokens, Some(14));
    assert_eq!(got.metadata.as_deref(), Some(r#"{"user":"u-1"}"#));
    assert!(got.stream);
    assert!(
        s.get_record("r4", Some("a")).await.unwrap().is_none(),
        "r4 belongs to team b"
    );
    assert!(s.get_record("r3", Some("a")).await.unwrap().is_some());
    let a = s
        .list_records(&RecordFilter {
            flagged: None,
            team: Some("a".into()),
            limit: 1000,
        })
        .await
        .unwrap();
    assert_eq!(a.len(), 100);
    assert!(a.iter().all(|r| r.team == "a"));
    let all = s
        .list_records(&RecordFilter {
            flagged: None,
            team: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 10);
    assert_eq!(all[0].id, "r299", "newest first");
});

on_both_backends!(batch_writer_flushes_everything_on_finish, |s| {
    // A queue smaller than the load: senders wait for room, nothing is dropped.
    let (sink, writer) = promptgate::store::writer::spawn(s.clone(), 8, 4);
    let mut tasks = Vec::new();
    for i in 0..100 {
        let sink = sink.clone();
        tasks.push(tokio::spawn(async move {
            sink.send(record(&format!("w{i}"), "a", i)).await
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    drop(sink);
    writer.finish().await;
    assert_eq!(
        s.list_records(&RecordFilter {
            flagged: None,
            team: None,
            limit: 1000
        })
        .await
        .unwrap()
        .len(),
        100
    );
});

on_both_backends!(repeated_client_ids_keep_both_records, |s| {
    s.insert_records(&[record("same", "a", 1)]).await.unwrap();
    s.insert_records(&[record("same", "a", 2)]).await.unwrap();
    let got = s.get_record("same", Some("a")).await.unwrap().unwrap();
    assert_eq!(got.prompt_tokens, Some(12), "newest wins on lookup");
    assert_eq!(
        s.list_records(&RecordFilter {
            flagged: None,
            team: None,
            limit: 100
        })
        .await
        .unwrap()
        .len(),
        2
    );
});

fn version_row(name: &str, content: &str) -> promptgate::store::PromptVersionRow {
    promptgate::store::PromptVersionRow {
        name: name.into(),
        version: 0,
        content: content.into(),
        sha256: format!("sha-{content}"),
        commit_message: Some("msg".into()),
        author: Some("admin".into()),
        source: "api".into(),
        created_at: 1_000,
    }
}

on_both_backends!(prompt_versions_number_up_and_skip_identical_content, |s| {
    use promptgate::store::VersionWrite;
    let labels = vec!["production".to_string()];
    let VersionWrite::Created(v1) = s
        .write_version(&version_row("p", "a"), &labels, Some("admin"))
        .await
        .unwrap()
    else {
        panic!("first write creates")
    };
    assert_eq!(v1.version, 1);
    let VersionWrite::Unchanged(same) = s
        .write_version(&version_row("p", "a"), &[], None)
        .await
        .unwrap()
    else {
        panic!("identical content is a no-op")
    };
    assert_eq!(same.version, 1);
    let VersionWrite::Created(v2) = s
        .write_version(&version_row("p", "b"), &[], None)
        .await
        .unwrap()
    else {
        panic!("new content creates")
    };
    assert_eq!(v2.version, 2);
    // Same content as version 1 but not the latest: a new version.
    let VersionWrite::Created(v3) = s
        .write_version(&version_row("p", "a"), &[], None)
        .await
        .unwrap()
    else {
        panic!("content of an older version is new again")
    };
    assert_eq!(v3.version, 3);
    assert_eq!(
        s.prompt_versions("p")
            .await
            .unwrap()
            .iter()
            .map(|v| v.version)
            .collect::<Vec<_>>(),
        vec![3, 2, 1]
    );
    let rev = s.registry_revision().await.unwrap();
    let m = store::LabelWrite {
        name: "p",
        label: "production",
        target: r#"{"version":2}"#,
        actor: Some("ops"),
        at: 2_000,
    };
    s.move_label(&m).await.unwrap();
    assert!(s.registry_revision().await.unwrap() > rev);
    let history = s.label_history("p", "production").await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].from_target.as_deref(), Some(r#"{"version":1}"#));
    assert_eq!(history[0].to_target, r#"{"version":2}"#);
    assert_eq!(history[0].actor.as_deref(), Some("ops"));
    assert_eq!(history[1].from_target, None);
    let labels = s.all_prompt_labels().await.unwrap();
    assert_eq!(labels.len(), 1);
    assert_eq!(labels[0].target, r#"{"version":2}"#);
});

on_both_backends!(concurrent_version_writes_get_distinct_numbers, |s| {
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.write_version(&version_row("race", &format!("c{i}")), &[], None)
                .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let versions: Vec<i64> = s
        .prompt_versions("race")
        .await
        .unwrap()
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(versions, (1..=8).rev().collect::<Vec<_>>());
});

on_both_backends!(record_search_filters_and_pages_in_the_store, |s| {
    let mut records = Vec::new();
    for n in 0..7 {
        let mut r = record(&format!("r{n}"), if n < 5 { "a" } else { "b" }, n);
        r.model = Some(if n % 2 == 0 { "mock-even" } else { "mock-odd" }.into());
        r.status = if n == 3 { 429 } else { 200 };
        r.tags = Some(if n < 2 { r#"["beta","x"]"# } else { r#"["x"]"# }.into());
        r.flagged = Some(n == 4);
        if n == 6 {
            r.prompt_name = Some("other".into());
        }
        records.push(r);
    }
    s.insert_records(&records).await.unwrap();
    let ids = |rs: Vec<RequestRecord>| rs.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let all = RecordSearch {
        limit: 100,
        ..RecordSearch::default()
    };
    assert_eq!(
        ids(s.search_records(&all).await.unwrap()),
        ["r6", "r5", "r4", "r3", "r2", "r1", "r0"],
        "newest first"
    );
    let only = |f: RecordSearch| {
        let s = s.clone();
        async move { ids(s.search_records(&f).await.unwrap()) }
    };
    assert_eq!(
        only(RecordSearch {
            team: Some("b".into()),
            ..all.clone()
        })
        .await,
        ["r6", "r5"]
    );
    assert_eq!(
        only(RecordSearch {
            model: Some("mock-odd".into()),
            ..all.clone()
        })
        .await,
        ["r5", "r3", "r1"]
    );
    assert_eq!(
        only(RecordSearch {
            status: Some(429),
            ..all.clone()
        })
        .await,
        ["r3"]
    );
    assert_eq!(
        only(RecordSearch {
            tag: Some("beta".into()),
            ..all.clone()
        })
        .await,
        ["r1", "r0"]
    );
    assert_eq!(
        only(RecordSearch {
            tag: Some("bet".into()),
            ..all.clone()
        })
        .await,
        Vec::<String>::new(),
        "a tag matches whole"
    );
    assert_eq!(
        only(RecordSearch {
            prompt: Some("other".into()),
            ..all.clone()
        })
        .await,
        ["r6"]
    );
    assert_eq!(
        only(RecordSearch {
            flagged: Some(true),
            ..all.clone()
        })
        .await,
        ["r4"]
    );
    assert_eq!(
        only(RecordSearch {
            from_ms: Some(1_700_000_000_002),
            to_ms: Some(1_700_000_000_004),
            ..all.clone()
        })
        .await,
        ["r3", "r2"],
        "from inclusive, to exclusive"
    );
    // Pages follow one another with the last record's cursor.
    let first = s
        .search_records(&RecordSearch {
            limit: 3,
            ..all.clone()
        })
        .await
        .unwrap();
    let last = first.last().unwrap();
    let next = only(RecordSearch {
        limit: 3,
        before: Some((last.created_at, last.id.clone())),
        ..all.clone()
    })
    .await;
    assert_eq!(ids(first), ["r6", "r5", "r4"]);
    assert_eq!(next, ["r3", "r2", "r1"]);
});
