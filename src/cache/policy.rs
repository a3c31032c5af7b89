//! When a request may use the cache: opt-in per request (`cache` field,
//! `Cache-Control`), per prompt, or per model in config (`[[cache.rules]]`).

use std::time::Duration;

use axum::http::{header, HeaderMap};
use serde::Deserialize;
use wildmatch::WildMatch;

use crate::api::{parse_field, ApiError, Endpoint};
use crate::config::CacheConfig;

/// `x-promptgate-cache` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    Hit,
    Miss,
    Bypass,
}

impl CacheStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Hit => "hit",
            CacheStatus::Miss => "miss",
            CacheStatus::Bypass => "bypass",
        }
    }
}

/// The request's `cache` field.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheField {
    pub ttl: Option<u64>,
    #[serde(default)]
    pub no_cache: bool,
    #[serde(default)]
    pub no_store: bool,
}

/// What the cache may do for one request.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub lookup: bool,
    pub store: bool,
    pub ttl: Duration,
}

/// Compiled `[[cache.rules]]`.
pub struct Rules {
    rules: Vec<(Vec<WildMatch>, u64)>,
    default_ttl_s: u64,
}

impl Rules {
    pub fn new(config: &CacheConfig) -> Rules {
        Rules {
            rules: config
                .rules
                .iter()
                .map(|r| {
                    (
                        r.models.iter().map(|m| WildMatch::new(m)).collect(),
                        r.ttl_s,
                    )
                })
                .collect(),
            default_ttl_s: config.default_ttl_s,
        }
    }

    fn ttl_for(&self, model: &str) -> Option<u64> {
        self.rules
            .iter()
            .find(|(globs, _)| globs.iter().any(|g| g.matches(model)))
            .map(|(_, ttl)| *ttl)
    }
}

/// Reads `Cache-Control` the way an HTTP cache would, for the parts that apply.
fn cache_control(headers: &HeaderMap) -> (Option<u64>, bool, bool) {
    let mut max_age = None;
    let (mut no_cache, mut no_store) = (false, false);
    for value in headers.get_all(header::CACHE_CONTROL) {
        let Ok(v) = value.to_str() else { continue };
        for directive in v.split(',').map(str::trim) {
            let lower = directive.to_ascii_lowercase();
            if let Some(n) = lower.strip_prefix("max-age=") {
                max_age = n.trim_matches('"').parse().ok();
            } else if lower == "no-cache" {
                no_cache = true;
            } else if lower == "no-store" {
                no_store = true;
            }
        }
    }
    (max_age, no_cache, no_store)
}

/// Decides the policy from the request's `cache` field (raw JSON) and
/// headers; `None` = bypass. Precedence for the TTL: the request
/// (`cache.ttl`, then `Cache-Control: max-age`), then the prompt, then config.
pub fn policy(
    endpoint: Endpoint,
    field: Option<&str>,
    headers: &HeaderMap,
    model: &str,
    prompt_ttl: Option<u64>,
    rules: &Rules,
) -> Result<Option<Policy>, ApiError> {
    let field = match field {
        None | Some("null") => CacheField::default(),
        Some(raw) => parse_field::<CacheField>(raw, "cache")?,
    };
    if matches!(endpoint, Endpoint::Responses) {
        return Ok(None);
    }
    let (max_age, cc_no_cache, cc_no_store) = cache_control(headers);
    let ttl = field
        .ttl
        .or(max_age)
        .or(prompt_ttl)
        .or_else(|| rules.ttl_for(model));
    let Some(ttl) = ttl else { return Ok(None) };
    // `max-age=0` asks for a fresh answer that may not be reused: bypass.
    if field.ttl.is_none() && max_age == Some(0) {
        return Ok(None);
    }
    let ttl = if ttl == 0 { rules.default_ttl_s } else { ttl };
    let policy = Policy {
        lookup: !(field.no_cache || cc_no_cache),
        store: !(field.no_store || cc_no_store),
        ttl: Duration::from_secs(ttl.max(1)),
    };
    Ok((policy.lookup || policy.store).then_some(policy))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CacheConfig, CacheRule};

    fn rules() -> Rules {
        Rules::new(&CacheConfig {
            rules: vec![CacheRule {
                models: vec!["cached-*".into()],
                ttl_s: 60,
            }],
            ..CacheConfig::default()
        })
    }

    fn decide(
        body: &str,
        headers: &[(&str, &str)],
        model: &str,
        prompt_ttl: Option<u64>,
    ) -> Result<Option<Policy>, ApiError> {
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        let field = body.get("cache").map(|v| v.to_string());
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.append(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        policy(
            Endpoint::Chat,
            field.as_deref(),
            &h,
            model,
            prompt_ttl,
            &rules(),
        )
    }

    #[test]
    fn off_unless_asked() {
        assert!(decide(r#"{}"#, &[], "m", None).unwrap().is_none());
        assert_eq!(
            decide(r#"{"cache":{"ttl":5}}"#, &[], "m", None)
                .unwrap()
                .unwrap()
                .ttl
                .as_secs(),
            5
        );
        assert_eq!(
            decide(r#"{}"#, &[("cache-control", "max-age=7")], "m", None)
                .unwrap()
                .unwrap()
                .ttl
                .as_secs(),
            7
        );
        assert_eq!(
            decide(r#"{}"#, &[], "m", Some(9))
                .unwrap()
                .unwrap()
                .ttl
                .as_secs(),
            9
        );
        assert_eq!(
            decide(r#"{}"#, &[], "cached-x", None)
                .unwrap()
                .unwrap()
                .ttl
                .as_secs(),
            60
        );
    }

    #[test]
    fn no_cache_and_no_store() {
        let p = decide(r#"{"cache":{"ttl":5,"no_cache":true}}"#, &[], "m", None)
            .unwrap()
            .unwrap();
        assert!(!p.lookup && p.store);
        let p = decide(r#"{}"#, &[("cache-control", "no-store")], "cached-x", None)
            .unwrap()
            .unwrap();
        assert!(p.lookup && !p.store);
        assert!(decide(
            r#"{"cache":{"ttl":5,"no_cache":true,"no_store":true}}"#,
            &[],
            "m",
            None
        )
        .unwrap()
        .is_none());
    }

    #[test]
    fn bad_cache_field_names_it() {
        let e = decide(r#"{"cache":{"ttl":"soon"}}"#, &[], "m", None).unwrap_err();
        assert!(matches!(e, ApiError::InvalidRequest { param: Some(p), .. } if p == "cache.ttl"),);
        let e = decide(r#"{"cache":{"tll":5}}"#, &[], "m", None).unwrap_err();
        assert!(matches!(e, ApiError::InvalidRequest { .. }));
    }
}
