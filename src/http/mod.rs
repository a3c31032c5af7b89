//! HTTP routes. Handlers are thin: extract, call the domain code, map the result.

pub mod admin;
pub mod anthropic;
pub mod audit;
pub mod cache_admin;
mod console;
pub mod costs;
mod drain;
pub mod experiments;
pub mod extract;
pub mod grounding;
pub mod model_api;
pub mod models;
pub mod ops;
pub mod passthrough;
pub mod prompt_labels;
pub mod prompts;
pub mod requests;
pub mod team_scope;

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use axum::Router;

use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(model_api::routes())
        .merge(anthropic::routes())
        .route(
            "/v1/models",
            get(models::list).fallback(passthrough::forward),
        )
        .route(
            "/v1/models/{*id}",
            get(models::get_one).delete(passthrough::forward),
        )
        .route("/v1/teams", post(admin::create_team).get(admin::list_teams))
        .route(
            "/v1/teams/{team}/keys",
            post(admin::create_key).get(admin::list_keys),
        )
        .route(
            "/v1/teams/{team}/budget",
            axum::routing::put(admin::put_budget)
                .get(admin::get_budget)
                .delete(admin::delete_budget),
        )
        .route("/v1/keys/{id}", delete(admin::revoke_key))
        .route("/v1/keys/{id}/rotate", post(admin::rotate_key))
        .route("/v1/audit", get(audit::list))
        .route("/v1/grounding/score", post(grounding::score))
        .route("/v1/prompts", get(prompts::list))
        .route("/v1/prompts/{*rest}", axum::routing::any(prompts::dispatch))
        .route("/v1/costs", get(costs::report))
        .route("/v1/monitoring/drift", get(experiments::drift))
        .route("/v1/cache", delete(cache_admin::clear))
        .route("/v1/requests", get(requests::list))
        .route("/v1/requests/{id}", get(requests::get_one))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .merge(console::routes())
        .route("/v1/{*rest}", axum::routing::any(passthrough::forward))
        // After every route: it is set on the routes registered so far.
        .method_not_allowed_fallback(ops::method_not_allowed)
        .fallback(ops::not_found)
        // Our own extractor enforces `limits.max_body_bytes` with a 413.
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn(request_id_on_every_response))
        .with_state(state)
}

/// Every answer carries `x-request-id`, also those refused before the
/// pipeline ran (401, 404 routes), so SDK users can quote it. Model calls set
/// their own (the id of their request record).
async fn request_id_on_every_response(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let asked = req.headers().get(crate::api::headers::REQUEST_ID).cloned();
    let mut resp = next.run(req).await;
    if !resp.headers().contains_key(crate::api::headers::REQUEST_ID) {
        // Made only when missing: model calls already carry theirs.
        let mut h = axum::http::HeaderMap::new();
        if let Some(v) = asked {
            h.insert(crate::api::headers::REQUEST_ID, v);
        }
        let id = crate::api::headers::request_id(&h);
        if let Ok(v) = axum::http::HeaderValue::from_str(&id) {
            resp.headers_mut()
                .insert(crate::api::headers::REQUEST_ID, v);
        }
    }
    resp
}
