//! Which headers cross between the client and an upstream, in each direction.

use axum::http::{HeaderMap, HeaderName};

/// Headers never copied between the two sides: hop-by-hop ones, the caller's
/// credentials, and lengths the server recomputes.
fn is_dropped_header(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "authorization"
            | "x-api-key"
            | "host"
            | "content-length"
            | "transfer-encoding"
            | "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "upgrade"
            | "cookie"
            | "set-cookie"
            | "accept-encoding"
            | "content-encoding"
    ) || name.as_str().starts_with("x-promptgate-")
}

/// The client's headers worth forwarding upstream, in a new map.
pub fn forwardable_headers(from: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(from.len());
    for (name, value) in from {
        if !is_dropped_header(name) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// Copies an upstream answer's headers onto ours, except those that describe
/// the upstream's own connection (our server sets its own).
pub fn copy_response_headers(from: &HeaderMap, to: &mut HeaderMap) {
    for (name, value) in from {
        if !matches!(
            name.as_str(),
            "content-length"
                | "transfer-encoding"
                | "connection"
                | "keep-alive"
                | "set-cookie"
                | "date"
                | "server"
        ) {
            to.insert(name.clone(), value.clone());
        }
    }
}
