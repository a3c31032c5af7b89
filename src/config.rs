//! Typed configuration: built-in defaults → TOML file → `PROMPTGATE__SECTION__KEY`
//! environment variables, validated once at start with errors that name the key.
//!
//! Unknown keys are rejected (`deny_unknown_fields`) because a misspelt key that
//! is silently ignored is the classic cause of "why is my gateway not caching".

use std::net::SocketAddr;
use std::path::Path;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// Name of the built-in deterministic upstream that serves `mock-*` models.
pub const MOCK_UPSTREAM: &str = "mock";

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP server binds to.
    pub listen: SocketAddr,
    /// The admin key. Also read from `PROMPTGATE_ADMIN_KEY`; when absent on
    /// first start a key is generated, stored hashed and printed once.
    #[serde(skip_serializing)]
    pub admin_key: Option<SecretString>,
    pub store: StoreConfig,
    /// Folder of dotprompt files synced into the registry at start.
    pub prompts_dir: std::path::PathBuf,
    /// How often each replica checks the store for registry changes made elsewhere.
    pub registry_refresh_ms: u64,
    /// After SIGTERM: how long calls in flight may take to finish (new
    /// connections are refused meanwhile); the ones still running are then
    /// cut, and recorded as `client_closed`.
    pub shutdown_grace_s: u64,
    /// PostgreSQL budget counters (no Redis): how long the reservations of a
    /// process that stopped renewing them (killed) keep counting.
    pub budget_hold_lease_s: u64,
    pub cache: CacheConfig,
    pub limits: LimitsConfig,
    pub records: RecordsConfig,
    pub keys: KeysConfig,
    pub grounding: GroundingConfig,
    /// `[experiments]`: rollout reports and guards.
    pub experiments: crate::experiments::ExperimentsConfig,
    /// `[alerts]`: webhooks for guard, drift and budget events.
    pub alerts: crate::alerts::AlertsConfig,
    /// `[tracing]`: OpenTelemetry spans over OTLP/HTTP (off by default).
    pub tracing: crate::otel::config::TracingConfig,
    pub upstreams: Vec<UpstreamConfig>,
    /// `[[rate_limits]]`: RPM, TPM and concurrency per team, key or team × model.
    pub rate_limits: Vec<crate::limits::RateLimitRule>,
    /// Model aliases: `[aliases] fast = "gpt-4o-mini"` lets clients ask for
    /// `fast`; routing, prices and records use the target.
    /// Targets may be a list: `"gpt-4o" = ["openai/gpt-4o", "azure/gpt-4o"]`
    /// tries them in order (see `resilience`).
    pub aliases: std::collections::BTreeMap<String, crate::providers::Alias>,
    /// Price overrides and additions: `[prices."my-model"] input = "0.5"` (USD per 1M tokens).
    pub prices: std::collections::BTreeMap<String, crate::costs::PriceOverride>,
}

