//! The stream tee: upstream SSE bytes go to the client as they arrive, while
//! the proxy watches them for usage and time to first token.
//!
//! Each complete event is forwarded as soon as its terminating blank line has
//! arrived; nothing waits for the rest of the answer. The usage-only chunk the
//! proxy asked for on the client's behalf is removed again when the client did
//! not ask for it, and the record is written when the stream ends — or when
//! the client goes away, in which case dropping the stream also drops the
//! upstream connection, which cancels the upstream request.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use tokio::time::{Instant, Sleep};

use crate::providers::{BodyStream, UpstreamError};

use super::record::{Outcome, Recorder};
use super::sse::{self, EventBuffer};
use super::usage::{self, Usage};

pub struct TeeStream {
    upstream: BodyStream,
    events: EventBuffer,
    out: VecDeque<Bytes>,
    idle: Pin<Box<Sleep>>,
    idle_limit: Duration,
    /// Drop the `choices: []` usage chunk (the client did not ask for usage).
    strip_usage_chunk: bool,
    usage: Option<Usage>,
    first_byte_seen: bool,
    /// `[DONE]` (or the Responses API's final event) arrived: the answer is complete.
    complete: bool,
    /// `None` once the record has been sent.
    recorder: Option<Recorder>,
    finished: bool,
}

impl TeeStream {
    pub fn new(
        upstream: BodyStream,
        recorder: Recorder,
        idle_limit: Duration,
        strip_usage_chunk: bool,
    ) -> TeeStream {
        TeeStream {
            upstream,
            events: EventBuffer::default(),
            out: VecDeque::new(),
            idle: Box::pin(tokio::time::sleep(idle_limit)),
            idle_limit,
            strip_usage_chunk,
            usage: None,
            first_byte_seen: false,
            complete: false,
            recorder: Some(recorder),
            finished: false,
        }
    }

    /// Looks at each complete event; queues the ones the client should see.
    fn drain_events(&mut self) {
        while let Some(event) = self.events.next_event() {
            let Some(data) = sse::data_of(&event) else {
                self.out.push_back(event);
                continue;
            };
            if sse::is_done(&data) {
                self.complete = true;
                self.out.push_back(self.trailer());
                self.out.push_back(event);
                continue;
            }
            // Cheap pre-check: only events that mention usage are parsed.
            if memchr::memmem::find(&data, b"\"usage\"").is_some() {
                if let Some(found) = usage::from_chunk(&data) {
                    self.usage = Some(found.usage);
                    self.complete |= found.terminal;
                    if found.usage_only && self.strip_usage_chunk {
                        continue;
                    }
                }
            }
            self.out.push_back(event);
        }
    }

    /// The SSE comment sent just before `[DONE]`: what the proxy knows about
    /// this request. Compliant SSE clients ignore comments.
    fn trailer(&self) -> Bytes {
        let id = self.recorder.as_ref().map(Recorder::id).unwrap_or_default();
        let mut facts = serde_json::json!({ "request_id": id });
        if let Some(u) = self.usage {
            facts["usage"] = serde_json::json!({
                "prompt_tokens": u.prompt_tokens,
                "completion_tokens": u.completion_tokens,
                "cached_tokens": u.cached_tokens,
            });
        }
        Bytes::from(format!(": promptgate {facts}\n\n"))
    }

    fn finish(&mut self, outcome: Outcome, error: Option<String>) {
        self.finished = true;
        if let Some(rec) = self.recorder.take() {
            rec.finish_now(200, outcome, self.usage, error);
        }
    }

    /// An error event in OpenAI's shape, for failures after the 200 was sent.
    fn error_event(message: &str, code: &str) -> Bytes {
        let body = serde_json::json!({"error": {"message": message, "type": "upstream_error", "param": null, "code": code}});
        Bytes::from(format!("data: {body}\n\n"))
    }
}

impl Stream for TeeStream {
    type Item = Result<Bytes, std::convert::Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(bytes) = this.out.pop_front() {
                return Poll::Ready(Some(Ok(bytes)));
            }
            if this.finished {
                return Poll::Ready(None);
            }
            match this.upstream.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    if !this.first_byte_seen {
                        this.first_byte_seen = true;
                        if let Some(rec) = this.recorder.as_mut() {
                            let ttft = rec.started().elapsed();
                            rec.set_ttft(ttft);
                        }
                    }
                    let deadline = Instant::now() + this.idle_limit;
                    this.idle.as_mut().reset(deadline);
                    this.events.push(&chunk);
                    this.drain_events();
                }
                Poll::Ready(Some(Err(err))) => {
                    let message = err.to_string();
                    let code = if matches!(err, UpstreamError::Timeout) {
                        "upstream_timeout"
                    } else {
                        "upstream_unavailable"
                    };
                    this.out.push_back(Self::error_event(&message, code));
                    this.finish(Outcome::UpstreamError, Some(message));
                }
                Poll::Ready(None) => {
                    if let Some(rest) = this.events.take_rest() {
                        this.out.push_back(rest);
                    }
                    if this.complete {
                        this.finish(Outcome::Ok, None);
                    } else {
                        let message = "upstream closed the stream before it was complete";
                        this.out
                            .push_back(Self::error_event(message, "upstream_unavailable"));
                        this.finish(Outcome::UpstreamError, Some(message.into()));
                    }
                }
                Poll::Pending => {
                    if this.idle.as_mut().poll(cx).is_ready() {
                        let message =
                            format!("upstream sent nothing for {} s", this.idle_limit.as_secs());
                        this.out
                            .push_back(Self::error_event(&message, "upstream_timeout"));
                        this.finish(Outcome::Timeout, Some(message));
                        continue;
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl Drop for TeeStream {
    fn drop(&mut self) {
        // Dropped before the end: the client closed the connection.
        if let Some(rec) = self.recorder.take() {
            rec.finish_now(
                200,
                Outcome::ClientClosed,
                self.usage,
                Some("client closed the stream".into()),
            );
        }
    }
}
