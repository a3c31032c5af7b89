//! The answer stage for event streams: the upstream's stream goes through the
//! [`TeeStream`], and what it saw settles the record, the cache entry and the
//! grounding score when the stream ends (also when the client leaves early).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue};
use axum::response::Response;

use crate::api::Endpoint;
use crate::cache;
use crate::grounding::Scorer;
use crate::providers::copy_response_headers;

use super::answer::{PendingStore, StreamAnswer};
use super::record::{Ending, Outcome, Recorder};
use super::stream::{GroundingFacts, Seen, StreamEnd, StreamHooks, TeeStream, TrailerFacts};
use super::{answer_model, estimate, grounding_check};

/// The streaming response; the record goes with the stream.
pub async fn respond(
    s: StreamAnswer,
    recorder: Recorder,
    scorer: Arc<Scorer>,
    endpoint: Endpoint,
) -> Response {
    let started = recorder.started();
    let hooks = Box::new(ProxyHooks {
        recorder: Some(recorder),
        scorer,
        endpoint,
        store: s.store,
    });
    let mut tee = TeeStream::new(s.body, hooks, started, s.idle, s.strip_usage);
    tee.anthropic = endpoint == Endpoint::Messages;
    if let Some(first) = s.read_ahead {
        tee.read_ahead(first.bytes, first.at);
    }
    tee.prime().await;
    let mut response = Response::new(Body::from_stream(tee));
    *response.status_mut() = s.status;
    copy_response_headers(&s.headers, response.headers_mut());
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Tells nginx-style proxies in front of us not to buffer the stream.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// What happens when a proxied stream ends: the record, and the cache entry
/// when this request was fetching one.
struct ProxyHooks {
    recorder: Option<Recorder>,
    scorer: Arc<Scorer>,
    endpoint: Endpoint,
    store: Option<PendingStore>,
}

impl StreamHooks for ProxyHooks {
    fn trailer_facts(&mut self, seen: &Seen) -> TrailerFacts {
        let mut facts = TrailerFacts {
            usage: seen.usage,
            ..TrailerFacts::default()
        };
        let Some(rec) = self.recorder.as_mut() else {
            return facts;
        };
        name_model(rec, seen);
        facts.request_id = Some(rec.id().to_owned());
        facts.cache = Some(rec.cache().as_str());
        if let Some(cost) = seen.usage.and_then(|u| rec.charged(u)) {
            facts.cost_usd = Some(crate::costs::format_usd(cost));
        }
        if let Some(context) = rec.grounding_context() {
            // Scored without secret values, as whole answers are (grounding_check).
            let text = super::redact::strike(
                &estimate::streamed_text(self.endpoint, &seen.chunks()),
                rec.secrets(),
            );
            let threshold = rec.grounding_threshold();
            let started = std::time::Instant::now();
            let report = grounding_check::score(&self.scorer, context, &text, threshold);
            rec.trace().grounding_checked(started);
            if let Some(report) = report {
                facts.grounding = Some(GroundingFacts {
                    flagged: report.flagged,
                    score: report.score,
                    threshold: report.threshold,
                });
                rec.set_grounding(report);
            }
        }
        facts
    }

    fn end(mut self: Box<Self>, end: StreamEnd) {
        let needs_chunks = self.store.is_some() || end.seen.usage.is_none();
        let chunks = if needs_chunks {
            end.seen.chunks()
        } else {
            Vec::new()
        };
        if let (Some(store), Outcome::Ok) = (self.store.take(), end.outcome) {
            // Only a stream that reached its end is stored.
            if let Some(answer) = cache::replay::assemble(self.endpoint, &chunks) {
                let body = Bytes::from(answer.to_string());
                tokio::spawn(store.complete(body));
            }
        }
        let Some(mut rec) = self.recorder.take() else {
            return;
        };
        if let Some(ttft) = end.seen.ttft {
            rec.set_ttft(ttft);
        }
        // Also here: a stream the client left never reached its trailer.
        name_model(&mut rec, &end.seen);
        if let Some(first) = end.seen.data.first() {
            rec.trace().answered_by(first);
        }
        let model = rec.model().map(str::to_owned);
        let (outcome, error) = (end.outcome, end.error);
        let ending = move |usage| Ending {
            status: 200,
            outcome,
            usage,
            error,
        };
        match (end.seen.usage, model) {
            (None, Some(model)) => {
                // No usage chunk (the client left, or the upstream sends
                // none): count what was streamed, on the blocking pool.
                let endpoint = self.endpoint;
                tokio::task::spawn_blocking(move || {
                    let text = estimate::streamed_text(endpoint, &chunks);
                    let request = rec.request_body().cloned();
                    let usage = estimate::usage(endpoint, &model, request.as_deref(), &text);
                    rec.mark_estimated();
                    rec.finish_now(ending(Some(usage)));
                });
            }
            (usage, _) => rec.finish_now(ending(usage)),
        }
    }
}

/// A call that named no model (a model-less Responses call) is recorded and
/// priced by the model its stream names.
fn name_model(rec: &mut Recorder, seen: &Seen) {
    if rec.model().is_none() {
        if let Some(model) = answer_model::of_stream(&seen.data) {
            rec.set_model(&model);
        }
    }
}
