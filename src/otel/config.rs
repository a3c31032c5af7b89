//! `[tracing]`: where spans go and how many calls are traced.

use serde::{Deserialize, Serialize};

/// `[tracing]`. Tracing is off unless `otlp_endpoint` is set.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TracingConfig {
    /// The collector's OTLP/HTTP address, e.g. `http://127.0.0.1:4318`;
    /// `/v1/traces` is added unless the URL names a path. Absent: no tracing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otlp_endpoint: Option<String>,
    /// Share of calls traced, 0 to 1, decided by trace id. A call that comes
    /// with a `traceparent` follows its caller's decision instead.
    pub sample_rate: f64,
    /// `service.name` of the spans.
    pub service_name: String,
    /// Calls whose spans may wait for export; when full, new ones are dropped
    /// (and counted), never waited for.
    pub queue_capacity: usize,
    /// How often waiting spans are sent (sooner when 512 are waiting).
    pub export_interval_ms: u64,
    /// How long one export may take before it is given up.
    pub export_timeout_ms: u64,
}

impl Default for TracingConfig {
    fn default() -> Self {
        TracingConfig {
            otlp_endpoint: None,
            sample_rate: 1.0,
            service_name: "promptgate".into(),
            queue_capacity: 2048,
            export_interval_ms: 1000,
            export_timeout_ms: 10_000,
        }
    }
}

impl TracingConfig {
    /// The first invalid key and what is wrong with it.
    pub fn validate(&self) -> Result<(), (&'static str, &'static str)> {
        if let Some(url) = &self.otlp_endpoint {
            if !(url.starts_with("http://") || url.starts_with("https://"))
                || url.parse::<axum::http::Uri>().is_err()
            {
                return Err((
                    "tracing.otlp_endpoint",
                    "must be an http:// or https:// URL (the collector's OTLP/HTTP port, usually 4318)",
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.sample_rate) {
            return Err(("tracing.sample_rate", "must be between 0 and 1"));
        }
        if self.service_name.trim().is_empty() {
            return Err(("tracing.service_name", "must not be empty"));
        }
        if self.queue_capacity == 0 {
            return Err(("tracing.queue_capacity", "must be at least 1"));
        }
        if self.export_interval_ms == 0 || self.export_timeout_ms == 0 {
            return Err((
                "tracing.export_interval_ms",
                "export_interval_ms and export_timeout_ms must be at least 1",
            ));
        }
        Ok(())
    }

    /// The URL spans are posted to.
    pub fn traces_url(&self) -> Option<String> {
        let base = self.otlp_endpoint.as_deref()?;
        let uri: axum::http::Uri = base.parse().ok()?;
        Some(if matches!(uri.path(), "" | "/") {
            format!("{}/v1/traces", base.trim_end_matches('/'))
        } else {
            base.to_owned()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_traces_path_is_added_to_a_bare_address_only() {
        let at = |url: &str| TracingConfig {
            otlp_endpoint: Some(url.into()),
            ..TracingConfig::default()
        };
        assert_eq!(
            at("http://127.0.0.1:4318").traces_url().as_deref(),
            Some("http://127.0.0.1:4318/v1/traces")
        );
        assert_eq!(
            at("http://c:4318/").traces_url().as_deref(),
            Some("http://c:4318/v1/traces")
        );
        assert_eq!(
            at("https://c/otlp/v1/traces").traces_url().as_deref(),
            Some("https://c/otlp/v1/traces")
        );
        assert_eq!(TracingConfig::default().traces_url(), None);
    }

    #[test]
    fn bad_values_name_their_key() {
        let bad = TracingConfig {
            otlp_endpoint: Some("127.0.0.1:4318".into()),
            ..TracingConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().0, "tracing.otlp_endpoint");
        let bad = TracingConfig {
            sample_rate: 1.5,
            ..TracingConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().0, "tracing.sample_rate");
        TracingConfig::default().validate().unwrap();
    }
}
