//! The models the upstreams offer, for `GET /v1/models`. Each HTTP
//! upstream's own list is fetched, filtered by that upstream's `models`
//! patterns and cached for a minute, so listing models does not hit every
//! vendor on every call.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method};
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::sync::Mutex;
use wildmatch::WildMatch;

use super::mock;
use super::routes::Routes;
use super::upstream::Upstream;

const TTL: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct ModelList {
    cached: Mutex<Option<(Instant, Vec<Value>)>>,
}

impl ModelList {
    /// Every upstream's routed models, at most a minute old.
    pub async fn get(&self, routes: &Routes) -> Vec<Value> {
        let mut guard = self.cached.lock().await;
        if let Some((at, list)) = guard.as_ref() {
            if at.elapsed() < TTL {
                return list.clone();
            }
        }
        let mut list = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for up in routes.all() {
            for model in fetch(up).await {
                let id = model
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                if !id.is_empty() && seen.insert(id) {
                    list.push(model);
                }
            }
        }
        *guard = Some((Instant::now(), list.clone()));
        list
    }
}

/// One upstream's models that its patterns route to it. An upstream that
/// cannot be listed contributes the exact names in its patterns.
async fn fetch(up: &Upstream) -> Vec<Value> {
    let patterns: Vec<WildMatch> = up.patterns.iter().map(|p| WildMatch::new(p)).collect();
    let routed = |id: &str| patterns.iter().any(|p| p.matches(id));
    let listed = async {
        let resp = up
            .send(Method::GET, "/models", HeaderMap::new(), Bytes::new())
            .await
            .ok()?;
        if !resp.status.is_success() {
            return None;
        }
        let mut body = resp.body;
        let mut bytes = Vec::new();
        while let Some(chunk) = body.next().await {
            bytes.extend_from_slice(&chunk.ok()?);
        }
        let v: Value = serde_json::from_slice(&bytes).ok()?;
        v.get("data")?.as_array().cloned()
    };
    match tokio::time::timeout(Duration::from_secs(5), listed).await {
        Ok(Some(models)) => models
            .into_iter()
            .filter(|m| m.get("id").and_then(Value::as_str).is_some_and(routed))
            .collect(),
        _ => {
            let names: Vec<&str> = if up.is_mock() {
                mock::MODELS.to_vec()
            } else {
                up.patterns
                    .iter()
                    .filter(|p| !p.contains(['*', '?']))
                    .map(String::as_str)
                    .collect()
            };
            names
                .into_iter()
                .map(|id| json!({"id": id, "object": "model", "created": 0, "owned_by": up.name}))
                .collect()
        }
    }
}
