//! The judge stage: a request with RAG context may also get the judge tier's
//! verdict ([`crate::grounding::judge`], configured by `[grounding.judge]`).
//!
//! Which requests: those whose `grounding.tiers` include `judge`, and (when
//! they name no tiers) a `sample_rate` share of the others. How: a
//! synchronous judge (non-streamed answers that ask for the judge tier, or
//! every sampled one with `mode = "sync"`) runs before the reply and puts its
//! score in `x-promptgate-judge`; otherwise the judge starts when the answer
//! is complete and its verdict lands on the request record, which waits for
//! it (the answer never does). Either way the verdict joins the fast report
//! (`judge` or `judge_error`, and `combined`), and the record's `flagged`
//! follows the flag rule.

use std::sync::Arc;

use axum::http::HeaderValue;
use axum::response::Response;

use crate::api::headers;
use crate::auth::Caller;
use crate::grounding::judge::{self, FlagRule, JudgeConfig, JudgeMode, JudgeOutcome};
use crate::grounding::GroundingReport;
use crate::state::AppState;
use crate::store::RequestRecord;

use super::answer::Answer;
use super::call::{Call, Plan};
use super::judge_call::{self, Pipeline, Question};
use super::record::{Deferred, RecordPatch};

/// `pipeline` carries the judge call ([`super::judge_call::Pipeline`]).
pub async fn stage(call: &mut Call<'_>, plan: &Plan, answer: Answer, pipeline: Pipeline) -> Answer {
    let state = call.state;
    let Some(config) = state.config.grounding.judge.as_ref() else {
        return answer;
    };
    if call.recorder.grounding_context().is_none() {
        return answer;
    }
    let wanted = match call.grounding_tiers {
        Some(tiers) => tiers.judge,
        None => config.sample_rate > 0.0 && rand::random::<f64>() < config.sample_rate,
    };
    if !wanted {
        return answer;
    }
    let asked = call.grounding_tiers.is_some();
    match answer {
        Answer::Done {
            mut response,
            usage,
        } if response.status().is_success() => {
            if !plan.stream && (asked || config.mode == JudgeMode::Sync) {
                judge_now(call, config, pipeline, &mut response).await;
            } else {
                later(call, config, pipeline);
                response
                    .headers_mut()
                    .insert(headers::JUDGE, HeaderValue::from_static("pending"));
            }
            Answer::Done { response, usage }
        }
        Answer::Stream(mut s) => {
            later(call, config, pipeline);
            s.headers
                .insert(headers::JUDGE, HeaderValue::from_static("pending"));
            Answer::Stream(s)
        }
        other => other,
    }
}

/// The synchronous judge: the verdict goes into the record now and into headers.
async fn judge_now(
    call: &mut Call<'_>,
    config: &JudgeConfig,
    pipeline: Pipeline,
    response: &mut Response,
) {
    let traceparent = call.recorder.trace().traceparent();
    let Some(report) = call.recorder.grounding_report() else {
        return;
    };
    let context = call.recorder.grounding_context().unwrap_or_default();
    let claims = claims_of(report);
    let question = Question {
        pipeline,
        caller: call.caller,
        parent: Some(call.recorder.id()),
        traceparent: traceparent.as_deref(),
        context,
        claims: &claims,
    };
    let outcome = judge_call::run(call.state, config, question).await;
    let h = response.headers_mut();
    match &outcome {
        Ok(verdict) => {
            if let Ok(v) = HeaderValue::from_str(&format!("{:.4}", verdict.score)) {
                h.insert(headers::JUDGE, v);
            }
        }
        Err(e) => {
            h.insert(headers::JUDGE, HeaderValue::from_static("error"));
            h.insert(headers::JUDGE_ERROR, HeaderValue::from_static(e.code()));
        }
    }
    call.recorder
        .patch(patch(outcome, config.flag, counts_fast(call)));
}

/// Whether the fast tier's flag counts in the combined one: not when the
/// request asked for the judge tier alone.
fn counts_fast(call: &Call<'_>) -> bool {
    call.grounding_tiers.is_none_or(|t| t.fast)
}

/// The asynchronous judge, started by the record once the answer is scored.
fn later(call: &mut Call<'_>, config: &JudgeConfig, pipeline: Pipeline) {
    let state: AppState = call.state.clone();
    let config = Arc::new(config.clone());
    let caller: Caller = call.caller.clone();
    let parent = call.recorder.id().to_owned();
    let traceparent = call.recorder.trace().traceparent();
    let context = call
        .recorder
        .grounding_context()
        .unwrap_or_default()
        .to_vec();
    let with_fast = counts_fast(call);
    call.recorder
        .judge_later(Box::new(move |report: &GroundingReport| -> Deferred {
            let claims = claims_of(report);
            let rule = config.flag;
            // Spawned now, so the judge runs while the record waits for it.
            let task = tokio::spawn(async move {
                let q = Question {
                    pipeline,
                    caller: &caller,
                    parent: Some(&parent),
                    traceparent: traceparent.as_deref(),
                    context: &context,
                    claims: &claims,
                };
                judge_call::run(&state, &config, q).await
            });
            Box::pin(async move {
                let outcome = task.await.unwrap_or_else(|e| {
                    Err(judge::JudgeError::Invalid(format!(
                        "judge task failed: {e}"
                    )))
                });
                patch(outcome, rule, with_fast)
            })
        }));
}

/// The fast tier's claims: what the judge is asked about.
fn claims_of(report: &GroundingReport) -> Vec<String> {
    report.claims.iter().map(|c| c.text.clone()).collect()
}

/// Writes the judge's outcome into the record's grounding report; `flagged`
/// becomes the combined flag (it stays the fast tier's when there is none).
fn patch(outcome: JudgeOutcome, rule: FlagRule, with_fast: bool) -> RecordPatch {
    Box::new(move |record: &mut RequestRecord| {
        let fast = record.flagged.filter(|_| with_fast);
        let mut report = record
            .grounding
            .as_deref()
            .and_then(|g| serde_json::from_str(g).ok())
            .unwrap_or_default();
        let flagged = judge::annotate(&mut report, &outcome, rule, fast);
        if flagged.is_some() {
            record.flagged = flagged;
        }
        record.grounding = Some(report.to_string());
    })
}
