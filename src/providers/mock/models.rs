//! `GET /models` and `GET /models/{id}`: the mock's model list. Any `mock-*`
//! name is a model; the list shows the ones with a behaviour of their own.

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::answer::CREATED;
use super::wire::error;

/// Models listed by `GET /models`; any other `mock-*` name works too.
pub const MODELS: &[&str] = &[
    "mock-1",
    "mock-echo",
    "mock-repeat",
    "mock-tools",
    "mock-slow",
    "mock-hang",
    "mock-flaky",
    "mock-error-500",
    "mock-no-usage",
    "mock-stream-cut",
    "mock-embedding",
];

fn model_object(id: &str) -> Value {
    json!({"id": id, "object": "model", "created": CREATED, "owned_by": "promptgate-mock"})
}

pub async fn models() -> Response {
    let data: Vec<Value> = MODELS.iter().map(|m| model_object(m)).collect();
    axum::Json(json!({"object": "list", "data": data})).into_response()
}

pub async fn model(Path(id): Path<String>) -> Response {
    if id.starts_with("mock-") {
        axum::Json(model_object(&id)).into_response()
    } else {
        error(
            404,
            &format!("The model '{id}' does not exist"),
            "invalid_request_error",
            Some("model_not_found"),
        )
    }
}
