//! `[[rate_limits]]`: who is limited, and how much.
//!
//! ```toml
//! [[rate_limits]]            # every team on its own: 600 calls a minute
//! team = "*"
//! rpm = 600
//!
//! [[rate_limits]]            # team "search" on gpt-4o
//! team = "search"
//! model = "gpt-4o"
//! tpm = 200000
//! concurrency = 8
//!
//! [[rate_limits]]            # one key (its id, as `GET /v1/keys` lists it)
//! key = "key_4f1c…"
//! rpm = 60
//! ```

use serde::{Deserialize, Serialize};

/// One rule. A call is limited by every rule that matches it, each counted
/// on its own.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitRule {
    /// A team's name, or `"*"`: each team counted separately.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// A key's id, or `"*"`: each key counted separately.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// With `team`: counted per team × model. A model name as the call
    /// resolves it (after `[aliases]`), or `"*"`: each model separately.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Requests per minute (a sliding window of 60 s, counted per second).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u64>,
    /// Tokens per minute: prompt tokens estimated plus `max_tokens` (when
    /// set) held when the call starts, settled with the real usage after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u64>,
    /// Calls in flight at once (a stream counts until it ends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u64>,
}

/// Who is calling, and what.
pub struct Subject<'a> {
    pub team: &'a str,
    pub key_id: &'a str,
    pub model: &'a str,
}

/// One counter a call is checked against (`0` = that limit is not set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// What it counts, e.g. `team:search:model:gpt-4o` (also its Redis key).
    pub id: String,
    /// `team`, `key` or `team_model` (the metric label).
    pub kind: &'static str,
    pub rpm: u64,
    pub tpm: u64,
    pub concurrency: u64,
}

impl RateLimitRule {
    /// The offending field and why.
    pub fn validate(&self) -> Result<(), (&'static str, &'static str)> {
        match (&self.team, &self.key) {
            (None, None) => return Err(("team", "a rule names a team or a key (\"*\" = each)")),
            (Some(_), Some(_)) => return Err(("key", "a rule names a team or a key, not both")),
            _ => {}
        }
        if self.model.is_some() && self.team.is_none() {
            return Err(("model", "is only for team rules (per team × model)"));
        }
        let names = [&self.team, &self.key, &self.model];
        if names
            .iter()
            .any(|n| n.as_deref().is_some_and(str::is_empty))
        {
            return Err(("team", "names must not be empty"));
        }
        let limits = [self.rpm, self.tpm, self.concurrency];
        if limits.iter().all(Option::is_none) {
            return Err(("rpm", "a rule sets rpm, tpm or concurrency"));
        }
        if limits.contains(&Some(0)) {
            return Err(("rpm", "rpm, tpm and concurrency must be at least 1"));
        }
        Ok(())
    }

    /// The counter this rule keeps for `who`, if the rule applies.
    pub fn scope(&self, who: &Subject<'_>) -> Option<Scope> {
        let fits = |pattern: &str, value: &str| pattern == "*" || pattern == value;
        let (id, kind) = match (&self.team, &self.key, &self.model) {
            (Some(t), None, None) if fits(t, who.team) => (format!("team:{}", who.team), "team"),
            (Some(t), None, Some(m)) if fits(t, who.team) && fits(m, who.model) => (
                format!("team:{}:model:{}", who.team, who.model),
                "team_model",
            ),
            (None, Some(k), None) if fits(k, who.key_id) => (format!("key:{}", who.key_id), "key"),
            _ => return None,
        };
        Some(Scope {
            id,
            kind,
            rpm: self.rpm.unwrap_or(0),
            tpm: self.tpm.unwrap_or(0),
            concurrency: self.concurrency.unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(team: Option<&str>, key: Option<&str>, model: Option<&str>) -> RateLimitRule {
        RateLimitRule {
            team: team.map(Into::into),
            key: key.map(Into::into),
            model: model.map(Into::into),
            rpm: Some(10),
            tpm: None,
            concurrency: None,
        }
    }

    #[test]
    fn rules_match_their_team_key_or_team_and_model() {
        let who = Subject {
            team: "a",
            key_id: "k1",
            model: "gpt-4o",
        };
        let id = |r: RateLimitRule| r.scope(&who).map(|s| s.id);
        assert_eq!(id(rule(Some("*"), None, None)).as_deref(), Some("team:a"));
        assert_eq!(id(rule(Some("b"), None, None)), None);
        assert_eq!(id(rule(None, Some("k1"), None)).as_deref(), Some("key:k1"));
        assert_eq!(
            id(rule(Some("a"), None, Some("*"))).as_deref(),
            Some("team:a:model:gpt-4o")
        );
        assert_eq!(id(rule(Some("a"), None, Some("gpt-4o-mini"))), None);
    }

    #[test]
    fn bad_rules_are_named() {
        assert_eq!(rule(None, None, None).validate().unwrap_err().0, "team");
        assert_eq!(
            rule(Some("a"), Some("k"), None).validate().unwrap_err().0,
            "key"
        );
        assert_eq!(
            rule(None, Some("k"), Some("m")).validate().unwrap_err().0,
            "model"
        );
        let mut zero = rule(Some("a"), None, None);
        zero.rpm = Some(0);
        assert!(zero.validate().is_err());
        rule(Some("a"), None, Some("m")).validate().unwrap();
    }
}
