//! Logs (tracing) and metrics (Prometheus text format on `/metrics`).

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Installs the log subscriber; `RUST_LOG` overrides the default `info`.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}

/// The process-wide metrics recorder. Installed once: tests start many apps
/// in one process and they share it.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0, 30.0, 60.0,
            ];
            let recorder = PrometheusBuilder::new()
                .set_buckets(&buckets)
                .map(|b| b.build_recorder())
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
            let handle = recorder.handle();
            let _ = metrics::set_global_recorder(recorder);
            describe();
            handle
        })
        .clone()
}

/// Folds recorded histogram samples into their buckets every few seconds.
/// The exporter keeps raw samples until then; without this, a gateway that
/// nobody scrapes would hold every latency it ever measured.
pub fn spawn_upkeep(handle: &PrometheusHandle) {
    let handle = handle.clone();
    crate::periodic::spawn_every(std::time::Duration::from_secs(5), move || {
        handle.run_upkeep();
        Some(std::future::ready(()))
    });
}

/// Sets the gauges read from the tokio runtime. They cost nothing between
/// scrapes because they are only read when `/metrics` is asked for; a task
/// count that keeps growing under steady traffic is a leak.
pub fn record_runtime_gauges() {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        metrics::gauge!("promptgate_tokio_alive_tasks")
            .set(runtime.metrics().num_alive_tasks() as f64);
    }
}

fn describe() {
    metrics::describe_counter!(
        "promptgate_requests_total",
        "Model calls by endpoint and outcome"
    );
    metrics::describe_histogram!(
        "promptgate_request_duration_seconds",
        "Model call latency as the client sees it"
    );
    metrics::describe_histogram!(
        "promptgate_time_to_first_token_seconds",
        "Time to the first streamed byte"
    );
    metrics::describe_counter!(
        "promptgate_upstream_errors_total",
        "Upstream failures (status, timeout, connection)"
    );
    metrics::describe_gauge!(
        "promptgate_in_flight_requests",
        "Model calls being served now"
    );
    metrics::describe_gauge!(
        "promptgate_tokio_alive_tasks",
        "Tasks alive in the async runtime, read when /metrics is scraped"
    );
    metrics::describe_counter!(
        "promptgate_records_written_total",
        "Request records written to the store"
    );
    metrics::describe_counter!(
        "promptgate_record_write_errors_total",
        "Failed record batch writes (retried)"
    );
    metrics::describe_gauge!(
        "promptgate_records_queued",
        "Request records answered but not yet in the store"
    );
    metrics::describe_counter!(
        "promptgate_records_dropped_total",
        "Request records given up: store still down at shutdown's deadline, or a batch it kept refusing"
    );
    metrics::describe_gauge!(
        "promptgate_store_up",
        "1 when the store answered the last once-a-second probe, else 0"
    );
    metrics::describe_gauge!(
        "promptgate_redis_up",
        "1 when Redis answered the last once-a-second PING, else 0 (only with cache.redis_url)"
    );
    metrics::describe_counter!(
        "promptgate_guard_fired_total",
        "Rollout guards that set a candidate's weight to 0, by metric"
    );
    metrics::describe_counter!(
        "promptgate_alerts_delivered_total",
        "Alert events a webhook accepted"
    );
    metrics::describe_counter!(
        "promptgate_alerts_failed_total",
        "Alert events given up on after the last retry"
    );
    metrics::describe_counter!(
        "promptgate_alerts_dropped_total",
        "Alert events dropped because a webhook's queue was full"
    );
    metrics::describe_counter!(
        "promptgate_otel_spans_exported_total",
        "Spans the OTLP collector accepted"
    );
    metrics::describe_counter!(
        "promptgate_otel_spans_dropped_total",
        "Spans dropped: the export queue was full, or their export failed"
    );
    metrics::describe_counter!(
        "promptgate_otel_export_errors_total",
        "Span batches the OTLP collector did not accept (not retried)"
    );
}
