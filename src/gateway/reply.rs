//! The reply stage, run for every outcome: the `x-promptgate-*` headers on
//! the answer (`-upstream` and `-attempts` when the call could be retried
//! or fall back), and the request record (sent now, or when a stream ends).

use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};

use crate::api::{headers, ApiError};
use crate::cache::CacheStatus;

use super::answer::Answer;
use super::call::Call;
use super::record::{Ending, Outcome, Recorder};
use super::streaming;

pub async fn reply(mut call: Call<'_>, answer: Result<Answer, ApiError>) -> Response {
    let answered_by = call.answered_by.take();
    let rate_headers = call.rate_headers.take();
    let mut response = respond(call, answer).await;
    if let Some(rate) = rate_headers {
        response.headers_mut().extend(*rate);
    }
    if let Some((upstream, attempts)) = answered_by {
        let h = response.headers_mut();
        h.insert(headers::UPSTREAM, upstream);
        h.insert(headers::ATTEMPTS, HeaderValue::from(attempts));
    }
    response
}

async fn respond(call: Call<'_>, answer: Result<Answer, ApiError>) -> Response {
    let Call {
        state,
        endpoint,
        recorder,
        ..
    } = call;
    match answer {
        Ok(Answer::Done {
            mut response,
            usage,
        }) => {
            set_cache_header(&mut response, recorder.cache());
            set_prompt_headers(&mut response, prompt_headers(&recorder));
            if let Some((score, flagged)) = recorder.grounding_verdict() {
                let h = response.headers_mut();
                if let Ok(v) = HeaderValue::from_str(&format!("{score:.4}")) {
                    h.insert(headers::GROUNDING, v);
                }
                h.insert(
                    headers::FLAGGED,
                    HeaderValue::from_static(if flagged { "true" } else { "false" }),
                );
            }
            if let Some(cost) = usage.and_then(|u| recorder.charged(u)) {
                if let Ok(v) = HeaderValue::from_str(&crate::costs::format_usd(cost)) {
                    response.headers_mut().insert(headers::COST_USD, v);
                }
            }
            recorder
                .finish(Ending {
                    status: response.status().as_u16(),
                    outcome: Outcome::Ok,
                    usage,
                    error: None,
                })
                .await;
            response
        }
        Ok(Answer::Stream(s)) => {
            let cache = recorder.cache();
            let prompt = prompt_headers(&recorder);
            let scorer = state.grounding.clone();
            let mut response = streaming::respond(s, recorder, scorer, endpoint).await;
            set_cache_header(&mut response, cache);
            set_prompt_headers(&mut response, prompt);
            response
        }
        Ok(Answer::Failed {
            response,
            outcome,
            error,
        }) => {
            recorder
                .finish(Ending {
                    status: response.status().as_u16(),
                    outcome,
                    usage: None,
                    error: Some(error),
                })
                .await;
            response
        }
        Err(err) => {
            let outcome = match &err {
                ApiError::Upstream(_) | ApiError::CoolingDown { .. } => Outcome::UpstreamError,
                ApiError::UpstreamTimeout(_) => Outcome::Timeout,
                _ => Outcome::Rejected,
            };
            let status = err.status().as_u16();
            let message = err.to_string();
            if matches!(outcome, Outcome::UpstreamError | Outcome::Timeout) {
                metrics::counter!("promptgate_upstream_errors_total", "kind" => outcome.as_str())
                    .increment(1);
            }
            recorder
                .finish(Ending {
                    status,
                    outcome,
                    usage: None,
                    error: Some(message),
                })
                .await;
            if endpoint == crate::api::Endpoint::Messages {
                // Anthropic SDK callers read Anthropic's error shape.
                return crate::api::anthropic::api_error_response(&err);
            }
            err.into_response()
        }
    }
}

fn set_cache_header(response: &mut Response, status: CacheStatus) {
    response
        .headers_mut()
        .insert(headers::CACHE, HeaderValue::from_static(status.as_str()));
}

/// `x-promptgate-prompt: name@version` and its content hash, when a prompt
/// was used.
fn prompt_headers(recorder: &Recorder) -> Option<(HeaderValue, HeaderValue)> {
    let (id, sha) = recorder.prompt()?;
    Some((
        HeaderValue::from_str(&id).ok()?,
        HeaderValue::from_str(sha).ok()?,
    ))
}

fn set_prompt_headers(response: &mut Response, values: Option<(HeaderValue, HeaderValue)>) {
    if let Some((id, sha)) = values {
        let h = response.headers_mut();
        h.insert(headers::PROMPT, id);
        h.insert(headers::PROMPT_SHA256, sha);
    }
}
