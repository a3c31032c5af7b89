//! The OpenAI model endpoints the gateway handles itself.

use axum::extract::State;
use axum::response::Response;

use super::extract::{Auth, HeadersAndBody};
use crate::api::Endpoint;
use crate::gateway;
use crate::state::AppState;

pub async fn chat(
    State(s): State<AppState>,
    Auth(c): Auth,
    HeadersAndBody(h, b): HeadersAndBody,
) -> Response {
    gateway::handle(&s, &c, Endpoint::Chat, &h, b).await
}

pub async fn completions(
    State(s): State<AppState>,
    Auth(c): Auth,
    HeadersAndBody(h, b): HeadersAndBody,
) -> Response {
    gateway::handle(&s, &c, Endpoint::Completions, &h, b).await
}

pub async fn embeddings(
    State(s): State<AppState>,
    Auth(c): Auth,
    HeadersAndBody(h, b): HeadersAndBody,
) -> Response {
    gateway::handle(&s, &c, Endpoint::Embeddings, &h, b).await
}

pub async fn responses(
    State(s): State<AppState>,
    Auth(c): Auth,
    HeadersAndBody(h, b): HeadersAndBody,
) -> Response {
    gateway::handle(&s, &c, Endpoint::Responses, &h, b).await
}
