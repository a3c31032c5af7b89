//! The shared cache tier in Redis. Every call has a short deadline, and a
//! failure makes the tier sit out for a second: a slow or dead Redis costs a
//! cache miss, never a failed or stalled request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use tokio::sync::OnceCell;

use crate::redis_link::LazyConnection;

const SIT_OUT: Duration = Duration::from_secs(1);

pub struct RedisTier {
    conn: LazyConnection,
    prefix: String,
    /// Milliseconds since `epoch` before which Redis is not tried again.
    down_until_ms: AtomicU64,
    epoch: Instant,
    _init: OnceCell<()>,
    /// The clear counters as last read by [`RedisTier::clears_since_last_look`].
    seen_clears: std::sync::Mutex<Option<ClearCounts>>,
}

impl RedisTier {
    pub fn new(url: &str, prefix: &str, deadline: Duration) -> anyhow::Result<RedisTier> {
        Ok(RedisTier {
            conn: LazyConnection::open(url, deadline)?,
            prefix: prefix.to_owned(),
            down_until_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            _init: OnceCell::new(),
            seen_clears: std::sync::Mutex::new(None),
        })
    }

    fn entry_key(&self, key: &str) -> String {
        format!("{}:resp:{}", self.prefix, key)
    }

    fn prompt_set(&self, prompt: &str) -> String {
        format!("{}:prompt:{}", self.prefix, prompt)
    }

    /// The prompt name of an entry made with one (same TTL as the entry).
    fn prompt_of(&self, entry_key: &str) -> String {
        format!("{entry_key}:prompt")
    }

    /// Bumped on every `DELETE /v1/cache` without a prompt.
    fn clear_all_counter(&self) -> String {
        format!("{}:clears:all", self.prefix)
    }

    /// Hash of prompt name → times its entries were cleared.
    fn clear_prompt_counters(&self) -> String {
        format!("{}:clears:prompt", self.prefix)
    }

    fn failed(&self, what: &str, err: &dyn std::fmt::Display) {
        metrics::counter!("promptgate_cache_redis_errors_total").increment(1);
        tracing::warn!(error = %err, operation = what, "redis cache tier failed; skipping it for a second");
        let until = self.epoch.elapsed() + SIT_OUT;
        self.down_until_ms
            .store(until.as_millis() as u64, Ordering::Relaxed);
    }