/// `[grounding]`: the grounding check's tiers.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GroundingConfig {
    /// Answers whose grounding score (the probability that the answer is
    /// supported) is below this are flagged; absent = the threshold shipped with
    /// the weights. A request may override it (`grounding.threshold`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// `[grounding.judge]`: the model-based tier; absent = off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub judge: Option<crate::grounding::judge::JudgeConfig>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `sqlite://path/file.db` (embedded default) or `postgres://…`.
    pub url: String,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Shared cache tier; absent = in-process only.
    pub redis_url: Option<String>,
    /// Key namespace in Redis.
    pub prefix: String,
    /// Deadline of each Redis command; past it Redis is treated as away for
    /// a second (cache misses, counters per process).
    pub redis_timeout_ms: u64,
    /// Size of the in-process tier in bytes (keys + answers).
    pub max_bytes: u64,
    /// TTL used when caching is asked for with `ttl: 0`.
    pub default_ttl_s: u64,
    /// One namespace for all teams instead of one per team. Only for
    /// deployments where every team may see every other team's answers.
    pub shared_namespace: bool,
    /// Opt-in caching per model (exact names or globs).
    pub rules: Vec<CacheRule>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CacheRule {
    pub models: Vec<String>,
    pub ttl_s: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            redis_url: None,
            prefix: "promptgate".into(),
            redis_timeout_ms: 250,
            max_bytes: 256 * 1024 * 1024,
            default_ttl_s: 300,
            shared_namespace: false,
            rules: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest request body accepted; larger ones get 413 before being read whole.
    pub max_body_bytes: usize,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordsConfig {
    /// Bounded queue between the request path and the batch writer. When it is
    /// full, requests wait for room rather than drop their records.
    pub queue_capacity: usize,
    /// Most records written in one transaction.
    pub batch_size: usize,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    /// How often each replica polls the store for keys created or revoked
    /// elsewhere; a revocation reaches every replica within this interval.
    pub refresh_ms: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    pub name: String,
    /// Base URL including the version prefix, e.g. `https://api.openai.com/v1`.
    /// Absent only for the built-in `mock` upstream. (A missing `Option`
    /// field is `None` without `#[serde(default)]`.)
    pub base_url: Option<String>,
    /// Environment variable that holds the upstream credential.
    pub api_key_env: Option<String>,
    /// The API the upstream speaks: `openai` (default) or `anthropic` (the
    /// Messages API: `x-api-key` and `anthropic-version` headers; it serves
    /// `/v1/messages` as it is and `/v1/chat/completions` translated).
    #[serde(default)]
    pub kind: UpstreamKind,
    /// Exact names or globs routed here; `"*"` = anything no other upstream claims.
    #[serde(default)]
    pub models: Vec<String>,
    /// No answer (or, for a stream, no chunk) for this long → 504.
    #[serde(default = "default_timeout_s")]
    pub timeout_s: u64,
    /// `retry = { attempts, backoff_ms, on }`; absent = one try.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<crate::resilience::RetryConfig>,
    /// `cooldown = { failures, window_ms, cooldown_ms }`; absent = never skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown: Option<crate::resilience::CooldownConfig>,
}

/// The API an upstream speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamKind {
    #[default]
    OpenAi,
    Anthropic,
}

fn default_timeout_s() -> u64 {
    300
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            admin_key: None,
            store: StoreConfig::default(),
            prompts_dir: "prompts".into(),
            registry_refresh_ms: 500,
            shutdown_grace_s: 30,
            budget_hold_lease_s: 30,
            cache: CacheConfig::default(),
            limits: LimitsConfig::default(),
            records: RecordsConfig::default(),
            keys: KeysConfig::default(),
            grounding: GroundingConfig::default(),
            experiments: Default::default(),
            alerts: Default::default(),
            tracing: Default::default(),
            upstreams: Vec::new(),
            rate_limits: Vec::new(),
            prices: Default::default(),
            aliases: Default::default(),
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: "sqlite://data/promptgate.db".into(),
            // SQLite has one writer; each connection holds its own page cache
            // and thread. PostgreSQL deployments may raise it.
            max_connections: 4,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_body_bytes: 32 * 1024 * 1024,
        }
    }
}

impl Default for RecordsConfig {
    fn default() -> Self {
        RecordsConfig {
            queue_capacity: 2_048,
            batch_size: 256,
        }
    }
}

