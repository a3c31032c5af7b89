//! # otel
//!
//! OpenTelemetry traces of model calls, exported over OTLP/HTTP (protobuf).
//! Off unless `[tracing] otlp_endpoint` is set; then each call is sampled
//! once, when it arrives ([`Tracing::begin`]): an unsampled call carries no
//! trace at all, so it costs what a call costs with tracing off.
//!
//! A sampled call carries a [`Trace`] in its request record. The stages
//! note on it what the record does not hold (when the upstream was called and
//! answered, when the answer was scored, which model answered) and the
//! `traceparent` the upstream gets; when the record is sealed, `spans`
//! turns the trace and the finished record into spans (the call, with the
//! GenAI semantic-convention attributes; the upstream call; the grounding
//! check), and `export` sends them off the request path.
//!
//! Spans carry names, counts, ids and outcomes, never bodies, headers,
//! prompt variables, metadata or credentials.

mod call_facts;
mod call_trace;
pub mod config;
mod export;
mod http_client;
mod spans;

use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanKind, TraceContextExt};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{
    IdGenerator, RandomIdGenerator, Sampler, SamplingDecision, ShouldSample,
};

use call_facts::CallTrace;
pub use call_trace::Trace;
use config::TracingConfig;
use export::Queue;

/// The process's tracer: the sampler and the export queue (cheap to clone).
#[derive(Clone)]
pub struct Tracing(Arc<Inner>);

struct Inner {
    sampler: Sampler,
    ids: RandomIdGenerator,
    queue: Queue,
}

impl Tracing {
    /// Starts the exporter when tracing is configured; `None` when it is off.
    pub fn start(config: &TracingConfig) -> anyhow::Result<Option<Tracing>> {
        if config.otlp_endpoint.is_none() {
            return Ok(None);
        }
        let queue = Queue::start(config)?;
        let sampler =
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(config.sample_rate)));
        Ok(Some(Tracing(Arc::new(Inner {
            sampler,
            ids: RandomIdGenerator::default(),
            queue,
        }))))
    }

    /// The trace of a call arriving with `headers`, when it is sampled: it
    /// continues the caller's trace when they sent a valid `traceparent`.
    pub fn begin(&self, headers: &HeaderMap) -> Trace {
        let caller =
            TraceContextPropagator::new().extract(&opentelemetry_http::HeaderExtractor(headers));
        let parent = caller.span().span_context().clone();
        let parent = parent.is_valid().then_some(parent);
        let trace_id = parent
            .as_ref()
            .map_or_else(|| self.0.ids.new_trace_id(), |p| p.trace_id());
        let decision =
            self.0
                .sampler
                .should_sample(Some(&caller), trace_id, "", &SpanKind::Server, &[], &[]);
        if decision.decision != SamplingDecision::RecordAndSample {
            return Trace::default();
        }
        Trace::sampled(CallTrace::new(
            self.0.queue.clone(),
            trace_id,
            self.0.ids.new_span_id(),
            parent,
            decision.trace_state,
        ))
    }

    /// Sends the spans still queued (at shutdown), waiting at most `limit`.
    pub async fn flush(&self, limit: Duration) {
        self.0.queue.flush(limit).await;
    }
}
