//! Who is calling: API keys, their hashes, and the in-memory key cache that
//! lets the request path authenticate without a database round trip.
//!
//! Keys carry 192 random bits, so a plain SHA-256 is the right hash: there is
//! nothing to brute-force, and a slow password hash would cost every request.

mod misses;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::api::ApiError;
use crate::store::{ApiKeyRow, Store};

/// Prefix of team keys, so leaked keys are recognisable by secret scanners.
pub const KEY_PREFIX: &str = "pg-";
const ADMIN_HASH_SETTING: &str = "admin_key_sha256";

/// Team recorded for calls made with the admin key.
pub const ADMIN_TEAM: &str = "_admin";

/// The caller of one request.
#[derive(Debug, Clone)]
pub enum Caller {
    Admin,
    Team {
        team: Arc<str>,
        /// Stable across rotations.
        key_id: Arc<str>,
        /// The hint of the secret presented (after a rotation: new or old).
        hint: Arc<str>,
        /// The models the key may call; `None` = any.
        models: Option<Arc<[String]>>,
    },
}

impl Caller {
    /// The team whose data this caller may see; `None` = all (admin).
    pub fn team(&self) -> Option<&str> {
        match self {
            Caller::Admin => None,
            Caller::Team { team, .. } => Some(team),
        }
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self {
            Caller::Admin => Ok(()),
            Caller::Team { .. } => Err(ApiError::PermissionDenied(
                "this endpoint needs the admin key".into(),
            )),
        }
    }

    /// Whether the key may call `model` (the name after `[aliases]`).
    pub fn may_call(&self, model: &str) -> bool {
        match self {
            Caller::Team {
                models: Some(allowed),
                ..
            } => allowed.iter().any(|m| m == model),
            _ => true,
        }
    }

    /// A team key may only touch its own team; another team's data is "not found".
    pub fn require_team(&self, team: &str) -> Result<(), ApiError> {
        match self.team() {
            Some(own) if own != team => Err(ApiError::NotFound(format!("team `{team}` not found"))),
            _ => Ok(()),
        }
    }
}

pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A new random team key (`pg-` + 48 hex digits = 192 bits).
pub fn generate_key() -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    format!("{KEY_PREFIX}{}", hex::encode(bytes))
}

/// Active keys by hash, shared by all request tasks. Rebuilt from the store on
/// a short poll; a key created on another replica is looked up in the store on
/// first use ([`KeyCache::authenticate`]), and a revocation elsewhere arrives
/// at once where the store sends notifications (PostgreSQL).
pub struct KeyCache {
    admin_hash: String,
    keys: RwLock<HashMap<String, Known>>,
    /// Unknown keys recently looked up, and the bound on store lookups.
    misses: Mutex<misses::Misses>,
    /// Store lookups of unknown keys made by this cache (for tests and `/metrics`).
    store_lookups: AtomicU64,
    /// Bumped (under the write lock) by every local insert or removal, so a
    /// refresh that read the store before such a change does not undo it.
    generation: std::sync::atomic::AtomicU64,
}

impl KeyCache {
    /// Resolves the admin key: from config if given, else the hash stored by an
    /// earlier start, else a new key that is printed once and stored hashed.
    pub async fn load(
        store: &dyn Store,
        configured: Option<&SecretString>,
    ) -> anyhow::Result<KeyCache> {
        let admin_hash = match configured {
            Some(key) => hash_key(key.expose_secret()),
            None => match store.get_setting(ADMIN_HASH_SETTING).await? {
                Some(hash) => hash,
                None => {
                    let key = generate_key().replacen(KEY_PREFIX, "pg-admin-", 1);
                    let stored = store
                        .put_setting_if_absent(ADMIN_HASH_SETTING, &hash_key(&key))
                        .await?;
                    if stored == hash_key(&key) {
                        // Printed once, on purpose: there is no other way to learn it.
                        tracing::warn!(admin_key = %key, "generated an admin key; it is shown only now, store it safely");
                    }
                    stored
                }
            },
        };
        let cache = KeyCache {
            admin_hash,
            keys: RwLock::new(HashMap::new()),
            misses: Mutex::default(),
            store_lookups: AtomicU64::new(0),
            generation: AtomicU64::new(0),
        };
        cache.refresh(store).await?;
        Ok(cache)
    }