impl Default for KeysConfig {
    fn default() -> Self {
        KeysConfig { refresh_ms: 1_000 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Parse(#[from] Box<figment::Error>),
    #[error("configuration key `{key}`: {message}")]
    Invalid { key: String, message: String },
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

impl Config {
    /// Defaults, then the TOML file (if any), then `PROMPTGATE__…` variables.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(invalid(
                    "--config",
                    format!("file {} does not exist", path.display()),
                ));
            }
            fig = fig.merge(Toml::file(path));
        }
        fig = fig.merge(Env::prefixed("PROMPTGATE__").split("__"));
        let mut config: Config = fig.extract().map_err(Box::new)?;
        if let Some(folder) = file.and_then(Path::parent) {
            config.prompts_dir = relative_to(folder, &config.prompts_dir);
        }
        if config.admin_key.is_none() {
            if let Ok(key) = std::env::var("PROMPTGATE_ADMIN_KEY") {
                if !key.is_empty() {
                    config.admin_key = Some(SecretString::from(key));
                }
            }
        }
        config.validate()?;
        Ok(config)
    }

    /// Where the prompt files are, as an absolute path when it can be made one
    /// (what the start-up log shows).
    pub fn prompts_dir_absolute(&self) -> std::path::PathBuf {
        std::path::absolute(&self.prompts_dir).unwrap_or_else(|_| self.prompts_dir.clone())
    }

    /// Checks what serde cannot: value ranges, URL schemes, duplicate names.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let url = &self.store.url;
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres:")
            || url.starts_with("postgresql:"))
        {
            return Err(invalid("store.url", "must start with sqlite: or postgres:"));
        }
        if self.store.max_connections == 0 {
            return Err(invalid("store.max_connections", "must be at least 1"));
        }
        if self.limits.max_body_bytes < 1024 {
            return Err(invalid("limits.max_body_bytes", "must be at least 1024"));
        }
        if self.records.queue_capacity == 0 || self.records.batch_size == 0 {
            return Err(invalid(
                "records",
                "queue_capacity and batch_size must be at least 1",
            ));
        }
        if !(1..=60_000).contains(&self.cache.redis_timeout_ms) {
            return Err(invalid(
                "cache.redis_timeout_ms",
                "must be between 1 and 60000",
            ));
        }
        if let Some(redis) = &self.cache.redis_url {
            if !(redis.starts_with("redis://") || redis.starts_with("rediss://")) {
                return Err(invalid(
                    "cache.redis_url",
                    "must start with redis:// or rediss://",
                ));
            }
        }
        crate::providers::alias::validate(&self.aliases).map_err(|(k, m)| invalid(k, m))?;
        for (i, rule) in self.rate_limits.iter().enumerate() {
            rule.validate()
                .map_err(|(field, m)| invalid(format!("rate_limits[{i}].{field}"), m))?;
        }
        for (i, rule) in self.cache.rules.iter().enumerate() {
            if rule.models.is_empty() {
                return Err(invalid(
                    format!("cache.rules[{i}].models"),
                    "must list at least one name or glob",
                ));
            }
            if rule.ttl_s == 0 {
                return Err(invalid(
                    format!("cache.rules[{i}].ttl_s"),
                    "must be at least 1",
                ));
            }
        }
        if let Some(judge) = &self.grounding.judge {
            judge
                .validate()
                .map_err(|(key, message)| invalid(format!("grounding.judge.{key}"), message))?;
        }
        self.tracing.validate().map_err(|(k, m)| invalid(k, m))?;
        if let Some(t) = self.grounding.threshold {
            if !crate::grounding::valid_threshold(t) {
                return Err(invalid("grounding.threshold", "must be between 0 and 1"));
            }
        }
        if self.cache.max_bytes < 1024 * 1024 {
            return Err(invalid("cache.max_bytes", "must be at least 1 MiB"));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, up) in self.upstreams.iter().enumerate() {
            let key = |field: &str| format!("upstreams[{i}].{field}");
            if up.name.is_empty() {
                return Err(invalid(key("name"), "must not be empty"));
            }
            if !seen.insert(up.name.as_str()) {
                return Err(invalid(
                    key("name"),
                    format!("duplicate upstream name `{}`", up.name),
                ));
            }
            match (&up.base_url, up.name.as_str()) {
                (None, MOCK_UPSTREAM) => {}
                (None, _) => return Err(invalid(key("base_url"), "is required")),
                (Some(u), _) if !(u.starts_with("http://") || u.starts_with("https://")) => {
                    return Err(invalid(
                        key("base_url"),
                        "must start with http:// or https://",
                    ))
                }
                _ => {}
            }
            if up.models.is_empty() {
                return Err(invalid(
                    key("models"),
                    "must list at least one name or glob",
                ));
            }
            if up.timeout_s == 0 {
                return Err(invalid(key("timeout_s"), "must be at least 1"));
            }
            if let Some(Err((field, m))) = up.retry.as_ref().map(|r| r.validate()) {
                return Err(invalid(key(&format!("retry.{field}")), m));
            }
            if let Some(Err((field, m))) = up.cooldown.as_ref().map(|c| c.validate()) {
                return Err(invalid(key(&format!("cooldown.{field}")), m));
            }
            if let Some(var) = &up.api_key_env {
                if std::env::var(var).is_err() {
                    tracing::warn!(upstream = %up.name, variable = %var, "upstream credential variable is not set");
                }
            }
        }
        Ok(())
    }
}

/// A relative path in a config file means "next to the file": started from
/// another folder, the gateway must find the same prompts (the working
/// directory counts only when there is no config file).
fn relative_to(folder: &Path, path: &Path) -> std::path::PathBuf {
    if path.is_relative() && !folder.as_os_str().is_empty() {
        folder.join(path)
    } else {
        path.to_path_buf()
    }
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests;
