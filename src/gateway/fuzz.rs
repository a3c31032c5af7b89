//! Fuzz targets for the parsers of the request path that see outside bytes:
//! the SSE splitter and the `usage` scan (upstream bytes), and the request
//! body editor and prompt reference (client bytes). Run by
//! [`crate::fuzzing::check`]; see `scripts/fuzz`.

use bytes::Bytes;
use proptest::prelude::*;
use serde_json::{Map, Value};

use super::body::{stream_options_with_usage, RequestBody};
use super::sse::{data_of, EventBuffer};
use super::usage_member::{has_usage_object, without_null_usage};
use crate::api::{ApiError, Endpoint, EXTENSION_FIELDS};
use crate::fuzzing::{check, json_value, near_json_bytes, to_json};

/// Every event the buffer hands out for `chunks`, then the unterminated rest.
fn events_of(chunks: &[&[u8]]) -> (Vec<Bytes>, Option<Bytes>) {
    let mut buf = EventBuffer::default();
    let mut events = Vec::new();
    for chunk in chunks {
        buf.push(Bytes::copy_from_slice(chunk));
        while let Some(e) = buf.next_event() {
            events.push(e);
        }
    }
    (events, buf.take_rest())
}

/// A stream cut into reads at arbitrary points.
fn stream_and_cuts() -> impl Strategy<Value = (Vec<u8>, Vec<usize>)> {
    (
        near_json_bytes(64),
        prop::collection::vec(any::<usize>(), 0..12),
    )
}

#[test]
fn sse_split_at_any_boundary_gives_the_same_events() {
    check("sse_split", stream_and_cuts(), |(stream, cuts)| {
        let mut at: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
        at.sort_unstable();
        let mut chunks = Vec::new();
        let mut from = 0;
        for &to in at.iter().chain([&stream.len()]) {
            chunks.push(&stream[from..to]);
            from = to;
        }
        let whole = events_of(&[&stream]);
        let split = events_of(&chunks);
        prop_assert_eq!(&whole, &split);
        // No byte is lost or invented: the events and the rest are the stream.
        let mut joined: Vec<u8> = whole.0.concat();
        joined.extend_from_slice(whole.1.as_deref().unwrap_or_default());
        prop_assert_eq!(joined, stream);
        for event in &whole.0 {
            let data = data_of(event);
            prop_assert!(data.is_none_or(|d| d.len() <= event.len()));
        }
        Ok(())
    });
}

#[test]
fn usage_scan_of_any_bytes_never_grows_the_event() {
    check("usage_bytes", near_json_bytes(64), |event| {
        let _ = has_usage_object(&event);
        if let Some(out) = without_null_usage(&event) {
            prop_assert!(out.len() < event.len());
        }
        Ok(())
    });
}

/// A JSON object with a top-level `"usage": null` somewhere among other
/// members; nested objects never have a `usage` key.
fn object_with_null_usage() -> impl Strategy<Value = (Vec<(String, Value)>, usize, bool)> {
    (
        prop::collection::btree_map("[a-z]{1,4}", json_value("[a-z]{1,3}"), 0..6),
        any::<usize>(),
        any::<bool>(),
    )
        .prop_map(|(members, at, pretty)| {
            let mut members: Vec<(String, Value)> = members.into_iter().collect();
            let at = at % (members.len() + 1);
            members.insert(at, ("usage".to_owned(), Value::Null));
            (members, at, pretty)
        })
}

#[test]
fn null_usage_removal_leaves_the_same_json_without_it() {
    check(
        "usage_json",
        object_with_null_usage(),
        |(members, _, pretty)| {
            let object: Map<String, Value> = members.iter().cloned().collect();
            let event = format!(
                "data: {}\n\n",
                to_json(&Value::Object(object.clone()), pretty)
            );
            let out = without_null_usage(event.as_bytes());
            prop_assert!(out.is_some(), "usage not found in {}", event);
            let out = out.unwrap_or_default();
            let json = out
                .strip_prefix(b"data: ")
                .and_then(|j| j.strip_suffix(b"\n\n"))
                .unwrap_or_default();
            let got: Value = serde_json::from_slice(json).map_err(|e| {
                TestCaseError::fail(format!("{e}: {}", String::from_utf8_lossy(&out)))
            })?;
            let mut want = object;
            want.remove("usage");
            // Parsed back from text like `got`, so float digits compare equal.
            let want: Value = serde_json::from_str(&to_json(&Value::Object(want), pretty))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(got, want);
            Ok(())
        },
    );
}

