//! `GET /v1/models`: what the caller may use. Each HTTP upstream's own list is
//! fetched, filtered by that upstream's `models` patterns and cached for a
//! minute, so listing models does not hit every vendor on every call.

use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::sync::Mutex;
use wildmatch::WildMatch;

use super::extract::Auth;
use crate::error::ApiError;
use crate::gateway::copy_response_headers;
use crate::providers::{mock, Upstream};
use crate::state::AppState;

const TTL: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct ModelList {
    cached: Mutex<Option<(Instant, Vec<Value>)>>,
}

impl ModelList {
    async fn get(&self, state: &AppState) -> Vec<Value> {
        let mut guard = self.cached.lock().await;
        if let Some((at, list)) = guard.as_ref() {
            if at.elapsed() < TTL {
                return list.clone();
            }
        }
        let mut list = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for up in state.routes.all() {
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

pub async fn list(State(state): State<AppState>, Auth(_): Auth) -> Json<Value> {
    let mut data = state.models.get(&state).await;
    let mut seen: std::collections::HashSet<String> = data
        .iter()
        .filter_map(|m| m.get("id").and_then(Value::as_str).map(str::to_owned))
        .collect();
    // Aliases from config, and the models registry prompts are pinned to.
    let extra = state
        .config
        .aliases
        .keys()
        .map(|a| (a.clone(), "promptgate-alias"))
        .chain(
            state
                .registry
                .snapshot()
                .prompts
                .values()
                .filter_map(|p| {
                    p.latest()?
                        .version
                        .config
                        .get("model")?
                        .as_str()
                        .map(str::to_owned)
                })
                .map(|m| (m, "promptgate-registry")),
        )
        .collect::<Vec<_>>();
    for (id, owner) in extra {
        if seen.insert(id.clone()) {
            data.push(json!({"id": id, "object": "model", "created": 0, "owned_by": owner}));
        }
    }
    Json(json!({"object": "list", "data": data}))
}

/// Asks the upstream that the name routes to.
pub async fn get_one(
    State(state): State<AppState>,
    Auth(_): Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if state.config.aliases.contains_key(&id) {
        let alias =
            json!({"id": id, "object": "model", "created": 0, "owned_by": "promptgate-alias"});
        return Ok(Json(alias).into_response());
    }
    let route = state
        .routes
        .resolve(&id)
        .ok_or_else(|| ApiError::ModelNotFound(id.clone()))?;
    let name = route.rewritten_model.as_deref().unwrap_or(&id);
    let resp = route
        .upstream
        .send(
            Method::GET,
            &format!("/models/{name}"),
            HeaderMap::new(),
            Bytes::new(),
        )
        .await
        .map_err(|e| ApiError::Upstream(e.to_string()))?;
    if resp.status.as_u16() == 404 {
        return Err(ApiError::ModelNotFound(id));
    }
    let mut out = Response::new(Body::from_stream(
        resp.body.map(|r| r.map_err(std::io::Error::other)),
    ));
    *out.status_mut() = resp.status;
    copy_response_headers(&resp.headers, out.headers_mut());
    Ok(out.into_response())
}
