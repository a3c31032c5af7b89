//! The response cache: opt-in, team-scoped, two tiers, stampede-proof.
//!
//! - [`policy`]: whether a request may use the cache, and for how long.
//! - [`key`]: the canonical request hash that names an entry.
//! - [`replay`]: stream ⇄ JSON conversion, so either form serves the other.
//! - this file: the tiers (in-process moka bounded by bytes, then Redis when
//!   configured) and per-key in-flight coalescing: of N identical requests for
//!   a cold key, one goes upstream and the others wait for its answer.
//!
//! Entries hold the complete JSON answer of a successful call. The shared tier
//! never fails a request: when Redis errors, it is skipped for a second and
//! the failure is counted.
//!
//! A clear (`DELETE /v1/cache`) reaches the other replicas' in-process tiers
//! through Redis when it is configured, else through the store
//! ([`store_clears`]).

pub mod key;
mod policy;
mod redis_tier;
pub mod replay;
mod store_clears;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::watch;

pub use policy::{policy, CacheStatus, Policy, Rules};
use redis_tier::RedisTier;
use store_clears::StoreClearLog;

/// One cached answer.
#[derive(Debug)]
pub struct Entry {
    /// The complete JSON answer as the upstream sent it (or assembled from its stream).
    pub body: Bytes,
    /// The registry prompt the request used, for `DELETE /v1/cache?prompt=`.
    pub prompt: Option<String>,
    ttl: Duration,
}

struct PerEntryTtl;

impl moka::Expiry<String, Arc<Entry>> for PerEntryTtl {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &Arc<Entry>,
        _now: Instant,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

type FlightResult = Option<Option<Arc<Entry>>>;

pub struct ResponseCache {
    local: moka::future::Cache<String, Arc<Entry>>,
    redis: Option<Arc<RedisTier>>,
    /// Without Redis: the store's log of clears, shared with the other replicas.
    store_clears: Option<StoreClearLog>,
    /// Keys being fetched from the upstream right now, and where their
    /// answer will be published.
    inflight: Mutex<HashMap<String, watch::Receiver<FlightResult>>>,
}

/// What a caller should do after a miss.
pub enum Flight {
    /// Go to the upstream; publish the result through the guard.
    Leader(LeaderGuard),
    /// Another request is already fetching this key: wait for it.
    Follower(watch::Receiver<FlightResult>),
}

pub struct LeaderGuard {
    cache: Arc<ResponseCache>,
    key: String,
    tx: watch::Sender<FlightResult>,
    done: bool,
}

impl LeaderGuard {
    /// Publishes the answer to waiting followers (`None`: nothing cacheable;
    /// followers then call the upstream themselves).
    pub fn finish(mut self, entry: Option<Arc<Entry>>) {
        self.done = true;
        self.release(entry);
    }

    fn release(&mut self, entry: Option<Arc<Entry>>) {
        if let Ok(mut map) = self.cache.inflight.lock() {
            map.remove(&self.key);
        }
        let _ = self.tx.send(Some(entry));
    }
}

impl Drop for LeaderGuard {
    fn drop(&mut self) {
        if !self.done {
            // The leader failed or was cancelled: let the followers go on.
            self.release(None);
        }
    }
}

impl ResponseCache {
    pub fn new(
        max_bytes: u64,
        redis_url: Option<&str>,
        prefix: &str,
        redis_deadline: std::time::Duration,
    ) -> anyhow::Result<ResponseCache> {
        let local = moka::future::Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|k: &String, v: &Arc<Entry>| {
                (k.len() + v.body.len()).try_into().unwrap_or(u32::MAX)
            })
            .expire_after(PerEntryTtl)
            .support_invalidation_closures()
            .build();
        let redis = match redis_url {
            Some(url) => Some(Arc::new(RedisTier::new(url, prefix, redis_deadline)?)),
            None => None,
        };
        Ok(ResponseCache {
            local,
            redis,
            store_clears: None,
            inflight: Mutex::new(HashMap::new()),
        })
    }

    /// Without Redis, clears travel through `store`, so that replicas sharing
    /// it (PostgreSQL, or one SQLite file) drop each other's cleared entries.
    pub async fn with_clears_through(
        mut self,
        store: Arc<dyn crate::store::CacheClearStore>,
    ) -> anyhow::Result<ResponseCache> {
        if self.redis.is_none() {
            self.store_clears = Some(StoreClearLog::open(store).await?);
        }
        Ok(self)
    }

