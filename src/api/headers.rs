//! The headers promptgate adds to answers (`x-promptgate-*`) and the request
//! id it echoes, in one place so routes, the pipeline and tests agree.

use axum::http::{HeaderMap, HeaderName};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// `hit`, `miss` or `bypass`.
pub const CACHE: HeaderName = HeaderName::from_static("x-promptgate-cache");
/// The exact cost of the call in USD (absent when the model is unpriced).
pub const COST_USD: HeaderName = HeaderName::from_static("x-promptgate-cost-usd");
/// The grounding score, when the request carried a RAG context.
pub const GROUNDING: HeaderName = HeaderName::from_static("x-promptgate-grounding");
/// `true` when the answer was flagged as likely not grounded.
pub const FLAGGED: HeaderName = HeaderName::from_static("x-promptgate-flagged");
/// The judge tier's score (synchronous judge), or `pending` when the
/// verdict will land on the request record.
pub const JUDGE: HeaderName = HeaderName::from_static("x-promptgate-judge");
/// Why a synchronous judge gave no verdict (its result is absent, the fast one stands).
pub const JUDGE_ERROR: HeaderName = HeaderName::from_static("x-promptgate-judge-error");
/// `name@version` of the registry prompt the request used.
pub const PROMPT: HeaderName = HeaderName::from_static("x-promptgate-prompt");
/// The upstream that answered (after retries and fallbacks).
pub const UPSTREAM: HeaderName = HeaderName::from_static("x-promptgate-upstream");
/// How many tries the answer took, across retries and fallbacks.
pub const ATTEMPTS: HeaderName = HeaderName::from_static("x-promptgate-attempts");
/// The content hash of that prompt version.
pub const PROMPT_SHA256: HeaderName = HeaderName::from_static("x-promptgate-prompt-sha256");

/// The client's `x-request-id` when it is a sane token, else a new UUIDv7.
pub fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}
