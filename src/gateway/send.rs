//! The send stage: the request goes to its upstream with the client's
//! forwardable headers; failures are mapped by who caused them. A call whose
//! upstream has a retry policy or a cooldown, or whose alias lists further
//! targets, goes through [`resilience`](crate::resilience): each try runs
//! up to the first event of a stream, so a stream that fails before it
//! falls back too (see [`tries`](super::tries)).

use axum::body::Bytes;
use axum::http::{header, HeaderValue, Method};

use crate::api::ApiError;
use crate::providers::forwardable_headers;

use super::call::{Call, Plan};
use super::failures::failure;
use super::tries::{self, Sent};

pub async fn stage(
    call: &mut Call<'_>,
    plan: &Plan,
    upstream_body: Bytes,
) -> Result<Sent, ApiError> {
    let mut headers = forwardable_headers(call.headers);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    call.recorder.trace().upstream_called(&mut headers);
    let upstream = &plan.upstream;
    if plan.fallbacks.is_empty() && upstream.retry.is_none() && upstream.breaker.is_none() {
        // One try, as it always was: nothing to decide between tries.
        let resp = upstream
            .send(Method::POST, call.endpoint.path(), headers, upstream_body)
            .await
            .map_err(|e| failure(upstream, e))?;
        call.recorder.set_attempts(1);
        return Ok(Sent {
            resp,
            read_ahead: None,
            upstream: upstream.clone(),
        });
    }
    tries::run(call, plan, headers, upstream_body).await
}
