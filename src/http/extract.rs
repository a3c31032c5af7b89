//! Extractors that turn every rejection into an OpenAI-shaped error: the
//! caller (`Auth`), the admin caller (`Admin`), a size-limited body
//! (`LimitedBody`, its refusal drained by [`super::drain`]), JSON (`AppJson`) and query strings (`AppQuery`).

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;

pub use crate::api::parse_json;
use crate::api::ApiError;
use crate::auth::{presented_key, Caller};
use crate::state::AppState;

/// The authenticated caller (team key or admin key).
pub struct Auth(pub Caller);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let key = presented_key(&parts.headers).ok_or(ApiError::InvalidApiKey)?;
        state
            .keys
            .authenticate(key, state.store.as_ref())
            .await?
            .map(Auth)
            .ok_or(ApiError::InvalidApiKey)
    }
}

/// `T`, extracted for the admin key only. The errors come in the order of a
/// handler taking `Auth`, then `T`, then checking `require_admin`: no or an
/// unknown key is a 401, then `T`'s own rejection (bad path, query or body),
/// and only a well-formed request from a team key is a 403.
pub struct Admin<T = ()>(pub T);

impl<T, M> FromRequest<AppState, M> for Admin<T>
where
    T: FromRequest<AppState, M>,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let Auth(caller) = Auth::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let inner = T::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        caller
            .require_admin()
            .map_err(IntoResponse::into_response)?;
        Ok(Admin(inner))
    }
}

/// The request body, refused with 413 once it passes `limits.max_body_bytes`:
/// a declared `Content-Length` over the limit is refused before reading.
pub struct LimitedBody(pub Bytes);

impl FromRequest<AppState> for LimitedBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.config.limits.max_body_bytes;
        let (parts, body) = req.into_parts();
        read_limited(&parts.headers, body, limit)
            .await
            .map(LimitedBody)
    }
}

/// A model call's headers and size-limited body. Takes the request apart
/// instead of copying its headers (axum's `HeaderMap` extractor clones them).
pub struct HeadersAndBody(pub HeaderMap, pub Bytes);

impl FromRequest<AppState> for HeadersAndBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.config.limits.max_body_bytes;
        let (parts, body) = req.into_parts();
        let bytes = read_limited(&parts.headers, body, limit).await?;
        Ok(HeadersAndBody(parts.headers, bytes))
    }
}

/// Reads a body of at most `limit` bytes; a declared `Content-Length` over
/// the limit is refused before reading anything. A refused body is drained
/// in the background so that the client gets to read the 413.
async fn read_limited(
    headers: &HeaderMap,
    mut body: Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        super::drain::in_background(headers, body);
        return Err(ApiError::PayloadTooLarge { limit });
    }
    // Most bodies arrive in one piece: kept without copying.
    let mut first: Option<Bytes> = None;
    let mut rest = BytesMut::new();
    let mut len = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| {
            ApiError::invalid(format!("could not read the request body: {err}"), None)
        })?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        len += data.len();
        if len > limit {
            super::drain::in_background(headers, body);
            return Err(ApiError::PayloadTooLarge { limit });
        }
        match first.take() {
            None if rest.is_empty() => first = Some(data),
            prev => {
                if let Some(p) = prev {
                    // Once, with the declared length (at most `limit`).
                    rest.reserve(declared.map_or(0, |n| n as usize));
                    rest.extend_from_slice(&p);
                }
                rest.extend_from_slice(&data);
            }
        }
    }
    Ok(first.unwrap_or_else(|| rest.freeze()))
}

/// A JSON body whose errors name the offending field.
pub struct AppJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for AppJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let LimitedBody(bytes) = LimitedBody::from_request(req, state).await?;
        parse_json(&bytes).map(AppJson)
    }
}

/// Query parameters with OpenAI-shaped errors.
pub struct AppQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for AppQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| AppQuery(v))
            .map_err(|e| ApiError::invalid(e.body_text(), None))
    }
}
