//! The built-in deterministic upstream. It speaks the OpenAI API (and
//! Anthropic's Messages API, see [`messages`]), so the same
//! router serves in process (the default `mock` upstream, no socket) and on a
//! port (`promptgate mock-upstream`, used by tests as a "real" upstream).
//!
//! Output is a pure function of the request, so tests can assert on it.
//! The model name selects the behaviour:
//!
//! | model | behaviour |
//! |---|---|
//! | `mock-echo` | the answer is the request body it received, as JSON text |
//! | `mock-repeat` | the answer is the last user message's text (grounding demos and tests) |
//! | `mock-tools` | calls the request's first tool |
//! | `mock-slow` | 100 ms before the answer and between stream chunks |
//! | `mock-hang` | never answers (timeouts) |
//! | `mock-flaky` | every other request fails with 503 |
//! | `mock-error-NNN` | fails with status NNN in OpenAI's error shape |
//! | `mock-no-usage` | answers without `usage` (token estimation) |
//! | `mock-stream-cut` | a stream that stops half-way without `[DONE]` |
//! | any other `mock-*` | a short deterministic answer with realistic `usage` |
//!
//! Any model answers a judge request (system message starting with the
//! judge marker) with deterministic verdicts: see [`judge`].

//!
//! One file per endpoint (`chat`, `completions`, `embeddings`, `responses`,
//! `models`, `messages` for Anthropic's); what they share: `request` (parsing, the behaviour a model name
//! selects), `answer` (the deterministic words) and `wire` (error shape, SSE).

mod answer;
mod chat;
mod completions;
mod embeddings;
mod judge;
mod messages;
mod models;
mod request;
mod responses;
mod wire;

use std::sync::Arc;

use axum::routing::{get, post, MethodRouter};
use axum::Router;

pub use models::MODELS;
use request::MockState;

pub fn router() -> Router {
    let state = Arc::new(MockState::default());
    let endpoints: [(&str, MethodRouter<Arc<MockState>>); 9] = [
        ("/chat/completions", post(chat::chat)),
        ("/completions", post(completions::completions)),
        ("/embeddings", post(embeddings::embeddings)),
        ("/responses", post(responses::responses)),
        ("/messages", post(messages::messages)),
        ("/messages/count_tokens", post(messages::count_tokens)),
        ("/models", get(models::models)),
        ("/models/{id}", get(models::model)),
        ("/stats", get(request::stats)),
    ];
    endpoints
        .into_iter()
        .fold(Router::new(), |router, (path, handler)| {
            router.route(path, handler)
        })
        .fallback(|| async {
            wire::error(
                404,
                "Unknown endpoint (mock upstream)",
                "invalid_request_error",
                None,
            )
        })
        .with_state(state)
}

/// The router mounted under `/v1`, as a standalone server exposes it.
pub fn server_router() -> Router {
    Router::new().nest("/v1", router())
}