    /// Local tier, then the shared tier (copying a shared hit into the local one).
    pub async fn get(&self, key: &str) -> Option<Arc<Entry>> {
        if let Some(hit) = self.local.get(key).await {
            return Some(hit);
        }
        let redis = self.redis.as_ref()?;
        let (body, ttl, prompt) = redis.get(key).await?;
        let entry = Arc::new(Entry { body, prompt, ttl });
        self.local.insert(key.to_owned(), entry.clone()).await;
        Some(entry)
    }

    /// Stores in both tiers.
    pub async fn put(
        &self,
        key: &str,
        body: Bytes,
        prompt: Option<String>,
        ttl: Duration,
    ) -> Arc<Entry> {
        let entry = Arc::new(Entry { body, prompt, ttl });
        self.local.insert(key.to_owned(), entry.clone()).await;
        if let Some(redis) = &self.redis {
            redis
                .put(key, &entry.body, entry.prompt.as_deref(), ttl)
                .await;
        }
        metrics::gauge!("promptgate_cache_local_bytes").set(self.local.weighted_size() as f64);
        entry
    }

    /// Joins the in-flight fetch of `key`, or becomes its leader.
    pub fn begin(self: &Arc<Self>, key: &str) -> Flight {
        let Ok(mut map) = self.inflight.lock() else {
            // A poisoned lock only costs coalescing, never the request.
            let (tx, _) = watch::channel(None);
            return Flight::Leader(LeaderGuard {
                cache: self.clone(),
                key: key.to_owned(),
                tx,
                done: false,
            });
        };
        if let Some(rx) = map.get(key) {
            return Flight::Follower(rx.clone());
        }
        let (tx, rx) = watch::channel(None);
        map.insert(key.to_owned(), rx);
        Flight::Leader(LeaderGuard {
            cache: self.clone(),
            key: key.to_owned(),
            tx,
            done: false,
        })
    }

    /// Drops every entry, or those made with one prompt, in both tiers; the
    /// other replicas drop their in-process copies within `every` of
    /// [`ResponseCache::spawn_clear_watch`].
    pub async fn clear(&self, prompt: Option<&str>) -> anyhow::Result<()> {
        self.clear_local(prompt)?;
        if let Some(redis) = &self.redis {
            redis.clear(prompt).await?;
        } else if let Some(log) = &self.store_clears {
            log.note(prompt).await?;
        }
        Ok(())
    }

    fn clear_local(&self, prompt: Option<&str>) -> anyhow::Result<()> {
        match prompt {
            None => self.local.invalidate_all(),
            Some(name) => {
                let name = name.to_owned();
                self.local
                    .invalidate_entries_if(move |_, v| v.prompt.as_deref() == Some(name.as_str()))
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
        }
        Ok(())
    }

    /// Follows the clears made by the other replicas (counters in Redis, or
    /// the store's log without Redis, read every `every`) and drops the
    /// matching in-process entries, so no replica keeps serving an answer
    /// that was cleared.
    pub fn spawn_clear_watch(self: &Arc<Self>, every: Duration) {
        if self.redis.is_none() && self.store_clears.is_none() {
            return;
        }
        crate::periodic::while_alive(self, (), every, |cache, ()| async move {
            let prompts: Vec<Option<String>> = if let Some(redis) = &cache.redis {
                match redis.clears_since_last_look().await {
                    Some((true, _)) => vec![None],
                    Some((false, prompts)) => prompts.into_iter().map(Some).collect(),
                    None => return,
                }
            } else if let Some(log) = &cache.store_clears {
                match log.others_since_last_look().await {
                    Some(prompts) => prompts,
                    None => return,
                }
            } else {
                return;
            };
            // A clear of everything makes the per-prompt ones moot.
            let outcome = if prompts.iter().any(Option::is_none) {
                cache.clear_local(None)
            } else {
                prompts
                    .iter()
                    .try_for_each(|p| cache.clear_local(p.as_deref()))
            };
            if let Err(e) = outcome {
                tracing::warn!(error = %e, "could not drop cleared cache entries");
            }
        });
    }

    pub fn has_shared_tier(&self) -> bool {
        self.redis.is_some()
    }
}

/// Waits for a leader's result; `None` when the leader got nothing cacheable.
pub async fn wait_for_leader(mut rx: watch::Receiver<FlightResult>) -> Option<Arc<Entry>> {
    let value = rx.wait_for(Option::is_some).await.ok()?;
    value.clone().flatten()
}
