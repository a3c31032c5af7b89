//! Who is calling: API keys, their hashes, and the in-memory key cache that
//! lets the request path authenticate without a database round trip.
//!
//! Keys carry 192 random bits, so a plain SHA-256 is the right hash: there is
//! nothing to brute-force, and a slow password hash would cost every request.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

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
    Team { team: Arc<str>, key_id: Arc<str> },
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
/// a short poll so that revocations on another replica take effect here.
pub struct KeyCache {
    admin_hash: String,
    keys: RwLock<HashMap<String, Caller>>,
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
            generation: std::sync::atomic::AtomicU64::new(0),
        };
        cache.refresh(store).await?;
        Ok(cache)
    }

    /// Replaces the map with the store's active keys, unless a local change
    /// happened meanwhile (then the next refresh picks everything up).
    pub async fn refresh(&self, store: &dyn Store) -> anyhow::Result<()> {
        use std::sync::atomic::Ordering;
        let before = self.generation.load(Ordering::Acquire);
        let rows = store.active_keys().await?;
        let map: HashMap<String, Caller> = rows
            .into_iter()
            .map(|r| (r.key_hash.clone(), caller_of(&r)))
            .collect();
        if let Ok(mut keys) = self.keys.write() {
            if self.generation.load(Ordering::Acquire) == before {
                *keys = map;
            }
        }
        Ok(())
    }

    pub fn insert(&self, row: &ApiKeyRow) {
        if let Ok(mut keys) = self.keys.write() {
            self.generation
                .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
            keys.insert(row.key_hash.clone(), caller_of(row));
        }
    }

    pub fn remove_id(&self, id: &str) {
        if let Ok(mut keys) = self.keys.write() {
            self.generation
                .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
            keys.retain(|_, c| !matches!(c, Caller::Team { key_id, .. } if &**key_id == id));
        }
    }

    /// Memory-only lookup; `None` for unknown keys.
    pub fn lookup(&self, key: &str) -> Option<Caller> {
        let hash = hash_key(key);
        if hash == self.admin_hash {
            return Some(Caller::Admin);
        }
        self.keys.read().ok()?.get(&hash).cloned()
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

fn caller_of(row: &ApiKeyRow) -> Caller {
    Caller::Team {
        team: Arc::from(row.team.as_str()),
        key_id: Arc::from(row.id.as_str()),
    }
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
