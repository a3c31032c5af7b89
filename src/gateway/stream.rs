//! The stream tee: upstream SSE bytes go to the client as they arrive, while
//! the proxy watches them for usage, time to first token and (when a later
//! stage needs them) the answer's chunks.
//!
//! Each complete event is forwarded as soon as its terminating blank line has
//! arrived; nothing waits for the rest of the answer. Events that arrive
//! together (a burst already read from the upstream socket) leave in one write. The usage-only chunk the
//! proxy asked for on the client's behalf is removed again when the client did
//! not ask for it. What happens at the end (the record, the cache, scores) is
//! the [`StreamHooks`]' business, called exactly once — also when the client
//! goes away, in which case dropping the stream drops the upstream connection,
//! which cancels the upstream request.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use serde_json::Value;
use tokio::time::{Instant, Sleep};

use crate::api::usage::{self, Usage};
use crate::providers::{BodyStream, UpstreamError};

use super::record::Outcome;
use super::sse::{self, EventBuffer};
use super::usage_member::{has_usage_object, without_null_usage};

/// What the stream has seen so far.
#[derive(Default)]
pub struct Seen {
    pub usage: Option<Usage>,
    /// The data payloads, unparsed (refcounted slices of what was sent).
    pub data: Vec<Bytes>,
    pub ttft: Option<Duration>,
}

impl Seen {
    /// The JSON payloads, parsed on demand (only at the end, only when needed).
    pub fn chunks(&self) -> Vec<Value> {
        self.data
            .iter()
            .filter_map(|d| serde_json::from_slice(d).ok())
            .collect()
    }
}

pub struct StreamEnd {
    pub outcome: Outcome,
    pub error: Option<String>,
    pub seen: Seen,
}

/// What the `: promptgate {…}` comment before `[DONE]` tells the client
/// (fields in alphabetical order, absent ones left out). A typed struct, not a
/// JSON map: it is written for every stream, and a map cost a dozen
/// allocations each time.
#[derive(Debug, Default, serde::Serialize)]
pub struct TrailerFacts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grounding: Option<GroundingFacts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "trailer_usage"
    )]
    pub usage: Option<Usage>,
}

#[derive(Debug, serde::Serialize)]
pub struct GroundingFacts {
    pub flagged: bool,
    pub score: f64,
    pub threshold: f64,
}

/// The trailer's `usage`: the three counts a client reconciles against.
fn trailer_usage<S: serde::Serializer>(usage: &Option<Usage>, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    let Some(u) = usage else {
        return s.serialize_none();
    };
    let mut out = s.serialize_struct("Usage", 3)?;
    out.serialize_field("cached_tokens", &u.cached_tokens)?;
    out.serialize_field("completion_tokens", &u.completion_tokens)?;
    out.serialize_field("prompt_tokens", &u.prompt_tokens)?;
    out.end()
}

pub trait StreamHooks: Send + 'static {
    /// Called once, just before `[DONE]`: facts for the `: promptgate {…}` comment.
    fn trailer_facts(&mut self, seen: &Seen) -> TrailerFacts;
    /// Called exactly once, when the stream ends for any reason.
    fn end(self: Box<Self>, end: StreamEnd);
}

pub struct TeeStream {
    upstream: BodyStream,
    events: EventBuffer,
    out: VecDeque<Bytes>,
    idle: Pin<Box<Sleep>>,
    idle_limit: Duration,
    /// When the upstream last sent bytes; the idle timer is re-armed from it
    /// only when it fires, not on every chunk.
    last_data: Instant,
    /// What [`TeeStream::prime`] gathered, handed out by the first poll.
    primed: Option<Option<Bytes>>,
    started: std::time::Instant,
    /// Drop the `choices: []` usage chunk (the client did not ask for usage).
    strip_usage_chunk: bool,
    seen: Seen,
    /// `[DONE]` (or the Responses API's final event) arrived: the answer is complete.
    complete: bool,
    /// `None` once the stream has ended and the hooks have run.
    hooks: Option<Box<dyn StreamHooks>>,
    finished: bool,
    /// A Messages API stream: it ends with `message_stop` (the trailer goes
    /// before it), and failures are Anthropic `error` events.
    pub anthropic: bool,
}

