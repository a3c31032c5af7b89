//! A lazily opened, shared Redis connection for counters that several
//! replicas must agree on (cooldowns, rate limits). Each command has a
//! short deadline; after a failure the link sits out for a second, so a
//! dead Redis costs each caller at most one short wait, then nothing.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use redis::aio::ConnectionManager;

const SIT_OUT_MS: i64 = 1_000;
/// How often `promptgate_redis_up` is refreshed by a `PING`.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// No connection to Redis could be made in time.
#[derive(Debug, thiserror::Error)]
#[error("redis is unreachable: {0}")]
pub struct Unreachable(pub String);

/// A Redis connection opened on first use, with short command deadlines and
/// no retries of its own (its users sit out a failed Redis instead). Shared
/// by the counters here and the cache's Redis tier.
pub struct LazyConnection {
    client: redis::Client,
    conn: tokio::sync::Mutex<Option<ConnectionManager>>,
    /// Each command's deadline (`cache.redis_timeout_ms`).
    pub deadline: Duration,
}

impl LazyConnection {
    pub fn open(url: &str, deadline: Duration) -> anyhow::Result<LazyConnection> {
        Ok(LazyConnection {
            client: redis::Client::open(url)?,
            conn: tokio::sync::Mutex::new(None),
            deadline,
        })
    }

    /// The open connection, or a new one made within `deadline`.
    pub async fn get(&self, deadline: Duration) -> Result<ConnectionManager, String> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(self.deadline)
            .set_response_timeout(self.deadline)
            .set_number_of_retries(0);
        let connect = ConnectionManager::new_with_config(self.client.clone(), config);
        let c = match tokio::time::timeout(deadline, connect).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(e.to_string()),
            Err(e) => return Err(e.to_string()),
        };
        *slot = Some(c.clone());
        Ok(c)
    }
}

pub struct RedisLink {
    conn: LazyConnection,
    prefix: String,
    /// Wall-clock ms before which Redis is not tried again.
    down_until_ms: AtomicI64,
}

impl RedisLink {
    pub fn new(url: &str, prefix: &str, deadline: Duration) -> anyhow::Result<RedisLink> {
        Ok(RedisLink {
            conn: LazyConnection::open(url, deadline)?,
            prefix: prefix.to_owned(),
            down_until_ms: AtomicI64::new(0),
        })
    }

    /// `prefix:rest`.
    pub fn key(&self, rest: &str) -> String {
        format!("{}:{rest}", self.prefix)
    }

    /// Runs `script` with `keys` and `args`; `None` when Redis is down or slow.
    pub async fn eval<T: redis::FromRedisValue>(
        &self,
        script: &redis::Script,
        keys: &[String],
        args: &[i64],
    ) -> Option<T> {
        let mut conn = self.connection().await?;
        let mut invocation = script.prepare_invoke();
        for k in keys {
            invocation.key(k);
        }
        for a in args {
            invocation.arg(*a);
        }
        let run = invocation.invoke_async::<T>(&mut conn);
        self.bounded(run).await
    }

    /// One command (`GET`, `ZREM`, …).
    pub async fn query<T: redis::FromRedisValue>(&self, cmd: redis::Cmd) -> Option<T> {
        let mut conn = self.connection().await?;
        let run = cmd.query_async::<T>(&mut conn);
        self.bounded(run).await
    }

    async fn bounded<T>(
        &self,
        run: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Option<T> {
        match tokio::time::timeout(self.conn.deadline, run).await {
            Ok(Ok(v)) => Some(v),
            Ok(Err(e)) => {
                self.sit_out(&e.to_string());
                None
            }
            Err(_) => {
                self.sit_out("timed out");
                None
            }
        }
    }

    fn sit_out(&self, why: &str) {
        tracing::warn!(error = %why, "redis counter unavailable; this replica counts alone for a second");
        self.down_until_ms
            .store(crate::time::now_ms() + SIT_OUT_MS, Ordering::Relaxed);
    }

    async fn connection(&self) -> Option<ConnectionManager> {
        if crate::time::now_ms() < self.down_until_ms.load(Ordering::Relaxed) {
            return None;
        }
        match self.conn.get(self.conn.deadline).await {
            Ok(c) => Some(c),
            Err(e) => {
                self.sit_out(&e);
                None
            }
        }
    }
}

/// Keeps `promptgate_redis_up` current: 1 when the last `PING` (once a
/// second, with the link's deadline) was answered, 0 when not, so an outage
/// shows whether or not traffic touches Redis. Ends with the link.
pub fn spawn_probe(link: &std::sync::Arc<RedisLink>) {
    let weak = std::sync::Arc::downgrade(link);
    crate::periodic::spawn_every(PROBE_EVERY, move || {
        let link = weak.upgrade()?;
        Some(async move {
            let pong: Option<String> = link.query(redis::cmd("PING")).await;
            let up = pong.is_some();
            metrics::gauge!("promptgate_redis_up").set(if up { 1.0 } else { 0.0 });
        })
    });
}
