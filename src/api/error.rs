//! One error type for everything a request can run into, rendered in OpenAI's
//! error shape: `{"error": {"message", "type", "param", "code"}}`.
//!
//! Variants are grouped by who caused the failure (the client, an upstream, or
//! us), because that decides the status code and whether the message may be
//! shown verbatim. Internal causes are logged once and replaced by a generic
//! message so that nothing about the deployment (paths, credentials, SQL) leaks.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed or invalid; `param` names the offending field.
    #[error("{message}")]
    InvalidRequest {
        message: String,
        param: Option<String>,
        code: Option<&'static str>,
    },
    #[error("request body exceeds the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("invalid API key")]
    InvalidApiKey,
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    NotFound(String),
    /// The path exists, the method does not (the `Allow` header lists those that do).
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("The model `{0}` does not exist or you do not have access to it.")]
    ModelNotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The team's budget for the period is used up.
    #[error("{0}")]
    BudgetExceeded(String),
    /// The upstream could not be reached or answered with a 5xx.
    #[error("{0}")]
    Upstream(String),
    /// The upstream did not answer (or, for a stream, did not send a chunk) in time.
    #[error("upstream did not answer within {0} s")]
    UpstreamTimeout(u64),
    /// Our own fault. The cause is logged, never shown.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A rate limit (`[[rate_limits]]`) is reached. `kind` is OpenAI's error
    /// type for it (`requests` or `tokens`); `headers` carry `Retry-After`
    /// and `x-ratelimit-*`.
    #[error("{message}")]
    RateLimited {
        message: String,
        kind: &'static str,
        headers: Box<HeaderMap>,
    },
    /// Every upstream the call could go to is cooling down after repeated
    /// failures; `headers` carry `Retry-After`.
    #[error("{message}")]
    CoolingDown {
        message: String,
        headers: Box<HeaderMap>,
    },
}

impl ApiError {
    pub fn invalid(message: impl Into<String>, param: Option<&str>) -> Self {
        ApiError::InvalidRequest {
            message: message.into(),
            param: param.map(str::to_owned),
            code: None,
        }
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(err.into())
    }

    /// A 503: the store did not answer (a write it interrupted was rolled back).
    pub fn store_unavailable() -> Self {
        ApiError::Unavailable("the store did not answer; retry later".into())
    }

    /// An error from code that reaches the store or Redis through `anyhow`
    /// (budgets): a 503 naming `what` when they are down, else a 500.
    pub fn from_dependency(what: &str, err: anyhow::Error) -> Self {
        if crate::store::health::anyhow_unavailable(&err) {
            tracing::warn!(error = %err, "{what} unavailable");
            return ApiError::Unavailable(format!("{what} is unavailable; retry later"));
        }
        ApiError::Internal(err)
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::InvalidApiKey => StatusCode::UNAUTHORIZED,
            ApiError::PermissionDenied(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) | ApiError::ModelNotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::BudgetExceeded(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Upstream(_) => StatusCode::BAD_GATEWAY,
            ApiError::UpstreamTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable(_) | ApiError::CoolingDown { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            ApiError::InvalidRequest { .. } | ApiError::PayloadTooLarge { .. } => {
                "invalid_request_error"
            }
            ApiError::NotFound(_)
            | ApiError::ModelNotFound(_)
            | ApiError::MethodNotAllowed(_)
            | ApiError::Conflict(_) => "invalid_request_error",
            ApiError::InvalidApiKey => "invalid_request_error",
            ApiError::PermissionDenied(_) => "permission_error",
            ApiError::BudgetExceeded(_) => "insufficient_quota",
            ApiError::Upstream(_) | ApiError::UpstreamTimeout(_) | ApiError::CoolingDown { .. } => {
                "upstream_error"
            }
            ApiError::Internal(_) | ApiError::Unavailable(_) => "server_error",
            ApiError::RateLimited { kind, .. } => kind,
        }
    }

    fn code(&self) -> Option<&'static str> {
        match self {
            ApiError::InvalidRequest { code, .. } => *code,
            ApiError::PayloadTooLarge { .. } => Some("request_too_large"),
            ApiError::InvalidApiKey => Some("invalid_api_key"),
            ApiError::PermissionDenied(_) => Some("permission_denied"),
            ApiError::ModelNotFound(_) => Some("model_not_found"),
            ApiError::NotFound(_) => Some("not_found"),
            ApiError::MethodNotAllowed(_) => Some("method_not_allowed"),
            ApiError::Conflict(_) => Some("conflict"),
            ApiError::BudgetExceeded(_) => Some("budget_exceeded"),
            ApiError::Upstream(_) => Some("upstream_unavailable"),
            ApiError::UpstreamTimeout(_) => Some("upstream_timeout"),
            ApiError::RateLimited { .. } => Some("rate_limit_exceeded"),
            ApiError::CoolingDown { .. } => Some("upstream_cooling_down"),
            ApiError::Internal(_) | ApiError::Unavailable(_) => None,
        }
    }

    fn param(&self) -> Option<&str> {
        match self {
            ApiError::InvalidRequest { param, .. } => param.as_deref(),
            ApiError::ModelNotFound(_) => Some("model"),
            _ => None,
        }
    }

    /// Headers the error's response carries (`Retry-After`, `x-ratelimit-*`).
    pub fn headers(&self) -> Option<&HeaderMap> {
        match self {
            ApiError::RateLimited { headers, .. } | ApiError::CoolingDown { headers, .. } => {
                Some(headers)
            }
            _ => None,
        }
    }

    /// The JSON body in OpenAI's error shape.
    pub fn body(&self) -> ErrorBody<'_> {
        ErrorBody {
            error: ErrorDetail {
                message: self.to_string(),
                kind: self.kind(),
                param: self.param(),
                code: self.code(),
            },
        }
    }
}

#[derive(Serialize)]
pub struct ErrorBody<'a> {
    pub error: ErrorDetail<'a>,
}

#[derive(Serialize)]
pub struct ErrorDetail<'a> {
    pub message: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub param: Option<&'a str>,
    pub code: Option<&'static str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(error = ?cause, "internal error");
        }
        let status = self.status();
        let body = serde_json::to_vec(&self.body()).unwrap_or_default();
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(extra) = self.headers() {
            resp.headers_mut().extend(extra.clone());
        }
        resp
    }
}

/// The store being down is not the client's fault nor a bug of ours: a 503
/// the client may retry; the statement it interrupted was not committed.
impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        if crate::store::health::is_unavailable(&err) {
            tracing::warn!(error = %err, "store unavailable");
            return ApiError::store_unavailable();
        }
        ApiError::Internal(err.into())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
