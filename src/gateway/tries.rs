//! The send stage's tries when the call can be retried or fall back: one
//! try per [`resilience::attempts`] turn, each bounded by the call's
//! deadline (its first upstream's `timeout_s` from the first try: retries
//! and fallbacks never make a client wait longer than one slow upstream
//! would), each read up to a stream's first event.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method};
use tokio::time::Instant;

use crate::api::ApiError;
use crate::providers::{is_event_stream, Upstream, UpstreamError, UpstreamResponse};
use crate::resilience::attempts::{self, AllCoolingDown, Answered, Guard, Try};
use crate::resilience::retry::{retry_after, Failure};

use super::body::RequestBody;
use super::call::{Call, Plan};
use super::failures;
use super::first_event::{self, ReadAhead};

/// An upstream's answer, with what was read of it already.
pub struct Sent {
    pub resp: UpstreamResponse,
    /// A stream's first event, when a try read it to know the stream started.
    pub read_ahead: Option<ReadAhead>,
    /// The upstream that answered.
    pub upstream: Arc<Upstream>,
}

/// Tries the plan's targets; records which one answered after how many tries.
pub async fn run(
    call: &mut Call<'_>,
    plan: &Plan,
    headers: HeaderMap,
    upstream_body: Bytes,
) -> Result<Sent, ApiError> {
    let mut targets: Vec<(&Arc<Upstream>, Bytes)> = Vec::with_capacity(1 + plan.fallbacks.len());
    targets.push((&plan.upstream, upstream_body.clone()));
    for f in &plan.fallbacks {
        let model = f.rewritten.as_deref().unwrap_or(&f.model);
        targets.push((&f.upstream, with_model(&upstream_body, model)?));
    }
    let guards: Vec<Guard<'_>> = targets
        .iter()
        .map(|(u, _)| Guard {
            name: &u.name,
            retry: u.retry.as_ref(),
            breaker: u.breaker.as_ref(),
        })
        .collect();
    let deadline = Instant::now() + plan.upstream.timeout;
    let path = call.endpoint.path();
    let stream = plan.stream;
    let outcome = attempts::run(&guards, deadline, |i| {
        let (upstream, body) = &targets[i];
        one(
            upstream,
            path,
            headers.clone(),
            body.clone(),
            deadline,
            stream,
        )
    })
    .await;
    let Answered {
        value,
        target,
        attempts,
    } = outcome.map_err(|AllCoolingDown(left)| cooling_down(&targets, left))?;
    let upstream = targets[target].0;
    call.answered_by = Some((upstream.name_header.clone(), attempts));
    call.recorder.set_attempts(attempts);
    if target > 0 {
        let model = &plan.fallbacks[target - 1].model;
        call.recorder.set_route(model, &upstream.name, stream);
        tracing::info!(request_id = %call.recorder.id(), upstream = %upstream.name, attempts, "answered by a fallback");
    }
    value
}

/// One try: sent, and for a stream read up to its first event.
async fn one(
    upstream: &Arc<Upstream>,
    path: &str,
    headers: HeaderMap,
    body: Bytes,
    deadline: Instant,
    stream: bool,
) -> Try<Result<Sent, ApiError>> {
    let sent = tokio::time::timeout_at(deadline, upstream.send(Method::POST, path, headers, body));
    let mut resp = match sent.await {
        Ok(Ok(resp)) => resp,
        Ok(Err(err)) => {
            let failure = match &err {
                UpstreamError::Connect { .. } => Failure::Connect,
                UpstreamError::Timeout => Failure::Timeout,
                UpstreamError::Body(_) => Failure::Broken,
            };
            return Try::Failed(failure, Err(failures::failure(upstream, err)));
        }
        Err(_) => {
            let err = ApiError::UpstreamTimeout(upstream.timeout.as_secs());
            return Try::Failed(Failure::Timeout, Err(err));
        }
    };
    resp.deadline = resp.deadline.min(deadline);
    if !resp.status.is_success() {
        let failure = Failure::Status {
            status: resp.status.as_u16(),
            retry_after: retry_after(&resp.headers),
        };
        return Try::Failed(failure, Ok(sent_as_is(resp, upstream)));
    }
    if !(stream && is_event_stream(&resp.headers)) {
        return Try::Answered(Ok(sent_as_is(resp, upstream)));
    }
    match first_event::read(&mut resp.body, resp.deadline, upstream).await {
        Ok(first) => Try::Answered(Ok(Sent {
            resp,
            read_ahead: Some(first),
            upstream: upstream.clone(),
        })),
        Err(err) => {
            let failure = match err {
                ApiError::UpstreamTimeout(_) => Failure::Timeout,
                _ => Failure::Broken,
            };
            Try::Failed(failure, Err(err))
        }
    }
}

fn sent_as_is(resp: UpstreamResponse, upstream: &Arc<Upstream>) -> Sent {
    Sent {
        resp,
        read_ahead: None,
        upstream: upstream.clone(),
    }
}

/// The body for a fallback target: the same, naming its model.
fn with_model(body: &Bytes, model: &str) -> Result<Bytes, ApiError> {
    let mut parsed = RequestBody::parse(body)?;
    let value = serde_json::value::to_raw_value(model).map_err(ApiError::internal)?;
    parsed.set("model", value);
    Ok(parsed.to_bytes(body))
}

/// 503 with `Retry-After`: every target is cooling down.
fn cooling_down(targets: &[(&Arc<Upstream>, Bytes)], left: std::time::Duration) -> ApiError {
    let names: Vec<&str> = targets.iter().map(|(u, _)| u.name.as_str()).collect();
    let seconds = left.as_millis().div_ceil(1000).max(1);
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
        headers.insert(axum::http::header::RETRY_AFTER, v);
    }
    ApiError::CoolingDown {
        message: format!(
            "upstream `{}` is cooling down after repeated failures; try again in {seconds} s",
            names.join("`, `")
        ),
        headers: Box::new(headers),
    }
}
