//! The cache key: SHA-256 of the canonical upstream-bound request.
//!
//! Canonical means: object keys sorted, numbers normalised (`1`, `1.0` and
//! `1e0` are the same number), no whitespace. Fields that do not change the
//! answer are left out (`stream`, `stream_options`, `user`, `metadata`), so a
//! streamed and a non-streamed call share one entry. The key includes the
//! endpoint, the upstream and the scope (the team, unless a shared namespace
//! is configured),
//! so one team can never receive another team's entry.

use std::io::Write;

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Top-level fields that do not influence the answer.
const IGNORED_FIELDS: &[&str] = &["stream", "stream_options", "user", "metadata"];

/// Writes `v` canonically into `out`.
fn write_canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(map) => {
            // serde_json's Map is a BTreeMap here: iteration is already sorted.
            out.push(b'{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let _ = serde_json::to_writer(&mut *out, k);
                out.push(b':');
                write_canonical(v, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(v, out);
            }
            out.push(b']');
        }
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else if let Some(u) = n.as_u64() {
                let _ = write!(out, "{u}");
            } else if let Some(f) = n.as_f64() {
                if f.fract() == 0.0 && f.abs() < 9.0e15 {
                    let _ = write!(out, "{}", f as i64);
                } else {
                    let _ = write!(out, "{f:?}");
                }
            }
        }
        other => {
            let _ = serde_json::to_writer(&mut *out, other);
        }
    }
}

/// The namespace a team's cached answers (and judge verdicts) live in: the
/// team's own, or one for all teams with `cache.shared_namespace`.
pub fn scope(shared_namespace: bool, team: &str) -> &str {
    if shared_namespace {
        "*"
    } else {
        team
    }
}

/// The key for one request. `fields` are the upstream body's top-level fields.
pub fn cache_key<'a>(
    scope: &str,
    endpoint: &str,
    fields: impl Iterator<Item = (&'a str, &'a str)>,
) -> Option<String> {
    let mut canonical = Vec::with_capacity(1024);
    let mut sorted: Vec<(&str, Value)> = Vec::new();
    for (k, raw) in fields {
        if IGNORED_FIELDS.contains(&k) {
            continue;
        }
        sorted.push((k, serde_json::from_str(raw).ok()?));
    }
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    canonical.push(b'{');
    for (i, (k, v)) in sorted.iter().enumerate() {
        if i > 0 {
            canonical.push(b',');
        }
        let _ = serde_json::to_writer(&mut canonical, k);
        canonical.push(b':');
        write_canonical(v, &mut canonical);
    }
    canonical.push(b'}');
    let mut h = Sha256::new();
    // Length-prefixed so that scope/endpoint boundaries cannot be shifted.
    for part in [scope.as_bytes(), endpoint.as_bytes()] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.update(&canonical);
    Some(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(scope: &str, body: &str) -> String {
        let v: serde_json::Map<String, Value> = serde_json::from_str(body).unwrap();
        let raws: Vec<(String, String)> =
            v.iter().map(|(k, v)| (k.clone(), v.to_string())).collect();
        cache_key(
            scope,
            "chat",
            raws.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )
        .unwrap()
    }

    #[test]
    fn order_whitespace_and_number_spelling_do_not_matter() {
        let a = key(
            "t",
            r#"{"model":"m","temperature":1,"messages":[{"role":"user","content":"hi"}]}"#,
        );
        let b = key(
            "t",
            r#"{ "messages" : [ {"content":"hi","role":"user"} ], "temperature": 1.0, "model":"m"}"#,
        );
        assert_eq!(a, b);
    }

    #[test]
    fn stream_user_and_metadata_are_ignored() {
        let a = key("t", r#"{"model":"m","messages":[]}"#);
        let b = key(
            "t",
            r#"{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true},"user":"u","metadata":{"x":1}}"#,
        );
        assert_eq!(a, b);
    }

    #[test]
    fn content_scope_and_params_matter() {
        let base = key(
            "t",
            r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#,
        );
        assert_ne!(
            base,
            key(
                "u",
                r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#
            )
        );
        assert_ne!(
            base,
            key(
                "t",
                r#"{"model":"m","messages":[{"role":"user","content":"ho"}]}"#
            )
        );
        assert_ne!(
            base,
            key(
                "t",
                r#"{"model":"m","temperature":0.5,"messages":[{"role":"user","content":"hi"}]}"#
            )
        );
    }
}
