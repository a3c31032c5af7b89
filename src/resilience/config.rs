//! The per-upstream keys: `retry = { attempts, backoff_ms, on }` and
//! `cooldown = { failures, window_ms, cooldown_ms }`.

use serde::{Deserialize, Serialize};

/// `retry`: how often one upstream is tried for one call before the next
/// target (or the error) takes over.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Tries in all, the first included (1 = no retry).
    pub attempts: u32,
    /// The first wait; each further one doubles, with jitter.
    pub backoff_ms: u64,
    /// What is retried: statuses (429 and 5xx only), `"connect"` (the
    /// upstream could not be reached), `"timeout"` (it did not answer, or a
    /// stream sent no first event, in time).
    pub on: Vec<RetryOn>,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            attempts: 2,
            backoff_ms: 250,
            on: [429, 500, 502, 503, 504]
                .into_iter()
                .map(RetryOn::Status)
                .chain([
                    RetryOn::Kind(FailureKind::Connect),
                    RetryOn::Kind(FailureKind::Timeout),
                ])
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum RetryOn {
    Status(u16),
    Kind(FailureKind),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureKind {
    Connect,
    Timeout,
}

/// The most tries one upstream may be given for one call.
pub const MAX_ATTEMPTS: u32 = 10;

impl RetryConfig {
    /// The offending field and why, when the policy makes no sense.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.attempts == 0 || self.attempts > MAX_ATTEMPTS {
            return Err(("attempts", format!("must be between 1 and {MAX_ATTEMPTS}")));
        }
        if self.backoff_ms > 60_000 {
            return Err(("backoff_ms", "must be at most 60000".into()));
        }
        for on in &self.on {
            if let RetryOn::Status(s) = on {
                if !(*s == 429 || (500..=599).contains(s)) {
                    return Err((
                        "on",
                        format!("status {s} is not retryable (only 429 and 5xx are: a 4xx would fail again)"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// `cooldown`: an upstream that fails `failures` times within `window_ms`
/// is skipped for `cooldown_ms`, then given one probe call.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CooldownConfig {
    pub failures: u32,
    pub window_ms: u64,
    pub cooldown_ms: u64,
}

impl Default for CooldownConfig {
    fn default() -> Self {
        CooldownConfig {
            failures: 5,
            window_ms: 10_000,
            cooldown_ms: 30_000,
        }
    }
}

impl CooldownConfig {
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.failures == 0 {
            return Err(("failures", "must be at least 1".into()));
        }
        if self.window_ms == 0 || self.cooldown_ms == 0 {
            return Err((
                "window_ms",
                "window_ms and cooldown_ms must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_on_reads_statuses_and_kinds() {
        let r: RetryConfig =
            serde_json::from_str(r#"{"attempts": 3, "on": [429, 503, "connect"]}"#).unwrap();
        assert_eq!(r.attempts, 3);
        assert_eq!(r.backoff_ms, 250);
        assert_eq!(
            r.on,
            [
                RetryOn::Status(429),
                RetryOn::Status(503),
                RetryOn::Kind(FailureKind::Connect)
            ]
        );
        r.validate().unwrap();
        let bad: RetryConfig = serde_json::from_str(r#"{"on": [400]}"#).unwrap();
        assert_eq!(bad.validate().unwrap_err().0, "on");
        assert!(serde_json::from_str::<RetryConfig>(r#"{"on": ["dns"]}"#).is_err());
    }
}
