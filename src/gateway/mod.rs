//! # gateway
//!
//! The request pipeline: everything between "the caller is authenticated" and
//! "bytes go back to the client". [`handle`] runs the stages in order over one
//! per-call context ([`call::Call`]); each stage is a file, thin over the
//! domain module that does the work:
//!
//! | stage | file | over |
//! |---|---|---|
//! | prompt: registry prompt and RAG context | [`prompting`] | `registry/`, `grounding/` |
//! | request: model, route, metadata, cache policy | [`request`] | `providers/` |
//! | cache: answer from an entry, or lead the fetch | [`caching`] | `cache/` |
//! | budget: hold the worst-case cost | [`budget`] | `costs/` |
//! | limits: RPM, TPM, concurrency per team, key, team × model | [`limiting`] | `limits/` |
//! | send: call the upstream (retries, fallbacks, cooldowns), map its failures | [`send`], [`tries`] | `providers/`, `resilience/` |
//! | answer: whole JSON, or the stream tee (after its first event) | [`answer`], [`first_event`], [`streaming`] | `cache/`, `grounding/` |
//! | judge: the judge tier's verdict, now or on the record | [`judging`], [`judge_call`] | `grounding/judge/` |
//! | reply: headers, and the request record | [`reply`] | `store/` (batched) |
//!
//! A stage returns `Err` to end the call with an OpenAI-shaped error, or an
//! [`answer::Answer`] to end it early (a cache hit); the reply stage runs for
//! every outcome, so every call leaves exactly one record.
//!
//! A traced call's OpenTelemetry trace rides in its record
//! (`recorder.trace()`, see [`crate::otel`]): the stages note the moments the
//! spans need (upstream called and done, answer scored), each note one branch
//! when the call is not traced, and sealing the record sends the spans.

mod answer;
mod answer_model;
pub mod body;
mod budget;
mod caching;
mod call;
mod estimate;
mod failures;
mod first_event;
mod grounding_check;
pub mod judge_call;
mod judging;
mod limiting;
mod meters;
mod outcome;
pub mod prompting;
mod record;
mod redact;
mod reply;
mod request;
mod send;
mod sse;
mod stream;
mod streaming;
mod tries;
mod usage_member;

#[cfg(test)]
mod fuzz;

use std::future::Future;
use std::pin::Pin;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;

use crate::api::headers::{request_id, REQUEST_ID};
use crate::api::{ApiError, Endpoint};
use crate::auth::Caller;
use crate::state::AppState;

use answer::Answer;
use body::RequestBody;
use call::Call;
/// The check of a flag threshold given with a request (also used by `POST /v1/grounding/score`).
pub use grounding_check::threshold as grounding_threshold;

/// Runs one model call end to end. Never fails: errors become OpenAI-shaped
/// responses, and every outcome leaves a request record.
pub async fn handle(
    state: &AppState,
    caller: &Caller,
    endpoint: Endpoint,
    headers: &HeaderMap,
    raw: Bytes,
) -> Response {
    let id = request_id(headers);
    let _in_flight = meters::InFlight::start();
    let mut call = Call::new(state, caller, endpoint, headers, id.clone());
    let answer = stages(&mut call, raw).await;
    let mut response = reply::reply(call, answer).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, v);
    }
    response
}

/// The stages up to the answer, in the order they run.
async fn stages(call: &mut Call<'_>, raw: Bytes) -> Result<Answer, ApiError> {
    let mut body = RequestBody::parse(&raw)?;
    if let Err(e) = prompting::stage(call, &mut body) {
        // Rejected before routing: the record (and the cost report) still
        // names the model the client asked for.
        if let Ok(Some(model)) = body.str_field("model") {
            call.recorder.set_model(&model);
        }
        return Err(e);
    }
    let plan = request::stage(call, &mut body)?;
    let answer = match caching::stage(call, &plan, &body).await? {
        caching::Step::Answered(hit) => hit,
        caching::Step::Fetch(fetch) => {
            let upstream_body = budget::stage(call, &plan, body, &raw).await?;
            limiting::stage(call, &plan, &upstream_body).await?;
            let upstream = send::stage(call, &plan, upstream_body).await?;
            answer::stage(call, &plan, upstream, fetch).await?
        }
    };
    Ok(judging::stage(call, &plan, answer, judge_pipeline).await)
}

/// A judge call: a chat completion through [`handle`]. Boxed, because the
/// pipeline's own future contains this one.
pub fn judge_pipeline(
    state: AppState,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Pin<Box<dyn Future<Output = Response> + Send>> {
    Box::pin(async move { handle(&state, &caller, Endpoint::Chat, &headers, body).await })
}