    /// Replaces the map with the store's active keys, unless a local change
    /// happened meanwhile (then the next refresh picks everything up).
    pub async fn refresh(&self, store: &dyn Store) -> anyhow::Result<()> {
        let before = self.generation.load(Ordering::Acquire);
        let rows = store.active_keys().await?;
        let now = crate::time::now_ms();
        let map: HashMap<String, Known> = rows.iter().flat_map(|r| secrets_of(r, now)).collect();
        if let Ok(mut keys) = self.keys.write() {
            if self.generation.load(Ordering::Acquire) == before {
                *keys = map;
            }
        }
        Ok(())
    }

    pub fn insert(&self, row: &ApiKeyRow) {
        if let Ok(mut keys) = self.keys.write() {
            self.generation.fetch_add(1, Ordering::AcqRel);
            keys.extend(secrets_of(row, crate::time::now_ms()));
        }
        if let Ok(mut misses) = self.misses.lock() {
            misses.forget(&row.key_hash);
        }
    }

    pub fn remove_id(&self, id: &str) {
        if let Ok(mut keys) = self.keys.write() {
            self.generation.fetch_add(1, Ordering::AcqRel);
            keys.retain(
                |_, k| !matches!(&k.caller, Caller::Team { key_id, .. } if &**key_id == id),
            );
        }
    }

    /// Memory-only lookup; `None` for unknown keys.
    pub fn lookup(&self, key: &str) -> Option<Caller> {
        self.lookup_hash(&hash_key(key))
    }

    /// Memory-only lookup by the key's hash: how a console session, which
    /// keeps the hash and never the key, finds its caller on every page (a
    /// revoked or expired key ends its sessions with it).
    pub fn lookup_hash(&self, hash: &str) -> Option<Caller> {
        if hash == self.admin_hash {
            return Some(Caller::Admin);
        }
        let keys = self.keys.read().ok()?;
        let known = keys.get(hash)?;
        if known
            .expires_at
            .is_some_and(|at| at <= crate::time::now_ms())
        {
            return None;
        }
        Some(known.caller.clone())
    }

    /// The caller of `key`: from memory, else (for a key of our shape that
    /// was not looked up lately, within the process-wide bound) from the
    /// store, so a key made on another replica works on first use here.
    /// `Err` when the key had to be looked up and the store did not answer:
    /// the key may well be valid, so that is not a 401.
    pub async fn authenticate(
        &self,
        key: &str,
        store: &dyn Store,
    ) -> Result<Option<Caller>, sqlx::Error> {
        let hash = hash_key(key);
        if let Some(caller) = self.lookup_hash(&hash) {
            return Ok(Some(caller));
        }
        if !key.starts_with(KEY_PREFIX) {
            return Ok(None);
        }
        let now = Instant::now();
        let allowed = self
            .misses
            .lock()
            .map(|mut m| m.may_look_up(&hash, now))
            .unwrap_or(false);
        if !allowed {
            metrics::counter!("promptgate_key_store_lookups_total", "result" => "skipped")
                .increment(1);
            return Ok(None);
        }
        self.store_lookups.fetch_add(1, Ordering::Relaxed);
        let row = match store.find_key_by_hash(&hash).await {
            Ok(row) => row.filter(|r| r.revoked_at.is_none()),
            Err(err) => {
                tracing::warn!(error = %err, "key lookup in the store failed");
                metrics::counter!("promptgate_key_store_lookups_total", "result" => "error")
                    .increment(1);
                return Err(err);
            }
        };
        if let Some(row) = &row {
            self.insert(row);
        }
        // expired keys and old secrets past their grace are not inserted
        let found = row.and_then(|_| self.lookup_hash(&hash));
        let result = if found.is_some() { "found" } else { "unknown" };
        metrics::counter!("promptgate_key_store_lookups_total", "result" => result).increment(1);
        if found.is_none() {
            if let Ok(mut m) = self.misses.lock() {
                m.note_miss(hash, now);
            }
        }
        Ok(found)
    }

