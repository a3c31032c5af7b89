//! Server-sent events, split out of a byte stream without copying.
//!
//! Upstream reads do not line up with events: one read may hold several
//! events or half of one. [`EventBuffer`] collects bytes and hands out each
//! complete event (terminated by a blank line) as a slice of the same buffer.

use bytes::{Bytes, BytesMut};

#[derive(Default)]
pub struct EventBuffer {
    /// The latest read while it is consumed whole: events are cut out of it
    /// without copying (the usual case: each read ends on an event boundary).
    fresh: Bytes,
    /// Bytes of an event split across reads, collected by copying.
    buf: BytesMut,
}

impl EventBuffer {
    pub fn push(&mut self, chunk: Bytes) {
        if self.buf.is_empty() && self.fresh.is_empty() {
            self.fresh = chunk;
        } else {
            self.spill();
            self.buf.extend_from_slice(&chunk);
        }
    }

    /// The next complete event, blank-line terminator included.
    pub fn next_event(&mut self) -> Option<Bytes> {
        if !self.fresh.is_empty() {
            if let Some(end) = event_end(&self.fresh) {
                return Some(self.fresh.split_to(end));
            }
            // An unfinished event: its rest comes with a later read.
            self.spill();
            return None;
        }
        let end = event_end(&self.buf)?;
        Some(self.buf.split_to(end).freeze())
    }

    /// Whatever is left when the upstream closes (an unterminated event).
    pub fn take_rest(&mut self) -> Option<Bytes> {
        self.spill();
        (!self.buf.is_empty()).then(|| self.buf.split().freeze())
    }

    /// Moves the unread part of `fresh` into `buf`, ahead of what comes next.
    fn spill(&mut self) {
        if !self.fresh.is_empty() {
            self.buf.extend_from_slice(&self.fresh);
            self.fresh = Bytes::new();
        }
    }
}

/// Index just past the first blank line (`\n\n`, `\r\n\r\n` or `\r\r`).
fn event_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(pos) = memchr::memchr2(b'\n', b'\r', &buf[i..]) {
        let at = i + pos;
        let rest = &buf[at..];
        if rest.starts_with(b"\n\n") || rest.starts_with(b"\r\r") {
            return Some(at + 2);
        }
        if rest.starts_with(b"\r\n\r\n") {
            return Some(at + 4);
        }
        i = at + 1;
    }
    None
}

/// The `data:` payload of an event (multi-line data joined by `\n`).
pub fn data_of(event: &[u8]) -> Option<std::borrow::Cow<'_, [u8]>> {
    let mut found: Option<std::borrow::Cow<'_, [u8]>> = None;
    // memchr finds line ends a word at a time; this runs on every streamed event.
    let mut start = 0;
    while start < event.len() {
        let end = memchr::memchr(b'\n', &event[start..]).map_or(event.len(), |i| start + i);
        let line = &event[start..end];
        start = end + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(rest) = line.strip_prefix(b"data:") {
            let rest = rest.strip_prefix(b" ").unwrap_or(rest);
            found = Some(match found {
                None => std::borrow::Cow::Borrowed(rest),
                Some(prev) => {
                    let mut joined = prev.into_owned();
                    joined.push(b'\n');
                    joined.extend_from_slice(rest);
                    std::borrow::Cow::Owned(joined)
                }
            });
        }
    }
    found
}

pub fn is_done(data: &[u8]) -> bool {
    data.trim_ascii() == b"[DONE]"
}

/// An error event in OpenAI's shape (or, for a Messages API stream,
/// Anthropic's), for failures after the 200 was sent.
pub fn error_event(anthropic: bool, message: &str, code: &str) -> Bytes {
    if anthropic {
        let kind = if code == "upstream_timeout" {
            "timeout_error"
        } else {
            "api_error"
        };
        let body = crate::api::anthropic::error_body(kind, message);
        return Bytes::from(format!("event: error\ndata: {body}\n\n"));
    }
    let body = serde_json::json!({"error": {"message": message, "type": "upstream_error", "param": null, "code": code}});
    Bytes::from(format!("data: {body}\n\n"))
}

/// Whether the payload is the Messages API's last event, `message_stop`.
pub fn is_message_stop(data: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Kind<'a> {
        #[serde(rename = "type", borrow)]
        kind: Option<std::borrow::Cow<'a, str>>,
    }
    // Only the few events that mention it are parsed.
    memchr::memmem::find(data, b"message_stop").is_some()
        && serde_json::from_slice::<Kind<'_>>(data)
            .is_ok_and(|k| k.kind.as_deref() == Some("message_stop"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_reads() {
        let mut b = EventBuffer::default();
        b.push(Bytes::from_static(b"data: {\"a\""));
        assert!(b.next_event().is_none());
        b.push(Bytes::from_static(b":1}\n\ndata: [DONE]\n\n"));
        assert_eq!(&b.next_event().unwrap()[..], b"data: {\"a\":1}\n\n");
        let done = b.next_event().unwrap();
        assert!(is_done(&data_of(&done).unwrap()));
        assert!(b.next_event().is_none());
        assert!(b.take_rest().is_none());
    }

    #[test]
    fn a_read_with_whole_events_and_part_of_the_next() {
        let mut b = EventBuffer::default();
        b.push(Bytes::from_static(b"data: 1\n\ndata: 2\n\ndata: 3"));
        assert_eq!(&b.next_event().unwrap()[..], b"data: 1\n\n");
        assert_eq!(&b.next_event().unwrap()[..], b"data: 2\n\n");
        assert!(b.next_event().is_none());
        b.push(Bytes::from_static(b"3\n\ndata: 4\n\n"));
        assert_eq!(&b.next_event().unwrap()[..], b"data: 33\n\n");
        assert_eq!(&b.next_event().unwrap()[..], b"data: 4\n\n");
        assert!(b.next_event().is_none());
        b.push(Bytes::from_static(b"data: 5"));
        assert_eq!(&b.take_rest().unwrap()[..], b"data: 5");
        assert!(b.take_rest().is_none());
    }

    #[test]
    fn crlf_events_and_named_events() {
        let mut b = EventBuffer::default();
        b.push(Bytes::from_static(
            b"event: response.completed\r\ndata: {\"x\":1}\r\n\r\nrest",
        ));
        let e = b.next_event().unwrap();
        assert_eq!(&data_of(&e).unwrap()[..], b"{\"x\":1}");
        assert_eq!(&b.take_rest().unwrap()[..], b"rest");
    }
}
