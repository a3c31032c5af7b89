//! Server-sent events, split out of a byte stream without copying.
//!
//! Upstream reads do not line up with events: one read may hold several
//! events or half of one. [`EventBuffer`] collects bytes and hands out each
//! complete event (terminated by a blank line) as a slice of the same buffer.

use bytes::{Bytes, BytesMut};

#[derive(Default)]
pub struct EventBuffer {
    buf: BytesMut,
}

impl EventBuffer {
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete event, blank-line terminator included.
    pub fn next_event(&mut self) -> Option<Bytes> {
        let end = event_end(&self.buf)?;
        Some(self.buf.split_to(end).freeze())
    }

    /// Whatever is left when the upstream closes (an unterminated event).
    pub fn take_rest(&mut self) -> Option<Bytes> {
        (!self.buf.is_empty()).then(|| self.buf.split().freeze())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_reads() {
        let mut b = EventBuffer::default();
        b.push(b"data: {\"a\"");
        assert!(b.next_event().is_none());
        b.push(b":1}\n\ndata: [DONE]\n\n");
        assert_eq!(&b.next_event().unwrap()[..], b"data: {\"a\":1}\n\n");
        let done = b.next_event().unwrap();
        assert!(is_done(&data_of(&done).unwrap()));
        assert!(b.next_event().is_none());
        assert!(b.take_rest().is_none());
    }

    #[test]
    fn crlf_events_and_named_events() {
        let mut b = EventBuffer::default();
        b.push(b"event: response.completed\r\ndata: {\"x\":1}\r\n\r\nrest");
        let e = b.next_event().unwrap();
        assert_eq!(&data_of(&e).unwrap()[..], b"{\"x\":1}");
        assert_eq!(&b.take_rest().unwrap()[..], b"rest");
    }
}
