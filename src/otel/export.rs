//! Spans leave the process here: a bounded queue that a finished call drops
//! its spans into without waiting (a full queue drops them and counts it),
//! and one task that sends them to the collector in batches.

use std::time::Duration;

use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use tokio::sync::{mpsc, oneshot};

use super::config::TracingConfig;
use super::http_client::Reqwest;

/// Spans sent at once, at most (and sent as soon as this many are waiting).
const MAX_BATCH: usize = 512;

enum Message {
    /// One call's spans.
    Spans(Vec<SpanData>),
    /// Send what is waiting now, then answer.
    Flush(oneshot::Sender<()>),
}

/// The sending side of the queue (cheap to clone).
#[derive(Clone)]
pub struct Queue(mpsc::Sender<Message>);

impl Queue {
    /// Starts the export task for `config` (which has an endpoint).
    pub fn start(config: &TracingConfig) -> anyhow::Result<Queue> {
        let url = config
            .traces_url()
            .ok_or_else(|| anyhow::anyhow!("configuration key `tracing.otlp_endpoint`: not set"))?;
        let timeout = Duration::from_millis(config.export_timeout_ms);
        let client = reqwest::Client::builder().timeout(timeout).build()?;
        let mut exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(Reqwest(client))
            .with_endpoint(url)
            .with_timeout(timeout)
            .build()
            .map_err(|e| anyhow::anyhow!("configuration key `tracing.otlp_endpoint`: {e}"))?;
        exporter.set_resource(
            &Resource::builder()
                .with_service_name(config.service_name.clone())
                .build(),
        );
        let (tx, rx) = mpsc::channel(config.queue_capacity);
        let interval = Duration::from_millis(config.export_interval_ms);
        tokio::spawn(run(exporter, rx, interval));
        Ok(Queue(tx))
    }

    /// Queues one call's spans; never waits. A full queue (the collector is
    /// slow or down) drops them.
    pub fn offer(&self, spans: Vec<SpanData>) {
        let n = spans.len() as u64;
        if self.0.try_send(Message::Spans(spans)).is_err() {
            metrics::counter!("promptgate_otel_spans_dropped_total").increment(n);
        }
    }

    /// Sends every span queued so far (at shutdown), waiting at most `limit`.
    pub async fn flush(&self, limit: Duration) {
        let (done, sent) = oneshot::channel();
        let flushed = async {
            if self.0.send(Message::Flush(done)).await.is_ok() {
                let _ = sent.await;
            }
        };
        if tokio::time::timeout(limit, flushed).await.is_err() {
            tracing::warn!("spans still unsent at shutdown were dropped");
        }
    }
}

/// The export loop: until every sender is gone, then once more.
async fn run(
    exporter: opentelemetry_otlp::SpanExporter,
    mut rx: mpsc::Receiver<Message>,
    interval: Duration,
) {
    let mut waiting: Vec<SpanData> = Vec::new();
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            message = rx.recv() => match message {
                Some(Message::Spans(spans)) => {
                    waiting.extend(spans);
                    if waiting.len() >= MAX_BATCH {
                        send(&exporter, &mut waiting).await;
                    }
                }
                Some(Message::Flush(done)) => {
                    send(&exporter, &mut waiting).await;
                    let _ = done.send(());
                }
                None => break,
            },
            _ = tick.tick() => send(&exporter, &mut waiting).await,
        }
    }
    send(&exporter, &mut waiting).await;
}

async fn send(exporter: &opentelemetry_otlp::SpanExporter, waiting: &mut Vec<SpanData>) {
    while !waiting.is_empty() {
        let batch: Vec<SpanData> = waiting.drain(..waiting.len().min(MAX_BATCH)).collect();
        let n = batch.len() as u64;
        match exporter.export(batch).await {
            Ok(()) => metrics::counter!("promptgate_otel_spans_exported_total").increment(n),
            Err(e) => {
                // Spans are not retried: a collector that is down must not
                // make the gateway hold an ever larger backlog.
                metrics::counter!("promptgate_otel_export_errors_total").increment(1);
                metrics::counter!("promptgate_otel_spans_dropped_total").increment(n);
                tracing::warn!(error = %e, spans = n, "span export failed");
            }
        }
    }
}
