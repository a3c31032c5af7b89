//! The OpenAI model endpoints the gateway handles itself: a POST on each path
//! below goes through `gateway::handle` as that endpoint. Other methods on
//! these paths are OpenAI resources of their own (e.g.
//! `GET /v1/chat/completions` lists stored completions): forwarded.

use axum::extract::State;
use axum::routing::post;
use axum::Router;

use super::extract::{Auth, HeadersAndBody};
use super::passthrough;
use crate::api::Endpoint;
use crate::gateway;
use crate::state::AppState;

/// Each model path and the endpoint a POST on it is.
const MODEL_PATHS: [(&str, Endpoint); 4] = [
    ("/v1/chat/completions", Endpoint::Chat),
    ("/v1/completions", Endpoint::Completions),
    ("/v1/embeddings", Endpoint::Embeddings),
    ("/v1/responses", Endpoint::Responses),
];

/// The routes of [`MODEL_PATHS`], to merge into the app's router.
pub fn routes() -> Router<AppState> {
    MODEL_PATHS
        .into_iter()
        .fold(Router::new(), |router, (path, endpoint)| {
            let call = move |State(s): State<AppState>,
                             Auth(c): Auth,
                             HeadersAndBody(h, b): HeadersAndBody| async move {
                gateway::handle(&s, &c, endpoint, &h, b).await
            };
            router.route(path, post(call).fallback(passthrough::forward))
        })
}
