//! HTTP routes. Handlers are thin: extract, call the domain code, map the result.

pub mod admin;
pub mod admin_types;
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
pub mod openapi;
pub mod ops;
pub mod passthrough;
pub mod prompt_call;
pub mod prompt_labels;
pub mod prompt_path;
pub mod prompts;
pub mod requests;
pub mod routes;
pub mod team_scope;

use axum::extract::DefaultBodyLimit;
use axum::Router;

use crate::state::AppState;

/// The app's router, built from [`routes::table`] (add routes there: the
/// OpenAPI test fails for a route without documentation).
pub fn router(state: AppState) -> Router {
    let table = routes::table();
    let document = ops::OpenApiDocument(openapi::document_json(&table).into());
    let mut router = Router::new();
    for route in table {
        router = router.route(route.path, route.handler);
    }
    router
        // After every route: it is set on the routes registered so far.
        .method_not_allowed_fallback(ops::method_not_allowed)
        .fallback(ops::not_found)
        // Our own extractor enforces `limits.max_body_bytes` with a 413.
        .layer(DefaultBodyLimit::disable())
        .layer(axum::Extension(document))
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
