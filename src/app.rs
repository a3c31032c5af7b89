//! Building and running the gateway: used by `main` and by every test, so the
//! tests start exactly what users start.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::auth::KeyCache;
use crate::cache::ResponseCache;
use crate::config::{Config, MOCK_UPSTREAM};
use crate::providers::ModelList;
use crate::providers::{http_client, Routes, Upstream};
use crate::redis_link::RedisLink;
use crate::registry::live::LiveRegistry;
use crate::registry::service;
use crate::resilience::Breaker;
use crate::state::{AppState, Inner};
use crate::store::writer::{self, RecordWriter};

pub struct App {
    state: AppState,
    listener: TcpListener,
    writer: RecordWriter,
}

impl App {
    /// Opens the store, loads keys, binds the listener. Nothing is served yet.
    pub async fn build(config: Config) -> anyhow::Result<App> {
        let store = crate::store::connect(&config.store.url, config.store.max_connections).await?;
        crate::store::health::spawn_probe(&store);
        let keys = Arc::new(KeyCache::load(store.as_ref(), config.admin_key.as_ref()).await?);
        keys.spawn_refresh(store.clone(), Duration::from_millis(config.keys.refresh_ms));
        keys.follow_revocations(store.as_ref()).await;
        let (records, writer) = writer::spawn(
            store.clone(),
            config.records.queue_capacity,
            config.records.batch_size,
        );

        let redis_deadline = std::time::Duration::from_millis(config.cache.redis_timeout_ms);
        let shared = match &config.cache.redis_url {
            Some(url) => Some(Arc::new(RedisLink::new(
                url,
                &config.cache.prefix,
                redis_deadline,
            )?)),
            None => None,
        };
        if let Some(link) = &shared {
            crate::redis_link::spawn_probe(link);
        }
        let mut upstreams = upstreams(&config, shared.as_ref());
        if !upstreams.iter().any(|u| u.name == MOCK_UPSTREAM) {
            upstreams.push(Upstream::builtin_mock());
        }
        let registry = Arc::new(LiveRegistry::load(store.as_ref()).await?);
        let (created, unchanged) =
            service::sync_dir(store.as_ref(), &registry, &config.prompts_dir).await?;
        // Always said, with the absolute folder: "why is my prompt a 404" is
        // most often a gateway started from another folder.
        tracing::info!(
            files = created + unchanged,
            created,
            unchanged,
            dir = %config.prompts_dir_absolute().display(),
            "prompt files synced"
        );
        registry.spawn_refresh(
            store.clone(),
            Duration::from_millis(config.registry_refresh_ms),
        );
        let mut prices = crate::costs::PriceTable::builtin()?;
        prices
            .apply_overrides(config.prices.iter())
            .map_err(|e| anyhow::anyhow!("configuration key `prices`: {e}"))?;

        let budgets = Arc::new(
            crate::costs::Budgets::new(
                store.clone(),
                config.cache.redis_url.as_deref(),
                &config.cache.prefix,
                redis_deadline,
                Duration::from_secs(config.budget_hold_lease_s.max(1)),
            )
            .await?,
        );
        budgets.spawn_refresh(Duration::from_secs(1));
        writer.book_charges_with(budgets.clone());
        let limits = Arc::new(crate::limits::Limiter::new(
            config.rate_limits.clone(),
            shared.clone(),
        ));
        if budgets.any() || config.rate_limits.iter().any(|r| r.tpm.is_some()) {
            // Budgeted (and TPM-limited) requests count prompt tokens: load the tokenizer now,
            // off the request path. Without budgets it loads on first need
            // (a stream without usage), sparing ~50 MiB of memory.
            tokio::task::spawn_blocking(crate::costs::warm_up);
        }
        let cache = Arc::new(
            ResponseCache::new(
                config.cache.max_bytes,
                config.cache.redis_url.as_deref(),
                &config.cache.prefix,
                redis_deadline,
            )?
            .with_clears_through(store.clone())
            .await?,
        );
        cache.spawn_clear_watch(Duration::from_millis(config.registry_refresh_ms));
        let cache_rules = crate::cache::Rules::new(&config.cache);
        let routes = Routes::new(upstreams);
        for (alias, targets) in &config.aliases {
            if let Some(t) = targets
                .targets()
                .iter()
                .find(|t| routes.resolve(t).is_none())
            {
                anyhow::bail!("configuration key `aliases.{alias}`: no upstream serves `{t}`");
            }
        }
        if let Some(judge) = &config.grounding.judge {
            let model = config
                .aliases
                .get(&judge.model)
                .map_or(judge.model.as_str(), |a| a.primary());
            if routes.resolve(model).is_none() {
                anyhow::bail!(
                    "configuration key `grounding.judge.model`: no upstream serves `{}`",
                    judge.model
                );
            }
        }
        let alerts = Arc::new(crate::alerts::Alerts::start(&config.alerts));
        crate::experiments::guard::spawn(
            &registry,
            crate::experiments::guard::GuardTask {
                store: store.clone(),
                alerts: alerts.clone(),
            },
            Duration::from_millis(config.experiments.guard_interval_ms.max(10)),
        );
        let budget_watch = (!config.alerts.webhooks.is_empty()).then(|| {
            let watch = Arc::new(crate::alerts::budget_watch::BudgetWatch::new(
                budgets.clone(),
                store.clone(),
                alerts.clone(),
            ));
            watch.spawn(Duration::from_millis(config.alerts.budget_check_ms.max(10)));
            watch
        });
        let drift = Arc::new(crate::experiments::monitor::Monitor::new(
            store.clone(),
            alerts.clone(),
            config.experiments.clone(),
        ));
        drift.spawn();
        let tracing = crate::otel::Tracing::start(&config.tracing)?;
        let listener = TcpListener::bind(config.listen).await?;
        let metrics = crate::telemetry::metrics_handle();
        crate::telemetry::spawn_upkeep(&metrics);
        let state = AppState::new(Inner {
            routes,
            store,
            keys,
            records,
            metrics,
            models: ModelList::default(),
            grounding: Arc::new(grounding_scorer(&config)),
            cache,
            cache_rules,
            registry,
            prices: Arc::new(prices),
            budgets,
            limits,
            alerts,
            drift,
            budget_watch,
            tracing,
            config,
        });
        Ok(App {
            state,
            listener,
            writer,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| self.state.config.listen)
    }

    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets in-flight
    /// requests finish (up to `shutdown_grace_s`; the rest are cut and
    /// recorded) and flushes every queued record.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let App {
            state,
            listener,
            writer,
        } = self;
        let grace = Duration::from_secs(state.config.shutdown_grace_s);
        let router = crate::http::router(state.clone());
        let spans = state.tracing.clone();
        let budgets = state.budgets.clone();
        drop(state);
        crate::server::serve(listener, router, shutdown, grace).await;
        writer.finish().await;
        tracing::info!("all request records written");
        // Every record is written, so every charge is booked: nothing this
        // process holds is owed any more.
        budgets.release_holds().await;
        if let Some(spans) = spans {
            spans.flush(Duration::from_secs(5)).await;
        }
        Ok(())
    }
}

/// The configured upstreams, each with the circuit breaker its `cooldown`
/// asks for (shared through Redis when there is one).
fn upstreams(config: &Config, shared: Option<&Arc<RedisLink>>) -> Vec<Upstream> {
    let client = http_client();
    let mut breakers = Vec::new();
    let upstreams = config
        .upstreams
        .iter()
        .map(|u| {
            let upstream = Upstream::from_config(u, &client);
            let Some(cooldown) = &u.cooldown else {
                return upstream;
            };
            let probe_lease = Duration::from_secs(u.timeout_s);
            let breaker = Arc::new(Breaker::new(
                &u.name,
                cooldown,
                probe_lease,
                shared.cloned(),
            ));
            breakers.push(Arc::downgrade(&breaker));
            upstream.with_breaker(breaker)
        })
        .collect();
    if shared.is_some() {
        crate::resilience::cooldown::spawn_follow(breakers);
    }
    upstreams
}

/// The grounding scorer with the shipped weights and the configured threshold.
fn grounding_scorer(config: &Config) -> crate::grounding::Scorer {
    let scorer = crate::grounding::Scorer::new();
    match config.grounding.threshold {
        Some(t) => scorer.with_threshold(t),
        None => scorer,
    }
}
