//! One judge verdict: from the verdict cache, or from a chat completion that
//! goes through the whole pipeline as the calling team's own request, so it
//! is routed, priced, recorded (tagged `grounding-judge`) and held against
//! the team's budget like any other call.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use serde_json::Value;

use crate::api::headers::REQUEST_ID;
use crate::auth::{Caller, ADMIN_TEAM};
use crate::grounding::judge::{self, ContextText, JudgeConfig, JudgeError, JudgeOutcome};
use crate::state::AppState;

/// Largest judge answer read.
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// Runs one request through the gateway's pipeline: [`super::handle`] for a
/// chat completion. Handed in by the caller, as this file is part of the
/// pipeline it sends through.
pub type Pipeline =
    fn(AppState, Caller, HeaderMap, Bytes) -> Pin<Box<dyn Future<Output = Response> + Send>>;

/// What the judge is asked about, on whose behalf, and how to ask.
pub struct Question<'a> {
    pub pipeline: Pipeline,
    pub caller: &'a Caller,
    /// The request being judged; its judge call gets the id `<parent>:judge`.
    pub parent: Option<&'a str>,
    /// The judged call's span when it is traced: the judge call is its child.
    pub traceparent: Option<&'a str>,
    pub context: &'a [String],
    pub claims: &'a [String],
}

/// The judge's verdict on `q`; never fails the caller's request.
pub async fn run(state: &AppState, config: &JudgeConfig, q: Question<'_>) -> JudgeOutcome {
    let started = Instant::now();
    let outcome = verdict(state, config, &q).await;
    metrics::histogram!("promptgate_grounding_judge_seconds")
        .record(started.elapsed().as_secs_f64());
    match &outcome {
        Ok(report) => {
            let source = if report.cached { "cache" } else { "model" };
            metrics::counter!("promptgate_grounding_judge_verdicts_total", "source" => source)
                .increment(1);
            if report.flagged {
                metrics::counter!("promptgate_grounding_judge_flagged_total").increment(1);
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "judge gave no verdict; the fast result stands");
            metrics::counter!("promptgate_grounding_judge_errors_total", "code" => e.code())
                .increment(1);
        }
    }
    outcome
}

async fn verdict(state: &AppState, config: &JudgeConfig, q: &Question<'_>) -> JudgeOutcome {
    if q.claims.is_empty() {
        return Ok(judge::JudgeReport::new(
            &config.model,
            config.threshold,
            Vec::new(),
        ));
    }
    // Verdicts are kept apart per team like cached answers are, so a team
    // cannot learn from a hit what another team asked.
    let team = q.caller.team().unwrap_or(ADMIN_TEAM);
    let scope = crate::cache::key::scope(state.config.cache.shared_namespace, team);
    let key = judge::cache_key(scope, &config.model, q.context, q.claims);
    if let Some(hit) = state.cache.get(&key).await {
        if let Ok(mut report) = serde_json::from_slice::<judge::JudgeReport>(&hit.body) {
            report.cached = true;
            return Ok(report);
        }
    }
    let body = judge::request_body(&config.model, q.context, q.claims);
    let mut headers = HeaderMap::new();
    if let Some(id) = q
        .parent
        .and_then(|p| HeaderValue::from_str(&format!("{p}:judge")).ok())
    {
        headers.insert(REQUEST_ID, id);
    }
    if let Some(tp) = q.traceparent.and_then(|t| HeaderValue::from_str(t).ok()) {
        headers.insert("traceparent", tp);
    }
    let deadline = Duration::from_millis(config.timeout_ms);
    let call = async {
        let response = (q.pipeline)(
            state.clone(),
            q.caller.clone(),
            headers,
            Bytes::from(body.to_string()),
        )
        .await;
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), MAX_ANSWER_BYTES).await;
        (status, bytes)
    };
    let (status, bytes) = tokio::time::timeout(deadline, call)
        .await
        .map_err(|_| JudgeError::Timeout(config.timeout_ms))?;
    let bytes = bytes.map_err(|e| JudgeError::Invalid(format!("unreadable answer: {e}")))?;
    if !status.is_success() {
        return Err(refusal(status.as_u16(), &bytes));
    }
    let context = ContextText::new(q.context);
    let report = judge::read_verdicts(&bytes, q.claims, &context, &config.model, config.threshold)?;
    if let Ok(json) = serde_json::to_vec(&report) {
        let ttl = Duration::from_secs(config.cache_ttl_s);
        state.cache.put(&key, Bytes::from(json), None, ttl).await;
    }
    Ok(report)
}

/// A judge call the gateway or the upstream refused.
fn refusal(status: u16, body: &[u8]) -> JudgeError {
    let error = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("error").cloned());
    let text = |field: &str| {
        error
            .as_ref()
            .and_then(|e| e.get(field))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let message = text("message")
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned());
    if text("code").as_deref() == Some("budget_exceeded") {
        return JudgeError::Budget(message);
    }
    JudgeError::Status { status, message }
}
