//! `[alerts]`: where alert events go.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// `[[alerts.webhooks]]`: each gets every event.
    pub webhooks: Vec<WebhookConfig>,
    /// Events waiting per webhook; when full, new events for it are dropped
    /// (and counted) rather than waited for.
    pub queue_capacity: usize,
    /// Tries per event, the first included.
    pub max_attempts: u32,
    /// Wait before the first retry; doubled for each further one.
    pub backoff_ms: u64,
    /// How long one delivery may take.
    pub timeout_ms: u64,
    /// How often each replica compares budgeted teams' spend with 80 % and
    /// 100 % of their budget (only with webhooks configured).
    pub budget_check_ms: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    /// Signs each body: `x-promptgate-signature: sha256=<hex HMAC-SHA256>`.
    #[serde(default, skip_serializing)]
    pub secret: Option<SecretString>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            webhooks: Vec::new(),
            queue_capacity: 256,
            max_attempts: 5,
            backoff_ms: 500,
            timeout_ms: 5_000,
            budget_check_ms: 5_000,
        }
    }
}
