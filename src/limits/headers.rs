//! What a limited call is told, the way OpenAI tells it: 429 with
//! `Retry-After` (and `retry-after-ms`) and the `x-ratelimit-*` headers,
//! which admitted calls carry too.

use axum::http::{HeaderMap, HeaderName, HeaderValue};

use super::config::Scope;
use super::window::{Count, Limit};
use crate::api::ApiError;

const LIMIT_REQUESTS: HeaderName = HeaderName::from_static("x-ratelimit-limit-requests");
const LIMIT_TOKENS: HeaderName = HeaderName::from_static("x-ratelimit-limit-tokens");
const REMAINING_REQUESTS: HeaderName = HeaderName::from_static("x-ratelimit-remaining-requests");
const REMAINING_TOKENS: HeaderName = HeaderName::from_static("x-ratelimit-remaining-tokens");
const RESET_REQUESTS: HeaderName = HeaderName::from_static("x-ratelimit-reset-requests");
const RESET_TOKENS: HeaderName = HeaderName::from_static("x-ratelimit-reset-tokens");

/// The `x-ratelimit-*` headers of the tightest request and token limits
/// among the call's scopes (the ones with the least left).
pub fn rate_headers(scopes: &[Scope], counts: &[Count]) -> HeaderMap {
    let mut h = HeaderMap::new();
    let pairs = || scopes.iter().zip(counts);
    let tightest_rpm = pairs()
        .filter(|(s, _)| s.rpm > 0)
        .min_by_key(|(s, c)| s.rpm.saturating_sub(c.requests));
    if let Some((s, c)) = tightest_rpm {
        put_requests(&mut h, s, c, c.reset_requests_ms);
    }
    let tightest_tpm = pairs()
        .filter(|(s, _)| s.tpm > 0)
        .min_by_key(|(s, c)| s.tpm.saturating_sub(c.tokens));
    if let Some((s, c)) = tightest_tpm {
        put_tokens(&mut h, s, c, c.reset_tokens_ms);
    }
    h
}

fn put(h: &mut HeaderMap, name: HeaderName, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        h.insert(name, v);
    }
}

fn put_requests(h: &mut HeaderMap, s: &Scope, c: &Count, reset_ms: i64) {
    put(h, LIMIT_REQUESTS, s.rpm.to_string());
    put(
        h,
        REMAINING_REQUESTS,
        s.rpm.saturating_sub(c.requests).to_string(),
    );
    put(h, RESET_REQUESTS, duration(reset_ms));
}

fn put_tokens(h: &mut HeaderMap, s: &Scope, c: &Count, reset_ms: i64) {
    put(h, LIMIT_TOKENS, s.tpm.to_string());
    put(
        h,
        REMAINING_TOKENS,
        s.tpm.saturating_sub(c.tokens).to_string(),
    );
    put(h, RESET_TOKENS, duration(reset_ms));
}

/// OpenAI's duration form: `20ms`, `1.5s`, `6m0s`.
pub fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 1000 {
        return format!("{ms}ms");
    }
    if ms < 60_000 {
        let s = format!("{:.3}", ms as f64 / 1000.0);
        return format!("{}s", s.trim_end_matches('0').trim_end_matches('.'));
    }
    let secs = (ms + 999) / 1000;
    format!("{}m{}s", secs / 60, secs % 60)
}

/// The 429 for a call that ran into `limit` of `scope`.
pub fn refusal(scope: &Scope, limit: Limit, retry_ms: i64, count: &Count, tokens: u64) -> ApiError {
    let retry_ms = retry_ms.max(1);
    let who = scope.id.replace(':', " ");
    let (what, max, used, asked) = match limit {
        Limit::Requests => ("requests per min (RPM)", scope.rpm, count.requests, 1),
        Limit::Tokens => ("tokens per min (TPM)", scope.tpm, count.tokens, tokens),
        Limit::Concurrency => ("concurrent requests", scope.concurrency, count.in_flight, 1),
    };
    let message = if limit == Limit::Tokens && tokens > scope.tpm {
        format!(
            "Request too large on {who} for {what}: Limit {max}, Requested {asked}. \
             The input or output tokens must be reduced in order to run successfully."
        )
    } else {
        format!(
            "Rate limit reached on {who} for {what}: Limit {max}, Used {used}, Requested {asked}. \
             Please try again in {}.",
            duration(retry_ms)
        )
    };
    let mut h = HeaderMap::new();
    put(
        &mut h,
        axum::http::header::RETRY_AFTER,
        ((retry_ms + 999) / 1000).max(1).to_string(),
    );
    put(
        &mut h,
        HeaderName::from_static("retry-after-ms"),
        retry_ms.to_string(),
    );
    if scope.rpm > 0 {
        let reset = if limit == Limit::Requests {
            retry_ms
        } else {
            count.reset_requests_ms
        };
        put_requests(&mut h, scope, count, reset);
    }
    if scope.tpm > 0 {
        let reset = if limit == Limit::Tokens {
            retry_ms
        } else {
            count.reset_tokens_ms
        };
        put_tokens(&mut h, scope, count, reset);
    }
    metrics::counter!("promptgate_rate_limited_total", "scope" => scope.kind, "limit" => limit.label())
        .increment(1);
    ApiError::RateLimited {
        message,
        kind: if limit == Limit::Tokens {
            "tokens"
        } else {
            "requests"
        },
        headers: Box::new(h),
    }
}

#[cfg(test)]
mod tests {
    use super::duration;

    #[test]
    fn durations_read_like_openai_s() {
        assert_eq!(duration(20), "20ms");
        assert_eq!(duration(1_500), "1.5s");
        assert_eq!(duration(17_000), "17s");
        assert_eq!(duration(360_000), "6m0s");
    }
}