    /// How many times this cache asked the store about an unknown key.
    pub fn store_lookups(&self) -> u64 {
        self.store_lookups.load(Ordering::Relaxed)
    }

    /// Drops keys as other processes revoke them, for as long as this cache
    /// lives, where the store notifies (PostgreSQL `LISTEN`); elsewhere the
    /// periodic refresh does it.
    pub async fn follow_revocations(self: &Arc<Self>, store: &dyn Store) {
        let mut events = match store.key_revocations().await {
            Ok(Some(events)) => events,
            Ok(None) => return,
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for key revocations; relying on the periodic refresh");
                return;
            }
        };
        let cache = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut alive = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    id = events.recv() => {
                        let (Some(id), Some(cache)) = (id, cache.upgrade()) else { return };
                        cache.remove_id(&id);
                    }
                    _ = alive.tick() => {
                        if cache.strong_count() == 0 {
                            return; // dropping `events` ends the listener
                        }
                    }
                }
            }
        });
    }

    /// Keeps the cache in step with the store until the process ends.
    pub fn spawn_refresh(self: &Arc<Self>, store: Arc<dyn Store>, every: Duration) {
        crate::periodic::while_alive(self, store, every, |cache, store| async move {
            if let Err(err) = cache.refresh(store.as_ref()).await {
                tracing::warn!(error = %err, "key refresh failed; serving the last known keys");
            }
        });
    }
}

/// A secret the cache accepts, and until when.
struct Known {
    caller: Caller,
    expires_at: Option<i64>,
}

/// The secrets of a key that work at `now`: its current one, and the one
/// before its last rotation while the grace lasts.
fn secrets_of(row: &ApiKeyRow, now: i64) -> Vec<(String, Known)> {
    let models: Option<Arc<[String]>> = row.models().map(Arc::from);
    let caller = |hint: &str| Caller::Team {
        team: Arc::from(row.team.as_str()),
        key_id: Arc::from(row.id.as_str()),
        hint: Arc::from(hint),
        models: models.clone(),
    };
    let mut out = Vec::with_capacity(2);
    if row.expires_at.is_some_and(|at| at <= now) {
        return out;
    }
    out.push((
        row.key_hash.clone(),
        Known {
            caller: caller(&row.hint),
            expires_at: row.expires_at,
        },
    ));
    if let (Some(hash), Some(until)) = (&row.previous_hash, row.previous_expires_at) {
        if until > now {
            let hint = row.previous_hint.as_deref().unwrap_or_default();
            out.push((
                hash.clone(),
                Known {
                    caller: caller(hint),
                    expires_at: Some(row.expires_at.map_or(until, |e| e.min(until))),
                },
            ));
        }
    }
    out
}

/// The key from `Authorization: Bearer …` or `x-api-key`.
pub fn presented_key(headers: &axum::http::HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get(axum::http::header::AUTHORIZATION) {
        let v = v.to_str().ok()?;
        let token = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))?;
        return Some(token.trim());
    }
    headers.get("x-api-key")?.to_str().ok().map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_random_and_prefixed() {
        let a = generate_key();
        let b = generate_key();
        assert_ne!(a, b);
        assert!(a.starts_with(KEY_PREFIX));
        assert_eq!(a.len(), KEY_PREFIX.len() + 48);
    }

    #[test]
    fn hash_is_stable_hex() {
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
