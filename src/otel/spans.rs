//! A finished call as spans: the call itself, named and described by the
//! OpenTelemetry GenAI semantic conventions plus promptgate's own
//! `promptgate.*` attributes, with the upstream call and the grounding check
//! as its children. Built from the sealed request record, so a span says
//! exactly what the record says.

use std::borrow::Cow;
use std::time::{Instant, SystemTime};

use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceFlags};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

use crate::store::RequestRecord;

use super::call_facts::CallTrace;

pub fn build(trace: &CallTrace, record: &RequestRecord, now: Instant) -> Vec<SpanData> {
    let at = |i: Instant| trace.started_at + i.saturating_duration_since(trace.started);
    let end = at(now);
    let failed = failed(record);
    let mut spans = Vec::with_capacity(3);
    let operation = operation(&record.endpoint);
    let name = match record.model.as_deref() {
        Some(model) if !model.is_empty() => format!("{operation} {model}"),
        _ => operation.to_owned(),
    };
    spans.push(span(
        trace,
        trace.span_id,
        name,
        SpanKind::Server,
        (trace.started_at, end),
        call_attributes(trace, record, operation),
        status(failed, record),
    ));
    if let Some(up) = &trace.upstream {
        let mut attributes = vec![KeyValue::new(
            "promptgate.upstream",
            record.upstream.clone().unwrap_or_default(),
        )];
        if let Some(provider) = trace.provider {
            attributes.push(KeyValue::new("gen_ai.provider.name", provider));
        }
        if let Some(status) = up.status {
            attributes.push(KeyValue::new(
                "http.response.status_code",
                i64::from(status),
            ));
        }
        let upstream_failed =
            failed && matches!(record.outcome.as_str(), "upstream_error" | "timeout");
        spans.push(span(
            trace,
            up.span_id,
            format!("upstream {}", record.upstream.as_deref().unwrap_or("-")),
            SpanKind::Client,
            (at(up.started), up.done.map_or(end, at)),
            attributes,
            status(upstream_failed, record),
        ));
    }
    if let Some((from, to)) = trace.grounding {
        let mut attributes = Vec::with_capacity(2);
        if let Some(score) = record.grounding_score {
            attributes.push(KeyValue::new("promptgate.grounding.score", score));
        }
        if let Some(flagged) = record.flagged {
            attributes.push(KeyValue::new("promptgate.grounding.flagged", flagged));
        }
        spans.push(span(
            trace,
            opentelemetry_sdk::trace::IdGenerator::new_span_id(
                &opentelemetry_sdk::trace::RandomIdGenerator::default(),
            ),
            "grounding check".to_owned(),
            SpanKind::Internal,
            (at(from), at(to)),
            attributes,
            Status::Unset,
        ));
    }
    spans
}

/// `gen_ai.operation.name` of an endpoint.
fn operation(endpoint: &str) -> &'static str {
    match endpoint {
        "completions" => "text_completion",
        "embeddings" => "embeddings",
        // chat completions, the Responses API and the Messages API
        _ => "chat",
    }
}

/// The call ended in the gateway's or the upstream's failure (a client's
/// mistake, a 4xx, is not a failed span).
fn failed(record: &RequestRecord) -> bool {
    record.status >= 500 || matches!(record.outcome.as_str(), "upstream_error" | "timeout")
}

fn status(failed: bool, record: &RequestRecord) -> Status {
    if failed {
        Status::error(
            record
                .error
                .clone()
                .unwrap_or_else(|| record.outcome.clone()),
        )
    } else {
        Status::Unset
    }
}

