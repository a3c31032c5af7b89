//! Delivery: one bounded queue and one task per webhook, so a dead
//! endpoint only ever delays its own events. Emitting never waits: a full
//! queue drops the event (counted in `promptgate_alerts_dropped_total`).

use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use tokio::sync::mpsc;

use super::config::{AlertsConfig, WebhookConfig};
use super::event::Event;
use super::sign::signature;

/// The header carrying a body's HMAC.
pub const SIGNATURE_HEADER: &str = "x-promptgate-signature";

/// Where the gateway sends alert events.
#[derive(Default)]
pub struct Alerts {
    queues: Vec<mpsc::Sender<Arc<Vec<u8>>>>,
}

impl Alerts {
    /// Starts one delivery task per configured webhook.
    pub fn start(config: &AlertsConfig) -> Alerts {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms))
            .build()
            .unwrap_or_default();
        let queues = config
            .webhooks
            .iter()
            .map(|hook| {
                let (tx, rx) = mpsc::channel(config.queue_capacity.max(1));
                tokio::spawn(deliver(client.clone(), hook.clone(), config.clone(), rx));
                tx
            })
            .collect();
        Alerts { queues }
    }

    /// Queues `event` for every webhook, without waiting.
    pub fn emit(&self, event: &Event) {
        tracing::info!(kind = ?event.kind, id = %event.id, "alert");
        let Ok(body) = serde_json::to_vec(event) else {
            return;
        };
        let body = Arc::new(body);
        for queue in &self.queues {
            if queue.try_send(body.clone()).is_err() {
                metrics::counter!("promptgate_alerts_dropped_total").increment(1);
                tracing::warn!(id = %event.id, "alert queue full; event dropped");
            }
        }
    }
}

/// Sends the queued bodies to one webhook, each retried with doubling
/// waits until a 2xx or the last attempt.
async fn deliver(
    client: reqwest::Client,
    hook: WebhookConfig,
    config: AlertsConfig,
    mut rx: mpsc::Receiver<Arc<Vec<u8>>>,
) {
    while let Some(body) = rx.recv().await {
        let signed = hook
            .secret
            .as_ref()
            .map(|s| signature(s.expose_secret(), &body));
        let mut wait = Duration::from_millis(config.backoff_ms);
        for attempt in 1..=config.max_attempts.max(1) {
            let mut req = client
                .post(&hook.url)
                .header("content-type", "application/json")
                .body(body.as_ref().clone());
            if let Some(sig) = &signed {
                req = req.header(SIGNATURE_HEADER, sig);
            }
            match req.send().await {
                Ok(resp) if resp.status().is_success() => {
                    metrics::counter!("promptgate_alerts_delivered_total").increment(1);
                    break;
                }
                outcome => {
                    let why = match outcome {
                        Ok(resp) => format!("status {}", resp.status()),
                        Err(e) => e.to_string(),
                    };
                    tracing::warn!(url = %hook.url, attempt, error = %why, "alert delivery failed");
                    if attempt == config.max_attempts.max(1) {
                        metrics::counter!("promptgate_alerts_failed_total").increment(1);
                    } else {
                        tokio::time::sleep(wait).await;
                        wait *= 2;
                    }
                }
            }
        }
    }
}
