//! `GET /v1/models`: what the caller may use — the upstreams' models (see
//! [`crate::providers::ModelList`]), config aliases and the models registry
//! prompts are pinned to. `GET /v1/models/{id}` asks the upstream it routes to.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::StreamExt;
use serde_json::{json, Value};

use super::extract::Auth;
use super::openapi::responses;
use super::openapi::schemas as doc;
use crate::api::ApiError;
use crate::providers::copy_response_headers;
use crate::state::AppState;

/// List the models the caller may use
///
/// Each upstream's own `GET /models` list, filtered by that upstream's `models` patterns, merged (first occurrence of an id wins). The merged list is cached for 60 s. An upstream that cannot be listed within 5 s contributes the exact (non-glob) names of its patterns; the built-in `mock` contributes `mock-1`, `mock-echo`, `mock-repeat`, `mock-tools`, `mock-slow`, `mock-hang`, `mock-flaky`, `mock-error-500`, `mock-no-usage`, `mock-stream-cut`, `mock-embedding`. Any valid key may call it.
#[utoipa::path(
    get, path = "/v1/models", tag = "model", operation_id = "listModels",
    responses(
        (status = 200, description = "The list.", content((doc::ModelList = "application/json", example = json!({"object": "list", "data": [{"id": "mock-1", "object": "model", "created": 1767225600, "owned_by": "promptgate-mock"}]})))),
        (status = 401, response = responses::Unauthorized),
    ),
)]
pub async fn list(State(state): State<AppState>, Auth(_): Auth) -> Json<Value> {
    let mut data = state.models.get(&state.routes).await;
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

// Asks the upstream that the name routes to.
/// Retrieve one model from the upstream it routes to
///
/// Routes `id` like a request's `model` (prefix, exact, glob, catch-all) and asks that upstream for `GET /models/{id}` (with any `upstream/` prefix removed). The upstream's answer is passed back as it is; no route or an upstream 404 → 404 `model_not_found`.
#[utoipa::path(
    get, path = "/v1/models/{id}", tag = "model", operation_id = "retrieveModel",
    params(("id" = String, Path, description = "Model name. May contain `/` (e.g. `openai/gpt-4o-mini`; the path segment captures the rest of the path).")),
    responses(
        (status = 200, description = "The upstream's model object.", content((doc::Model = "application/json"))),
        (status = 401, response = responses::Unauthorized), (status = 404, response = responses::ModelNotFound), (status = 502, response = responses::BadGateway),
    ),
)]
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