impl TeeStream {
    pub fn new(
        upstream: BodyStream,
        hooks: Box<dyn StreamHooks>,
        started: std::time::Instant,
        idle_limit: Duration,
        strip_usage_chunk: bool,
    ) -> TeeStream {
        TeeStream {
            upstream,
            events: EventBuffer::default(),
            out: VecDeque::new(),
            idle: Box::pin(tokio::time::sleep(idle_limit)),
            idle_limit,
            last_data: Instant::now(),
            primed: None,
            started,
            strip_usage_chunk,
            seen: Seen::default(),
            complete: false,
            hooks: Some(hooks),
            finished: false,
            anthropic: false,
        }
    }

    /// Looks at each complete event; queues the ones the client should see.
    fn drain_events(&mut self) {
        while let Some(event) = self.events.next_event() {
            let Some(data) = sse::data_of(&event) else {
                self.out.push_back(event);
                continue;
            };
            if sse::is_done(&data) || (self.anthropic && sse::is_message_stop(&data)) {
                self.complete = true;
                let trailer = self.trailer();
                self.out.push_back(trailer);
                self.out.push_back(event);
                continue;
            }
            let payload = match &data {
                std::borrow::Cow::Borrowed(slice) => event.slice_ref(slice),
                std::borrow::Cow::Owned(v) => Bytes::copy_from_slice(v),
            };
            self.seen.data.push(payload);
            // Cheap pre-check: only events whose usage is an object are parsed
            // (with usage forced on, every chunk carries `"usage":null`).
            if has_usage_object(&data) {
                if let Some(found) = usage::from_chunk(&data) {
                    self.seen.usage = Some(found.after(self.seen.usage));
                    self.complete |= found.terminal;
                    if found.usage_only && self.strip_usage_chunk {
                        continue;
                    }
                    if found.terminal {
                        // The Responses API ends without `[DONE]`: the
                        // trailer follows its final event instead.
                        self.out.push_back(event);
                        let trailer = self.trailer();
                        self.out.push_back(trailer);
                        continue;
                    }
                }
            }
            if self.strip_usage_chunk {
                // Asked for usage on the client's behalf, the upstream adds
                // `"usage":null` to every chunk; the client did not ask for it.
                if let Some(cleaned) = without_null_usage(&event) {
                    self.out.push_back(cleaned);
                    continue;
                }
            }
            self.out.push_back(event);
        }
    }

    /// The SSE comment sent just before `[DONE]`: what the proxy knows about
    /// this request. Compliant SSE clients ignore comments.
    fn trailer(&mut self) -> Bytes {
        let facts = match self.hooks.as_mut() {
            Some(h) => h.trailer_facts(&self.seen),
            None => TrailerFacts::default(),
        };
        let mut comment = Vec::with_capacity(256);
        comment.extend_from_slice(b": promptgate ");
        if serde_json::to_writer(&mut comment, &facts).is_err() {
            // Unreachable for this struct; an empty object keeps the comment well formed.
            comment.truncate(b": promptgate ".len());
            comment.extend_from_slice(b"{}");
        }
        comment.extend_from_slice(b"\n\n");
        Bytes::from(comment)
    }

    /// Ends the stream with an error event, in the shape of the stream's API.
    fn fail(&mut self, outcome: Outcome, message: String, code: &str) {
        self.out
            .push_back(sse::error_event(self.anthropic, &message, code));
        self.finish(outcome, Some(message));
    }

    fn finish(&mut self, outcome: Outcome, error: Option<String>) {
        self.finished = true;
        if let Some(hooks) = self.hooks.take() {
            let seen = std::mem::take(&mut self.seen);
            hooks.end(StreamEnd {
                outcome,
                error,
                seen,
            });
        }
    }
}

