//! What the trace of a sampled call knows: its ids, what the caller's
//! `traceparent` said, and the moments the stages noted (see [`super::Trace`]).

use std::time::{Instant, SystemTime};

use opentelemetry::trace::{SpanContext, SpanId, TraceId, TraceState};

use super::export::Queue;

/// The trace of a sampled call.
pub struct CallTrace {
    pub(super) queue: Queue,
    pub(super) trace_id: TraceId,
    /// The call's own span.
    pub(super) span_id: SpanId,
    /// The caller's span, when the call came with a `traceparent`.
    pub(super) parent: Option<SpanContext>,
    pub(super) trace_state: TraceState,
    pub(super) started_at: SystemTime,
    pub(super) started: Instant,
    /// `gen_ai.provider.name` of the upstream the call was routed to.
    pub(super) provider: Option<&'static str>,
    pub(super) upstream: Option<UpstreamCall>,
    /// When the answer was scored against its RAG context: from, to.
    pub(super) grounding: Option<(Instant, Instant)>,
    /// The answer's own `model` and `id`.
    pub(super) response_model: Option<String>,
    pub(super) response_id: Option<String>,
}

/// The call to the upstream, as a child span.
pub(super) struct UpstreamCall {
    pub span_id: SpanId,
    pub started: Instant,
    /// When its answer was read whole (a stream ends with the call).
    pub done: Option<Instant>,
    /// The upstream's status, once it answered.
    pub status: Option<u16>,
}

impl CallTrace {
    pub(super) fn new(
        queue: Queue,
        trace_id: TraceId,
        span_id: SpanId,
        parent: Option<SpanContext>,
        trace_state: TraceState,
    ) -> CallTrace {
        CallTrace {
            queue,
            trace_id,
            span_id,
            parent,
            trace_state,
            started_at: SystemTime::now(),
            started: Instant::now(),
            provider: None,
            upstream: None,
            grounding: None,
            response_model: None,
            response_id: None,
        }
    }
}
