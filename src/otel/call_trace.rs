//! A call's trace while it runs: the notes the stages make on it (upstream
//! called and done, answer scored, which model answered) and the
//! `traceparent` the upstream gets, until the finished record turns it into
//! spans.

use std::time::Instant;

use axum::http::HeaderMap;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags};
use opentelemetry::Context;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};

use crate::store::RequestRecord;

use super::call_facts::{CallTrace, UpstreamCall};

/// A call's trace: nothing when tracing is off or the call was not sampled
/// (then every note below is one branch and nothing more).
#[derive(Default)]
pub struct Trace(Option<Box<CallTrace>>);

impl Trace {
    pub(super) fn sampled(trace: CallTrace) -> Trace {
        Trace(Some(Box::new(trace)))
    }

    /// The routed upstream speaks the API of `provider` (`openai`, `anthropic`).
    #[inline]
    pub fn routed(&mut self, provider: &'static str) {
        if let Some(t) = &mut self.0 {
            t.provider = Some(provider);
        }
    }

    /// The upstream is called now with `headers`: they get the `traceparent`
    /// (and `tracestate`) of the upstream call's span, replacing the caller's.
    #[inline]
    pub fn upstream_called(&mut self, headers: &mut HeaderMap) {
        if let Some(t) = &mut self.0 {
            t.upstream_called(headers);
        }
    }

    /// The upstream answered with `status` (its body may still be coming).
    #[inline]
    pub fn upstream_answered(&mut self, status: u16) {
        if let Some(u) = self.0.as_mut().and_then(|t| t.upstream.as_mut()) {
            u.status = Some(status);
        }
    }

    /// The upstream's whole answer has been read.
    #[inline]
    pub fn upstream_done(&mut self) {
        if let Some(u) = self.0.as_mut().and_then(|t| t.upstream.as_mut()) {
            u.done.get_or_insert_with(Instant::now);
        }
    }

    /// The answer was scored for grounding, from `started` until now.
    #[inline]
    pub fn grounding_checked(&mut self, started: Instant) {
        if let Some(t) = &mut self.0 {
            t.grounding = Some((started, Instant::now()));
        }
    }

    /// The answer (a JSON body, or a stream's first event) names its model
    /// and id; read only when the call is traced.
    #[inline]
    pub fn answered_by(&mut self, json: &[u8]) {
        if let Some(t) = &mut self.0 {
            t.answered_by(json);
        }
    }

    /// The `traceparent` naming the call's own span, for a call made on its
    /// behalf (the judge's), which then traces as its child.
    pub fn traceparent(&self) -> Option<String> {
        let t = self.0.as_ref()?;
        Some(format!("00-{}-{}-01", t.trace_id, t.span_id))
    }

    /// The call is over: its spans go to the export queue.
    #[inline]
    pub fn finish(&mut self, record: &RequestRecord) {
        if let Some(t) = self.0.take() {
            let spans = super::spans::build(&t, record, Instant::now());
            t.queue.offer(spans);
        }
    }
}

impl CallTrace {
    fn upstream_called(&mut self, headers: &mut HeaderMap) {
        let span_id = RandomIdGenerator::default().new_span_id();
        let context = SpanContext::new(
            self.trace_id,
            span_id,
            TraceFlags::SAMPLED,
            false,
            self.trace_state.clone(),
        );
        headers.remove("tracestate");
        TraceContextPropagator::new().inject_context(
            &Context::new().with_remote_span_context(context),
            &mut opentelemetry_http::HeaderInjector(headers),
        );
        self.upstream = Some(UpstreamCall {
            span_id,
            started: Instant::now(),
            done: None,
            status: None,
        });
    }

    fn answered_by(&mut self, json: &[u8]) {
        #[derive(serde::Deserialize)]
        struct Named {
            model: Option<String>,
            id: Option<String>,
            /// The Messages API's stream starts with `message_start`.
            message: Option<Box<Named>>,
            /// The Responses API's stream events carry the response.
            response: Option<Box<Named>>,
        }
        let Ok(mut named) = serde_json::from_slice::<Named>(json) else {
            return;
        };
        if named.model.is_none() {
            if let Some(inner) = named.message.take().or(named.response.take()) {
                named = *inner;
            }
        }
        self.response_model = named.model.or(self.response_model.take());
        self.response_id = named.id.or(self.response_id.take());
    }
}