    /// Runs one Redis operation within the command deadline. An error or a missed
    /// deadline counts as a failure (see [`RedisTier::failed`]) and gives `None`.
    async fn bounded<T, E: std::fmt::Display>(
        &self,
        what: &str,
        op: impl std::future::Future<Output = Result<T, E>>,
    ) -> Option<T> {
        match tokio::time::timeout(self.conn.deadline, op).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(e)) => {
                self.failed(what, &e);
                None
            }
            Err(e) => {
                self.failed(what, &e);
                None
            }
        }
    }

    async fn connection(&self) -> Option<ConnectionManager> {
        if (self.epoch.elapsed().as_millis() as u64) < self.down_until_ms.load(Ordering::Relaxed) {
            return None;
        }
        match self.conn.get(self.conn.deadline * 2).await {
            Ok(c) => Some(c),
            Err(e) => {
                self.failed("connect", &e);
                None
            }
        }
    }

    /// The entry's body, remaining TTL and prompt name.
    pub async fn get(&self, key: &str) -> Option<(Bytes, Duration, Option<String>)> {
        let mut conn = self.connection().await?;
        let k = self.entry_key(key);
        let mut pipe = redis::pipe();
        pipe.get(&k).pttl(&k).get(self.prompt_of(&k));
        let op = pipe.query_async::<(Option<Vec<u8>>, i64, Option<String>)>(&mut conn);
        let (body, ttl_ms, prompt) = self.bounded("get", op).await?;
        let ttl = Duration::from_millis(ttl_ms.max(1) as u64);
        Some((Bytes::from(body?), ttl, prompt))
    }

    pub async fn put(&self, key: &str, body: &Bytes, prompt: Option<&str>, ttl: Duration) {
        let Some(mut conn) = self.connection().await else {
            return;
        };
        let k = self.entry_key(key);
        let ms = ttl.as_millis().max(1) as u64;
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(&k)
            .arg(body.as_ref())
            .arg("PX")
            .arg(ms)
            .ignore();
        if let Some(p) = prompt {
            let set = self.prompt_set(p);
            pipe.cmd("SET")
                .arg(self.prompt_of(&k))
                .arg(p)
                .arg("PX")
                .arg(ms)
                .ignore();
            pipe.sadd(&set, &k)
                .ignore()
                .pexpire(&set, ms as i64)
                .ignore();
        }
        self.bounded("put", pipe.query_async::<()>(&mut conn)).await;
    }

    /// Deletes this namespace's entries (all, or one prompt's).
    pub async fn clear(&self, prompt: Option<&str>) -> anyhow::Result<()> {
        let mut conn = self
            .connection()
            .await
            .ok_or_else(|| anyhow::anyhow!("redis is unreachable"))?;
        match prompt {
            Some(p) => {
                let set = self.prompt_set(p);
                let keys: Vec<String> = conn.smembers(&set).await?;
                let metas: Vec<String> = keys.iter().map(|k| self.prompt_of(k)).collect();
                for chunk in keys.chunks(500).chain(metas.chunks(500)) {
                    let _: () = conn.del(chunk).await?;
                }
                let _: () = conn.del(&set).await?;
                // Tells the other replicas to drop their in-process copies.
                let _: () = conn.hincr(self.clear_prompt_counters(), p, 1).await?;
            }
            None => {
                // Only cache keys: budget counters share the prefix.
                let mut keys = scan(&mut conn, &format!("{}:resp:*", self.prefix)).await?;
                keys.extend(scan(&mut conn, &format!("{}:prompt:*", self.prefix)).await?);
                for chunk in keys.chunks(500) {
                    let _: () = conn.del(chunk).await?;
                }
                let _: () = conn.incr(self.clear_all_counter(), 1).await?;
            }
        }
        Ok(())
    }

    /// The clears made (by any replica) since the last look: whether the
    /// whole cache was cleared, and which prompts' entries were. `None` on
    /// the first look and when Redis cannot be asked right now.
    pub async fn clears_since_last_look(&self) -> Option<(bool, Vec<String>)> {
        let now = self.clear_counts().await?;
        let mut seen = self.seen_clears.lock().ok()?;
        let changed = seen.as_ref().map(|before| now.since(before));
        *seen = Some(now);
        changed
    }

    /// How often the whole cache, and each prompt's entries, were cleared
    /// (by any replica). `None` when Redis cannot be asked right now.
    async fn clear_counts(&self) -> Option<ClearCounts> {
        let mut conn = self.connection().await?;
        let mut pipe = redis::pipe();
        pipe.get(self.clear_all_counter())
            .hgetall(self.clear_prompt_counters());
        let op = pipe.query_async::<(Option<u64>, HashMap<String, u64>)>(&mut conn);
        let (all, prompts) = self.bounded("clear counts", op).await?;
        Some(ClearCounts {
            all: all.unwrap_or(0),
            prompts,
        })
    }
}

/// Clear counters shared through Redis (see [`RedisTier::clear_counts`]).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct ClearCounts {
    all: u64,
    prompts: HashMap<String, u64>,
}

impl ClearCounts {
    /// What changed since `before`: whether everything was cleared, and
    /// which prompts were.
    fn since(&self, before: &ClearCounts) -> (bool, Vec<String>) {
        let all = self.all != before.all;
        let prompts = self
            .prompts
            .iter()
            .filter(|(name, n)| before.prompts.get(*name) != Some(n))
            .map(|(name, _)| name.clone())
            .collect();
        (all, prompts)
    }
}

/// Every key matching `pattern`, by SCAN (never KEYS, which blocks Redis).
async fn scan(conn: &mut ConnectionManager, pattern: &str) -> redis::RedisResult<Vec<String>> {
    let mut keys = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await?;
        keys.extend(batch);
        if next == 0 {
            return Ok(keys);
        }
        cursor = next;
    }
}
