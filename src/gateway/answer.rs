//! The answer stage: what goes back to the client. A whole JSON body is
//! read, its usage taken (or counted locally when the upstream sent none),
//! stored in the cache when this request leads the fetch, and scored against
//! its RAG context; an event stream is handed to [`super::streaming`], which
//! does the same as the events pass.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;

use crate::api::usage::{self, NotJson};
use crate::api::{ApiError, Endpoint, Usage};
use crate::cache::{self, CacheStatus, LeaderGuard, ResponseCache};
use crate::providers::{collect, copy_response_headers, is_event_stream, BodyStream};

use super::call::{Call, Plan};
use super::first_event::{self, ReadAhead};
use super::record::{Outcome, Recorder};
use super::tries::Sent;
use super::{answer_model, estimate, failures, grounding_check, stream};

pub enum Answer {
    Done {
        response: Response,
        usage: Option<Usage>,
    },
    /// An event stream (live from the upstream, or replayed from the cache);
    /// the record travels with it and is sent when it ends.
    Stream(StreamAnswer),
    /// The upstream answered with an error that is passed on as it is.
    Failed {
        response: Response,
        outcome: Outcome,
        error: String,
    },
}

pub struct StreamAnswer {
    pub body: BodyStream,
    /// What was read of `body` before the response head (its first event).
    pub read_ahead: Option<ReadAhead>,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub idle: Duration,
    pub strip_usage: bool,
    /// Set when this request leads the fetch of a cacheable answer.
    pub store: Option<PendingStore>,
}

/// A cache entry to write once the answer is complete.
pub struct PendingStore {
    pub cache: Arc<ResponseCache>,
    /// The registry prompt the request used (for `DELETE /v1/cache?prompt=`).
    pub prompt: Option<String>,
    pub key: String,
    pub ttl: Duration,
    pub guard: LeaderGuard,
}

impl PendingStore {
    /// Stores a complete answer and hands it to the requests waiting for it.
    pub async fn complete(self, body: Bytes) {
        let entry = self.cache.put(&self.key, body, self.prompt, self.ttl).await;
        self.guard.finish(Some(entry));
    }
}

pub async fn stage(
    call: &mut Call<'_>,
    plan: &Plan,
    sent: Sent,
    store: Option<PendingStore>,
) -> Result<Answer, ApiError> {
    let Sent {
        resp,
        read_ahead,
        upstream,
    } = sent;
    let upstream = &upstream;
    call.recorder
        .trace()
        .upstream_answered(resp.status.as_u16());
    if !resp.status.is_success() {
        let (response, error) = failures::refused(upstream, call.endpoint, resp).await?;
        return Ok(Answer::Failed {
            response,
            outcome: Outcome::UpstreamError,
            error,
        });
    }
    if plan.stream && is_event_stream(&resp.headers) {
        let mut body = resp.body;
        let first = match read_ahead {
            Some(first) => first,
            None => first_event::read(&mut body, resp.deadline, upstream).await?,
        };
        return Ok(Answer::Stream(StreamAnswer {
            body,
            read_ahead: Some(first),
            status: resp.status,
            headers: resp.headers,
            idle: upstream.timeout,
            strip_usage: !plan.client_wants_usage,
            store,
        }));
    }
    let bytes = collect(resp.body, resp.deadline)
        .await
        .map_err(|e| failures::failure(upstream, e))?;
    call.recorder.trace().upstream_done();
    call.recorder.trace().answered_by(&bytes);
    if call.recorder.model().is_none() {
        // a call without `model` is priced and recorded by the one the answer names
        if let Some(model) = answer_model::of_answer(&bytes) {
            call.recorder.set_model(&model);
        }
    }
    let usage = match usage::of_answer(&bytes) {
        Ok(Some(u)) => Some(u),
        Ok(None) => estimate_from_answer(call.endpoint, bytes.clone(), &mut call.recorder).await,
        // Relayed, the SDK could not parse it and the ledger could not price
        // it. Its bytes stay out of the message (an HTML page can be anything).
        Err(NotJson) => {
            return Err(ApiError::Upstream(format!(
                "upstream `{}` answered {} with a body that is not JSON (content-type {})",
                upstream.name,
                resp.status.as_u16(),
                content_type(&resp.headers)
            )))
        }
    };
    if let Some(store) = store {
        store.complete(bytes.clone()).await;
    }
    grounding_check::score_json(call, &bytes);
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = resp.status;
    copy_response_headers(&resp.headers, response.headers_mut());
    Ok(Answer::Done { response, usage })
}

/// Answers from a cache entry: as JSON, or replayed as a stream.
pub fn from_cache(
    call: &mut Call<'_>,
    plan: &Plan,
    entry: &cache::Entry,
) -> Result<Answer, ApiError> {
    call.recorder.set_cache(CacheStatus::Hit);
    metrics::counter!("promptgate_cache_lookups_total", "result" => "hit").increment(1);
    let usage = usage::from_body(&entry.body);
    if plan.stream && call.endpoint != Endpoint::Embeddings {
        let answer: serde_json::Value =
            serde_json::from_slice(&entry.body).map_err(ApiError::internal)?;
        let frames = cache::replay::replay(call.endpoint, &answer, plan.client_wants_usage);
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream; charset=utf-8"),
        );
        return Ok(Answer::Stream(StreamAnswer {
            body: stream::replayed(frames),
            read_ahead: None,
            status: StatusCode::OK,
            headers,
            idle: Duration::from_secs(60),
            strip_usage: false,
            store: None,
        }));
    }
    let mut response = Response::new(Body::from(entry.body.clone()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    call.recorder.trace().answered_by(&entry.body);
    grounding_check::score_json(call, &entry.body);
    Ok(Answer::Done { response, usage })
}

/// Counts tokens locally for an answer that came without `usage`.
/// Tokenizing runs on the blocking pool: it is CPU work, and the first use
/// of an encoding loads it.
async fn estimate_from_answer(
    endpoint: Endpoint,
    bytes: Bytes,
    recorder: &mut Recorder,
) -> Option<Usage> {
    let model = recorder.model()?.to_owned();
    let request = recorder.request_body().cloned();
    let counted = tokio::task::spawn_blocking(move || {
        let answer: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        let text = estimate::answer_text(endpoint, &answer);
        Some(estimate::usage(endpoint, &model, request.as_deref(), &text))
    })
    .await
    .ok()
    .flatten()?;
    recorder.mark_estimated();
    Some(counted)
}

/// The answer's declared content type, for error messages.
pub fn content_type(headers: &HeaderMap) -> &str {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none")
}