impl Stream for TeeStream {
    type Item = Result<Bytes, std::convert::Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(first) = this.primed.take() {
            return Poll::Ready(first.map(Ok));
        }
        // Read everything the upstream has ready, then write it to the client
        // in one piece: one write (and one syscall) per burst, not per event.
        let mut got_bytes = false;
        while !this.finished {
            match this.upstream.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    if this.seen.ttft.is_none() {
                        this.first_bytes_at(std::time::Instant::now());
                    }
                    got_bytes = true;
                    this.events.push(chunk);
                    this.drain_events();
                }
                Poll::Ready(Some(Err(err))) => {
                    let message = err.to_string();
                    let code = if matches!(err, UpstreamError::Timeout) {
                        "upstream_timeout"
                    } else {
                        "upstream_unavailable"
                    };
                    this.fail(Outcome::UpstreamError, message, code);
                }
                Poll::Ready(None) => {
                    if let Some(rest) = this.events.take_rest() {
                        this.out.push_back(rest);
                    }
                    if this.complete {
                        this.finish(Outcome::Ok, None);
                    } else {
                        let message = "upstream closed the stream before it was complete";
                        this.fail(
                            Outcome::UpstreamError,
                            message.into(),
                            "upstream_unavailable",
                        );
                    }
                }
                Poll::Pending => {
                    if got_bytes {
                        this.last_data = Instant::now();
                    }
                    if this.out.is_empty() && this.idle_expired(cx) {
                        let message =
                            format!("upstream sent nothing for {} s", this.idle_limit.as_secs());
                        this.fail(Outcome::Timeout, message, "upstream_timeout");
                    }
                    break;
                }
            }
        }
        match this.out.len() {
            0 if this.finished => Poll::Ready(None),
            0 => Poll::Pending,
            1 => Poll::Ready(this.out.pop_front().map(Ok)),
            _ => {
                let total = this.out.iter().map(Bytes::len).sum::<usize>();
                let mut joined = bytes::BytesMut::with_capacity(total);
                for b in this.out.drain(..) {
                    joined.extend_from_slice(&b);
                }
                Poll::Ready(Some(Ok(joined.freeze())))
            }
        }
    }
}

impl TeeStream {
    /// Takes the bytes read before the response head (the stream's first
    /// event, see `first_event`) as if they had just arrived at `at`.
    pub fn read_ahead(&mut self, bytes: Bytes, at: std::time::Instant) {
        self.first_bytes_at(at);
        self.events.push(bytes);
        self.drain_events();
    }

    fn first_bytes_at(&mut self, at: std::time::Instant) {
        let ttft = at.saturating_duration_since(self.started);
        self.seen.ttft = Some(ttft);
        super::meters::call_meters().ttft.record(ttft.as_secs_f64());
    }

    /// Gathers what the upstream has ready before the response head is sent,
    /// so head and first events leave in one write. An upstream body that
    /// asks to be polled again at once (it woke its own task: it is gathering
    /// a burst, see `providers`) is given those turns; one that is waiting
    /// for its socket does not hold the head back.
    pub async fn prime(&mut self) {
        let first = std::future::poll_fn(|cx| {
            let woken = Arc::new(WakeFlag {
                woken: AtomicBool::new(false),
                task: cx.waker().clone(),
            });
            let waker = Waker::from(woken.clone());
            let mut inner = Context::from_waker(&waker);
            match Pin::new(&mut *self).poll_next(&mut inner) {
                Poll::Ready(item) => Poll::Ready(Some(item.map(|Ok(bytes)| bytes))),
                Poll::Pending if woken.woken.load(Ordering::Relaxed) => Poll::Pending,
                Poll::Pending => Poll::Ready(None),
            }
        })
        .await;
        self.primed = first;
    }

    /// Whether the upstream has been silent for the idle limit. The timer is
    /// armed for `last_data + limit`; when it fires early (data came since it
    /// was set) it is moved instead of reporting a timeout. Registers the waker.
    fn idle_expired(&mut self, cx: &mut Context<'_>) -> bool {
        loop {
            if self.idle.as_mut().poll(cx).is_pending() {
                return false;
            }
            let deadline = self.last_data + self.idle_limit;
            if deadline <= Instant::now() {
                return true;
            }
            self.idle.as_mut().reset(deadline);
        }
    }
}

impl Drop for TeeStream {
    fn drop(&mut self) {
        // Dropped before the end: the client closed the connection.
        if self.hooks.is_some() {
            self.finish(
                Outcome::ClientClosed,
                Some("client closed the stream".into()),
            );
        }
    }
}

/// A waker that notes whether it was woken, and passes the wake on.
struct WakeFlag {
    woken: AtomicBool,
    task: Waker,
}

impl Wake for WakeFlag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Relaxed);
        self.task.wake_by_ref();
    }
}

/// Frames that are already known (a cached answer), as a body stream with
/// the same trailer and end handling as a live one.
pub fn replayed(frames: Vec<Bytes>) -> BodyStream {
    Box::pin(futures_util::stream::iter(frames.into_iter().map(Ok)))
}
