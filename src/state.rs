//! Shared application state: cheap to clone (one `Arc`), handed to every handler.

use std::ops::Deref;
use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::auth::KeyCache;
use crate::config::Config;
use crate::providers::{ModelList, Routes};
use crate::store::writer::RecordSink;
use crate::store::Store;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    /// Teams, keys and records. Never awaited on the model-call path except
    /// through the batch writer.
    pub store: Arc<dyn Store>,
    /// Active keys in memory, so authentication needs no database round trip.
    pub keys: Arc<KeyCache>,
    /// Where request records go (bounded queue → batch writer).
    pub records: RecordSink,
    /// Model name → upstream.
    pub routes: Routes,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// `GET /v1/models`, fetched from the upstreams and cached briefly.
    pub models: ModelList,
    /// Answers cached in process (and in Redis when configured).
    pub cache: std::sync::Arc<crate::cache::ResponseCache>,
    /// `[[cache.rules]]`: which models are cached without being asked per request.
    pub cache_rules: crate::cache::Rules,
    /// Prompt registry, compiled and in memory (refreshed from the store).
    pub registry: std::sync::Arc<crate::registry::live::LiveRegistry>,
    /// Model prices (shipped table + `[prices]` overrides).
    pub prices: std::sync::Arc<crate::costs::PriceTable>,
    /// `[[rate_limits]]` and their counters (shared through Redis when configured).
    pub limits: std::sync::Arc<crate::limits::Limiter>,
    /// Team budgets and their shared counters.
    pub budgets: std::sync::Arc<crate::costs::Budgets>,
    /// The grounding scorer with its shipped weights (loaded once).
    pub grounding: std::sync::Arc<crate::grounding::Scorer>,
    /// Alert events to the configured webhooks (never waited for).
    pub alerts: std::sync::Arc<crate::alerts::Alerts>,
    /// The drift monitor (its loop lives as long as the state).
    pub drift: std::sync::Arc<crate::experiments::monitor::Monitor>,
    /// Budget crossings to alert on (with webhooks only; its loop lives as
    /// long as the state).
    pub budget_watch: Option<std::sync::Arc<crate::alerts::budget_watch::BudgetWatch>>,
    /// OpenTelemetry tracing; `None` when off (no per-call work then).
    pub tracing: Option<crate::otel::Tracing>,
}

impl AppState {
    pub fn new(inner: Inner) -> AppState {
        AppState(Arc::new(inner))
    }
}

impl Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}