#[test]
fn any_body_bytes_are_parsed_or_a_400() {
    check("body_bytes", near_json_bytes(48), |bytes| {
        match RequestBody::parse(&bytes) {
            Ok(body) => {
                let raw = axum::body::Bytes::from(bytes.clone());
                prop_assert_eq!(body.to_bytes(&raw), raw);
            }
            Err(e) => prop_assert!(matches!(e, ApiError::InvalidRequest { .. }), "{e:?}"),
        }
        Ok(())
    });
}

/// A request body's members (unique keys, some of them promptgate's own or
/// `stream_options`), as text written compact or pretty.
fn body_members() -> impl Strategy<Value = (Vec<(String, Value)>, bool)> {
    let key = prop_oneof![
        3 => "[a-z_]{1,8}",
        1 => prop::sample::select(EXTENSION_FIELDS).prop_map(str::to_owned),
        1 => Just("stream_options".to_owned()),
        1 => Just("prompt".to_owned()),
    ];
    (
        prop::collection::btree_map(key, json_value("[a-z]{1,3}"), 0..8),
        any::<bool>(),
    )
        .prop_map(|(m, pretty)| (m.into_iter().collect(), pretty))
}

/// The raw text of each top-level member of `json`, by name.
fn raw_members(json: &[u8]) -> Vec<(String, String)> {
    serde_json::from_slice::<std::collections::BTreeMap<String, &serde_json::value::RawValue>>(json)
        .map(|m| {
            m.into_iter()
                .map(|(k, v)| (k, v.get().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn body_edits_keep_every_other_field_byte_identical() {
    check("body_edit", body_members(), |(members, pretty)| {
        let object: Map<String, Value> = members.into_iter().collect();
        let text = to_json(&Value::Object(object), pretty);
        let original = raw_members(text.as_bytes());
        let raw = axum::body::Bytes::from(text.into_bytes());
        let mut body = RequestBody::parse(&raw).map_err(|e| TestCaseError::fail(e.to_string()))?;
        body.strip_extensions(false);
        let options = stream_options_with_usage(body.get("stream_options"));
        if let Ok(options) = &options {
            body.set("stream_options", options.clone());
        }
        let out = body.to_bytes(&raw);
        let edited = raw_members(&out);
        let stripped = |k: &str, v: &str| {
            EXTENSION_FIELDS.contains(&k) && k != "prompt"
                || k == "prompt" && v.trim_start().starts_with('{')
        };
        for (k, v) in &original {
            if k == "stream_options" && options.is_ok() || stripped(k, v) {
                continue;
            }
            prop_assert!(edited.contains(&(k.clone(), v.clone())), "{} changed", k);
        }
        if options.is_ok() {
            let so = edited.iter().find(|(k, _)| k == "stream_options");
            let so: Value = so
                .and_then(|(_, v)| serde_json::from_str(v).ok())
                .unwrap_or_default();
            prop_assert_eq!(&so["include_usage"], &Value::Bool(true));
        }
        let kept = original.iter().filter(|(k, v)| !stripped(k, v)).count();
        prop_assert_eq!(
            edited.len(),
            kept + usize::from(
                !original.iter().any(|(k, _)| k == "stream_options") && options.is_ok()
            )
        );
        Ok(())
    });
}

#[test]
fn any_prompt_reference_is_taken_or_a_400() {
    let endpoint = prop::sample::select(Endpoint::ALL.to_vec());
    check(
        "prompt_ref",
        (body_members(), endpoint),
        |((members, pretty), endpoint)| {
            let object: Map<String, Value> = members.into_iter().collect();
            let text = to_json(&Value::Object(object), pretty);
            let mut body = RequestBody::parse(text.as_bytes())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            if let Err(e) = super::prompting::take_prompt_ref(&mut body, endpoint) {
                prop_assert!(
                    matches!(e, ApiError::InvalidRequest { param: Some(_), .. }),
                    "{e:?}"
                );
            }
            Ok(())
        },
    );
}

/// A `usage` object in any of the spellings the gateway reads, with any
/// counts (negative and huge ones included).
fn usage_object() -> impl Strategy<Value = Value> {
    let field = prop::sample::select(vec![
        "prompt_tokens",
        "completion_tokens",
        "input_tokens",
        "output_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
    ]);
    let count = prop_oneof![
        any::<i64>(),
        Just(i64::MAX),
        Just(i64::MIN),
        -5i64..1_000_000
    ];
    let details = prop::collection::btree_map(
        prop::sample::select(vec![
            "cached_tokens",
            "reasoning_tokens",
            "cache_write_tokens",
        ]),
        count.clone(),
        0..3,
    );
    (
        prop::collection::btree_map(field, count, 0..6),
        prop::option::of(details.clone()),
        prop::option::of(details),
    )
        .prop_map(|(fields, prompt_details, completion_details)| {
            let mut u: Map<String, Value> = fields
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect();
            let as_json = |d: std::collections::BTreeMap<&str, i64>| {
                Value::Object(d.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
            };
            if let Some(d) = prompt_details {
                u.insert("prompt_tokens_details".into(), as_json(d));
            }
            if let Some(d) = completion_details {
                u.insert("completion_tokens_details".into(), as_json(d));
            }
            Value::Object(u)
        })
}

#[test]
fn usage_of_any_answer_is_read_without_a_panic_and_never_priced_below_zero() {
    let Ok(prices) = crate::costs::PriceTable::builtin() else {
        unreachable!("the built-in price table loads")
    };
    let models = [
        "gpt-4o-mini",
        "o3",
        "claude-sonnet-4-5",
        "text-embedding-3-small",
    ];
    let priced: Vec<_> = models.iter().filter_map(|m| prices.lookup(m)).collect();
    assert_eq!(
        priced.len(),
        models.len(),
        "every model of the target is priced"
    );
    let envelope = prop::sample::select(vec!["{}", "message", "response"]);
    let input = (usage_object(), envelope, near_json_bytes(32));
    check("usage_read", input, |(usage, envelope, noise)| {
        let mut usages = Vec::new();
        let json = match envelope {
            "{}" => json_of(&[("usage", usage), ("choices", Value::Array(vec![]))]),
            outer => json_of(&[(outer, json_of(&[("usage", usage)]))]),
        };
        let text = to_json(&json, false);
        usages.extend(crate::api::usage::from_chunk(text.as_bytes()).map(|c| c.usage));
        usages.extend(crate::api::usage::from_body(text.as_bytes()));
        usages.extend(crate::api::usage::from_chunk(&noise).map(|c| c.usage));
        let _ = crate::api::usage::of_answer(&noise);
        for usage in &usages {
            for price in &priced {
                let cost = crate::costs::cost(price, usage);
                prop_assert!(cost >= rust_decimal::Decimal::ZERO, "{cost} for {usage:?}");
            }
        }
        Ok(())
    });
}

fn json_of(members: &[(&str, Value)]) -> Value {
    Value::Object(
        members
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    )
}

/// Members of a request body as a client may write them: names may repeat.
fn members_maybe_repeated() -> impl Strategy<Value = Vec<(String, Value)>> {
    let key = prop::sample::select(vec!["model", "stream", "messages", "max_tokens", "user"]);
    prop::collection::vec(
        (key.prop_map(str::to_owned), json_value("[a-z]{1,3}")),
        0..6,
    )
}

#[test]
fn the_gateway_reads_each_field_as_the_upstream_will() {
    check("body_fields", members_maybe_repeated(), |members| {
        let mut text = String::from("{");
        for (i, (k, v)) in members.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            text.push_str(&format!(
                "{}:{}",
                Value::String(k.clone()),
                to_json(v, false)
            ));
        }
        text.push('}');
        // What an upstream's JSON parser makes of the same bytes.
        let upstream: Map<String, Value> =
            serde_json::from_str(&text).map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
        match RequestBody::parse(text.as_bytes()) {
            Ok(body) => {
                for (k, v) in &upstream {
                    let ours: Option<Value> =
                        body.get(k).and_then(|r| serde_json::from_str(r.get()).ok());
                    prop_assert_eq!(
                        ours.as_ref(),
                        Some(v),
                        "the gateway reads another {} than the upstream: {}",
                        k,
                        text
                    );
                }
            }
            Err(e) => {
                let repeated = members
                    .iter()
                    .enumerate()
                    .any(|(i, (k, _))| members[..i].iter().any(|(p, _)| p == k));
                prop_assert!(repeated, "refused a body without repeats: {e:?}");
                prop_assert!(
                    matches!(e, ApiError::InvalidRequest { param: Some(_), .. }),
                    "{e:?}"
                );
            }
        }
        Ok(())
    });
}
