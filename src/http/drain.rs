//! The rest of a refused request body, read and thrown away in the
//! background. A server that answers 413 and closes while the client is
//! still sending makes the kernel reset the connection, and the client sees
//! the reset instead of the 413; reading on (within bounds, as nginx's
//! lingering close does) lets the answer arrive.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap};
use http_body_util::BodyExt;

/// At most this much more is read before the connection is closed anyway.
const MAX_DRAIN_BYTES: u64 = 256 * 1024 * 1024;
/// At most this long in all…
const MAX_DRAIN_TIME: Duration = Duration::from_secs(30);
/// …and at most this long waiting for the next piece.
const MAX_DRAIN_IDLE: Duration = Duration::from_secs(5);

/// Drains `body` off the request path, unless the client waits for
/// `100 Continue` before sending it (reading would ask it to send).
pub fn in_background(headers: &HeaderMap, body: Body) {
    let waits_for_continue = headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if waits_for_continue {
        return;
    }
    tokio::spawn(async move {
        let _ = tokio::time::timeout(MAX_DRAIN_TIME, drain(body)).await;
    });
}

async fn drain(mut body: Body) {
    let mut read: u64 = 0;
    while read <= MAX_DRAIN_BYTES {
        match tokio::time::timeout(MAX_DRAIN_IDLE, body.frame()).await {
            Ok(Some(Ok(frame))) => {
                read += frame.data_ref().map_or(0, |d| d.len() as u64);
            }
            _ => return,
        }
    }
}
