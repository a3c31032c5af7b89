//! Operations: liveness, readiness, metrics, the OpenAPI document.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::openapi::responses;
use super::openapi::schemas as doc;
use crate::api::ApiError;
use crate::state::AppState;

/// The answer of `GET /healthz`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    #[schema(inline, value_type = doc::HealthStatus)]
    status: &'static str,
}

/// The answer of `GET /readyz` when the store answers.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Ready {
    #[schema(inline, value_type = doc::ReadyStatus)]
    status: &'static str,
    /// The store's backend.
    #[schema(inline, value_type = doc::ReadyStore)]
    store: &'static str,
}

/// The OpenAPI document of this gateway's own contract, as JSON: made from
/// the route table when the router is built (`super::openapi`).
#[derive(Clone)]
pub struct OpenApiDocument(pub bytes::Bytes);

/// Liveness: the process is up
#[utoipa::path(
    get, path = "/healthz", tag = "operations", operation_id = "healthz",
    responses(
        (status = 200, description = "Up.", content((Health = "application/json"))),
    ),
    security(()),
)]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

// Ready when the store answers.
/// Readiness: the store answers
#[utoipa::path(
    get, path = "/readyz", tag = "operations", operation_id = "readyz",
    responses(
        (status = 200, description = "Ready.", content((Ready = "application/json", example = json!({"status": "ready", "store": "sqlite"})))),
        (status = 503, response = responses::ServiceUnavailable),
    ),
    security(()),
)]
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => Json(Ready {
            status: "ready",
            store: state.store.backend(),
        })
        .into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            ApiError::Unavailable("store unreachable".into()).into_response()
        }
    }
}

/// Prometheus metrics
///
/// Prometheus text format: `promptgate_requests_total{endpoint,outcome}`, `promptgate_request_duration_seconds{endpoint}` (histogram), `promptgate_time_to_first_token_seconds` (histogram), `promptgate_upstream_errors_total{kind[,upstream]}`, `promptgate_in_flight_requests` (gauge), `promptgate_records_written_total`, `promptgate_record_write_errors_total`, `promptgate_cache_lookups_total{result}` (`hit`, `miss`), `promptgate_cache_local_bytes` (gauge), `promptgate_cache_redis_errors_total`, `promptgate_grounding_seconds` (histogram), `promptgate_grounding_flagged_total`, `promptgate_grounding_judge_verdicts_total{source}` (`model`, `cache`), `promptgate_grounding_judge_errors_total{code}`, `promptgate_grounding_judge_flagged_total`, `promptgate_grounding_judge_fabricated_quotes_total`, `promptgate_grounding_judge_seconds` (histogram), `promptgate_unpriced_requests_total`. A series appears once it has been recorded.
#[utoipa::path(
    get, path = "/metrics", tag = "operations", operation_id = "metrics",
    responses(
        (status = 200, description = "Metrics.", content((String = "text/plain; version=0.0.4"))),
    ),
    security(()),
)]
pub async fn metrics(State(state): State<AppState>) -> Response {
    crate::telemetry::record_runtime_gauges();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// This document
#[utoipa::path(
    get, path = "/openapi.json", tag = "operations", operation_id = "openapi",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of the gateway's own contract.", content((serde_json::Value = "application/json"))),
    ),
    security(()),
)]
pub async fn openapi(axum::Extension(doc): axum::Extension<OpenApiDocument>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], doc.0).into_response()
}

pub async fn not_found(uri: axum::http::Uri) -> Response {
    let err = ApiError::NotFound(format!("no route for {}", uri.path()));
    let mut resp = err.into_response();
    *resp.status_mut() = StatusCode::NOT_FOUND;
    resp
}

/// A known path asked with a method it does not have. axum adds the `Allow`
/// header (the path's methods) to this 405.
pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    ApiError::MethodNotAllowed(format!("{method} is not allowed on {}", uri.path())).into_response()
}