fn call_attributes(trace: &CallTrace, r: &RequestRecord, operation: &'static str) -> Vec<KeyValue> {
    let mut a = Vec::with_capacity(28);
    a.push(KeyValue::new("gen_ai.operation.name", operation));
    if let Some(provider) = trace.provider {
        a.push(KeyValue::new("gen_ai.provider.name", provider));
        // the name before semantic conventions 1.37, which many backends still read
        a.push(KeyValue::new("gen_ai.system", provider));
    }
    if let Some(model) = r.model.as_deref().filter(|m| !m.is_empty()) {
        a.push(KeyValue::new("gen_ai.request.model", model.to_owned()));
    }
    if let Some(model) = trace.response_model.clone().or_else(|| r.model.clone()) {
        a.push(KeyValue::new("gen_ai.response.model", model));
    }
    if let Some(id) = &trace.response_id {
        a.push(KeyValue::new("gen_ai.response.id", id.clone()));
    }
    let tokens = [
        ("gen_ai.usage.input_tokens", r.prompt_tokens),
        ("gen_ai.usage.output_tokens", r.completion_tokens),
        ("gen_ai.usage.cache_read.input_tokens", r.cached_tokens),
        ("promptgate.usage.reasoning_tokens", r.reasoning_tokens),
    ];
    for (key, n) in tokens {
        if let Some(n) = n {
            a.push(KeyValue::new(key, n));
        }
    }
    if r.outcome != "ok" {
        a.push(KeyValue::new("error.type", r.outcome.clone()));
    }
    a.push(KeyValue::new(
        "http.response.status_code",
        i64::from(r.status),
    ));
    a.push(KeyValue::new("promptgate.request_id", r.id.clone()));
    a.push(KeyValue::new("promptgate.team", r.team.clone()));
    if let Some(key_id) = &r.key_id {
        a.push(KeyValue::new("promptgate.key_id", key_id.clone()));
    }
    a.push(KeyValue::new("promptgate.endpoint", r.endpoint.clone()));
    if let Some(upstream) = &r.upstream {
        a.push(KeyValue::new("promptgate.upstream", upstream.clone()));
    }
    a.push(KeyValue::new("promptgate.stream", r.stream));
    a.push(KeyValue::new("promptgate.outcome", r.outcome.clone()));
    if let Some(cache) = &r.cache {
        a.push(KeyValue::new("promptgate.cache", cache.clone()));
    }
    if let Some(name) = &r.prompt_name {
        a.push(KeyValue::new("promptgate.prompt.name", name.clone()));
    }
    if let Some(version) = r.prompt_version {
        a.push(KeyValue::new("promptgate.prompt.version", version));
    }
    if let Some(sha) = &r.prompt_sha256 {
        a.push(KeyValue::new("promptgate.prompt.sha256", sha.clone()));
    }
    // Money as decimal text, as the API shows it: a float would round it.
    if let Some(cost) = r.cost_pusd {
        a.push(KeyValue::new("promptgate.cost_usd", usd(cost)));
    }
    if let Some(saved) = r.saved_pusd {
        a.push(KeyValue::new("promptgate.saved_usd", usd(saved)));
    }
    if let Some(source) = &r.usage_source {
        a.push(KeyValue::new("promptgate.usage_source", source.clone()));
    }
    if let Some(ttft) = r.ttft_us {
        a.push(KeyValue::new("promptgate.ttft_ms", ttft as f64 / 1000.0));
    }
    if let Some(score) = r.grounding_score {
        a.push(KeyValue::new("promptgate.grounding.score", score));
    }
    if let Some(flagged) = r.flagged {
        a.push(KeyValue::new("promptgate.grounding.flagged", flagged));
    }
    a
}

fn usd(pico: i64) -> String {
    crate::costs::pico::from_pico(i128::from(pico))
        .normalize()
        .to_string()
}

fn span(
    trace: &CallTrace,
    span_id: SpanId,
    name: String,
    kind: SpanKind,
    (start_time, end_time): (SystemTime, SystemTime),
    attributes: Vec<KeyValue>,
    status: Status,
) -> SpanData {
    let own = span_id == trace.span_id;
    let (parent_span_id, parent_span_is_remote) = match (&trace.parent, own) {
        (Some(parent), true) => (parent.span_id(), true),
        (None, true) => (SpanId::INVALID, false),
        (_, false) => (trace.span_id, false),
    };
    SpanData {
        span_context: SpanContext::new(
            trace.trace_id,
            span_id,
            TraceFlags::SAMPLED,
            false,
            trace.trace_state.clone(),
        ),
        parent_span_id,
        parent_span_is_remote,
        span_kind: kind,
        name: Cow::Owned(name),
        start_time,
        end_time: end_time.max(start_time),
        attributes,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status,
        instrumentation_scope: scope(),
    }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope::builder("promptgate")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}
