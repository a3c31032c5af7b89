//! Before a stream's 200 goes out: its first event is read, so that an
//! upstream that says `text/event-stream` but sends an HTML page, garbage or
//! nothing at all is answered with a 502 (or a 504) the SDK can read, not a
//! 200 it cannot parse.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde::de::IgnoredAny;

use crate::api::ApiError;
use crate::providers::{BodyStream, Upstream};

use super::failures;
use super::sse::{self, EventBuffer};

/// More than this without one complete event is not an event stream.
const MAX_READ_AHEAD: usize = 1 << 20;

/// What was read before the response head: the first event and whatever
/// came with it, handed to the tee to be sent first.
pub struct ReadAhead {
    pub bytes: Bytes,
    /// When the first bytes arrived (time to first token).
    pub at: Instant,
}

/// Reads `body` up to its first event with data, by `deadline`. Comment
/// events before it (keep-alives) are let through.
pub async fn read(
    body: &mut BodyStream,
    deadline: tokio::time::Instant,
    upstream: &Upstream,
) -> Result<ReadAhead, ApiError> {
    let mut scan = EventBuffer::default();
    let mut chunks: Vec<Bytes> = Vec::with_capacity(1);
    let mut at = None;
    let mut len = 0;
    loop {
        let chunk = match tokio::time::timeout_at(deadline, body.next()).await {
            Err(_) => return Err(ApiError::UpstreamTimeout(upstream.timeout.as_secs())),
            Ok(Some(Ok(chunk))) => chunk,
            Ok(Some(Err(err))) => return Err(failures::failure(upstream, err)),
            Ok(None) if len == 0 => {
                return Err(ApiError::Upstream(format!(
                    "upstream `{}` closed the stream before its first event",
                    upstream.name
                )))
            }
            Ok(None) => return Err(not_sse(upstream)),
        };
        at.get_or_insert_with(Instant::now);
        len += chunk.len();
        scan.push(chunk.clone());
        chunks.push(chunk);
        while let Some(event) = scan.next_event() {
            match opening(&event) {
                Opening::Comment => continue,
                Opening::Data => {
                    return Ok(ReadAhead {
                        bytes: joined(chunks),
                        at: at.unwrap_or_else(Instant::now),
                    })
                }
                Opening::NotSse => return Err(not_sse(upstream)),
            }
        }
        if len > MAX_READ_AHEAD {
            return Err(not_sse(upstream));
        }
    }
}

fn not_sse(upstream: &Upstream) -> ApiError {
    ApiError::Upstream(format!(
        "upstream `{}` answered 200 with a body that is not an event stream of JSON events",
        upstream.name
    ))
}

/// The chunks as one piece; the usual single chunk without copying.
fn joined(mut chunks: Vec<Bytes>) -> Bytes {
    if chunks.len() == 1 {
        return chunks.pop().unwrap_or_default();
    }
    let mut out = BytesMut::with_capacity(chunks.iter().map(Bytes::len).sum());
    for c in &chunks {
        out.extend_from_slice(c);
    }
    out.freeze()
}

#[derive(Debug, PartialEq)]
enum Opening {
    /// Only comments (`: keep-alive`): wait for the next event.
    Comment,
    /// An event whose data is JSON (or `[DONE]`).
    Data,
    /// A line that is no SSE field, or data that is not JSON.
    NotSse,
}

fn opening(event: &[u8]) -> Opening {
    let fields = event
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.is_empty() && !l.starts_with(b":"));
    let mut any = false;
    for line in fields {
        any = true;
        let name = line.split(|b| *b == b':').next().unwrap_or_default();
        if !matches!(name, b"data" | b"event" | b"id" | b"retry") {
            return Opening::NotSse;
        }
    }
    if !any {
        return Opening::Comment;
    }
    match sse::data_of(event) {
        Some(d) if sse::is_done(&d) || serde_json::from_slice::<IgnoredAny>(&d).is_ok() => {
            Opening::Data
        }
        // `event:` or `id:` lines alone carry nothing to parse yet.
        None => Opening::Comment,
        Some(_) => Opening::NotSse,
    }
}

#[cfg(test)]
mod tests {
    use super::{opening, Opening};

    #[test]
    fn first_events_are_told_apart() {
        assert_eq!(opening(b"data: {\"id\":1}\n\n"), Opening::Data);
        assert_eq!(
            opening(b"event: response.created\r\ndata: {}\r\n\r\n"),
            Opening::Data
        );
        assert_eq!(opening(b"data: [DONE]\n\n"), Opening::Data);
        assert_eq!(opening(b": keep-alive\n\n"), Opening::Comment);
        assert_eq!(opening(b"retry: 100\n\n"), Opening::Comment);
        assert_eq!(opening(b"<!DOCTYPE html>\n<html>\n\n"), Opening::NotSse);
        assert_eq!(opening(b"data: <html>\n\n"), Opening::NotSse);
        assert_eq!(opening(b"data: {\"cut\":\n\n"), Opening::NotSse);
    }
}
