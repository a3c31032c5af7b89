//! One upstream's retry policy: which failures are tried again, and how long
//! to wait first (jittered exponential backoff, or what the upstream asked
//! for with `Retry-After` / `retry-after-ms`).

use std::time::Duration;

use axum::http::HeaderMap;
use rand::Rng;

use super::config::{FailureKind, RetryConfig, RetryOn};

/// Why one try failed, before anything went to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// An error status; `retry_after` is what the upstream asked us to wait.
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// The upstream could not be reached (refused, reset, DNS, TLS).
    Connect,
    /// No answer, or no first event of a stream, in time.
    Timeout,
    /// A stream that ended or broke before its first content chunk, or a
    /// 200 whose stream is not one.
    Broken,
}

impl Failure {
    /// Whether another try (here or at the next target) may go better: a
    /// 429 or a 5xx, or no usable answer at all. Any other 4xx is the
    /// request's own fault and would fail everywhere.
    pub fn is_transient(&self) -> bool {
        match self {
            Failure::Status { status, .. } => *status == 429 || *status >= 500,
            Failure::Connect | Failure::Timeout | Failure::Broken => true,
        }
    }

    /// The metric label.
    pub fn reason(&self) -> &'static str {
        match self {
            Failure::Status { status: 429, .. } => "429",
            Failure::Status { .. } => "5xx",
            Failure::Connect => "connect",
            Failure::Timeout => "timeout",
            Failure::Broken => "broken",
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Failure::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// The longest backoff between two tries, whatever the doubling says.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub attempts: u32,
    backoff: Duration,
    statuses: Vec<u16>,
    connect: bool,
    timeout: bool,
}

impl RetryPolicy {
    pub fn new(cfg: &RetryConfig) -> RetryPolicy {
        let mut policy = RetryPolicy {
            attempts: cfg.attempts.max(1),
            backoff: Duration::from_millis(cfg.backoff_ms),
            statuses: Vec::new(),
            connect: false,
            timeout: false,
        };
        for on in &cfg.on {
            match on {
                RetryOn::Status(s) => policy.statuses.push(*s),
                RetryOn::Kind(FailureKind::Connect) => policy.connect = true,
                RetryOn::Kind(FailureKind::Timeout) => policy.timeout = true,
            }
        }
        policy
    }

    /// Whether this failure is tried again on the same upstream. A broken
    /// stream counts as a connection failure.
    pub fn retries(&self, failure: &Failure) -> bool {
        match failure {
            Failure::Status { status, .. } => self.statuses.contains(status),
            Failure::Connect | Failure::Broken => self.connect,
            Failure::Timeout => self.timeout,
        }
    }

    /// The wait before retry number `retry` (1 = the first retry): the
    /// backoff doubled `retry - 1` times, with "equal jitter" (half fixed,
    /// half random) so that callers failed together do not retry together;
    /// never less than the upstream's own `Retry-After`.
    pub fn wait(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let doubled = self
            .backoff
            .saturating_mul(1u32 << (retry.saturating_sub(1)).min(16))
            .min(MAX_BACKOFF);
        let half = doubled / 2;
        let jitter = Duration::from_micros(
            rand::rng().random_range(0..=u64::try_from(half.as_micros()).unwrap_or(u64::MAX)),
        );
        (half + jitter).max(retry_after.unwrap_or_default())
    }
}

/// What the upstream asked us to wait: `retry-after-ms` (OpenAI's and
/// Azure's, in milliseconds), else `Retry-After` in seconds or as an HTTP
/// date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        if ms.is_finite() && ms >= 0.0 {
            return Some(Duration::from_micros((ms * 1000.0) as u64));
        }
    }
    let v = text("retry-after")?;
    if let Ok(s) = v.parse::<f64>() {
        return (s.is_finite() && s >= 0.0).then(|| Duration::from_micros((s * 1e6) as u64));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn retry_after_reads_milliseconds_seconds_and_dates() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", HeaderValue::from_static("150"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(150)));
        let mut d = HeaderMap::new();
        d.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&d), Some(Duration::ZERO));
        d.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&d), None);
    }

    #[test]
    fn waits_double_with_jitter_and_honour_retry_after() {
        let policy = RetryPolicy::new(&RetryConfig {
            backoff_ms: 100,
            ..RetryConfig::default()
        });
        for _ in 0..50 {
            let first = policy.wait(1, None);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = policy.wait(3, None);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
        }
        assert!(policy.wait(1, Some(Duration::from_secs(1))) >= Duration::from_secs(1));
        assert!(policy.wait(40, None) <= MAX_BACKOFF);
    }

    #[test]
    fn only_listed_failures_are_retried_and_4xx_is_final() {
        let policy = RetryPolicy::new(&RetryConfig::default());
        let status = |s| Failure::Status {
            status: s,
            retry_after: None,
        };
        assert!(policy.retries(&status(503)));
        assert!(!policy.retries(&status(501)));
        assert!(status(501).is_transient());
        assert!(!status(400).is_transient());
        assert!(status(429).is_transient());
        assert!(policy.retries(&Failure::Connect));
        assert!(policy.retries(&Failure::Broken));
    }
}
