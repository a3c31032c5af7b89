//! `https://` upstreams: hyper's pooled client (HTTP/1.1, and HTTP/2 by ALPN
//! where offered), TLS by rustls with the Mozilla root set.
//!
//! This client reads each connection on a task of its own and hands a body
//! over one chunk per turn of the scheduler, even when it has read a whole
//! burst of events at once. Event streams from it are therefore read through
//! [`Gathered`], which waits those few turns so that a burst reaches the
//! client in one write; bodies read from their own connection (the inline
//! pool, the mock) have nothing more until the socket has, and need no such
//! wait.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::Request;
use futures_util::{Stream, TryStreamExt};
use http_body_util::{BodyExt, Full};

use super::body::{error_chain, is_event_stream, BodyStream, UpstreamError, UpstreamResponse};

/// The upstream HTTP client: one connection pool for every `https://` upstream.
pub type HttpClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
>;

/// The shared HTTP client.
pub fn http_client() -> HttpClient {
    let mut tcp = hyper_util::client::legacy::connect::HttpConnector::new();
    // Without TCP_NODELAY small SSE frames wait for delayed ACKs (~40 ms).
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(Some(Duration::from_secs(10)));
    tcp.enforce_http(false);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(tcp);
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_timer(hyper_util::rt::TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(1024)
        .build(connector)
}

/// Sends one request on the pooled client.
pub async fn send(
    client: &HttpClient,
    upstream: &str,
    request: Request<Full<Bytes>>,
) -> Result<UpstreamResponse, UpstreamError> {
    let resp = client
        .request(request)
        .await
        .map_err(|e| UpstreamError::Connect {
            upstream: upstream.to_owned(),
            detail: describe(&e),
        })?;
    let (parts, body) = resp.into_parts();
    let body: BodyStream = Box::pin(
        body.into_data_stream()
            .map_err(|e| UpstreamError::Body(error_chain(&e))),
    );
    Ok(if is_event_stream(&parts.headers) {
        UpstreamResponse::new(parts, Gathered::new(body))
    } else {
        UpstreamResponse::new(parts, body)
    })
}

/// A client error in a few words: what failed and why (the source chain),
/// never the URL (it may carry a query string).
fn describe(err: &hyper_util::client::legacy::Error) -> String {
    let chain = error_chain(err);
    if err.is_connect() {
        format!("connection failed ({chain})")
    } else {
        chain
    }
}

/// Bounds on gathering chunks: a burst is passed on in one piece, but never
/// held for long nor grown without limit.
const MAX_GATHER_TURNS: u8 = 64;
/// Quiet turns after which a burst is taken to be over.
const QUIET_TURNS: u8 = 5;
const MAX_GATHER_BYTES: usize = 32 * 1024;

/// A body whose chunks are gathered over a few turns of the scheduler and
/// passed on as one per burst.
pub struct Gathered {
    inner: BodyStream,
    held: Vec<Bytes>,
    held_bytes: usize,
    /// Turns of the scheduler given up in a row to gather more chunks. Starts
    /// at one: the connection task needs a turn to hand over even the first
    /// chunk it has already read.
    gathering: u8,
    /// Turns in a row, while gathering, that brought nothing.
    quiet_turns: u8,
    /// Quiet turns that end a burst: [`QUIET_TURNS`] while bursts bring
    /// several chunks, one while chunks come alone (a model sending tokens
    /// one by one), where waiting longer would only cost CPU.
    quiet_limit: u8,
    /// The end (`None`) or a failure met while chunks were held: passed on
    /// right after them.
    after: Option<Option<UpstreamError>>,
}

impl Gathered {
    fn new(inner: BodyStream) -> Gathered {
        Gathered {
            inner,
            held: Vec::new(),
            held_bytes: 0,
            gathering: 1,
            quiet_turns: 0,
            quiet_limit: QUIET_TURNS,
            after: None,
        }
    }

    /// Hands on what the burst gathered, and starts the next one.
    fn release(&mut self) -> Bytes {
        let chunks = std::mem::take(&mut self.held);
        self.quiet_limit = if chunks.len() > 1 { QUIET_TURNS } else { 1 };
        self.held_bytes = 0;
        self.gathering = 0;
        self.quiet_turns = 0;
        if chunks.len() == 1 {
            return chunks.into_iter().next().unwrap_or_default();
        }
        let mut joined = bytes::BytesMut::with_capacity(chunks.iter().map(Bytes::len).sum());
        for chunk in &chunks {
            joined.extend_from_slice(chunk);
        }
        joined.freeze()
    }
}

impl Stream for Gathered {
    type Item = Result<Bytes, UpstreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(after) = this.after.take() {
            return Poll::Ready(after.map(Err));
        }
        let mut got_chunk = false;
        loop {
            match this.inner.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    got_chunk = true;
                    this.held_bytes += chunk.len();
                    this.held.push(chunk);
                }
                Poll::Ready(end) => {
                    let failure = end.and_then(Result::err);
                    if this.held.is_empty() {
                        return Poll::Ready(failure.map(Err));
                    }
                    this.after = Some(failure);
                    return Poll::Ready(Some(Ok(this.release())));
                }
                Poll::Pending => {
                    if got_chunk {
                        this.quiet_turns = 0;
                    } else if this.gathering > 0 {
                        this.quiet_turns += 1;
                    }
                    let in_burst = got_chunk || this.gathering > 0;
                    if in_burst
                        && this.quiet_turns < this.quiet_limit
                        && this.gathering < MAX_GATHER_TURNS
                        && this.held_bytes < MAX_GATHER_BYTES
                    {
                        this.gathering += 1;
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                    if this.held.is_empty() {
                        this.gathering = 0;
                        this.quiet_turns = 0;
                        return Poll::Pending;
                    }
                    return Poll::Ready(Some(Ok(this.release())));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    /// A body that hands over one chunk per poll, then waits a turn: what
    /// the pooled client does with a burst it read at once.
    fn handed_over(chunks: &[&'static str]) -> BodyStream {
        let mut items: std::collections::VecDeque<Bytes> = chunks
            .iter()
            .map(|c| Bytes::from_static(c.as_bytes()))
            .collect();
        let mut ready = false;
        Box::pin(futures_util::stream::poll_fn(move |cx| {
            if items.is_empty() {
                return Poll::Ready(None);
            }
            if ready {
                ready = false;
                return Poll::Ready(items.pop_front().map(Ok));
            }
            ready = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }))
    }

    #[tokio::test]
    async fn a_burst_handed_over_chunk_by_chunk_arrives_in_one_piece() {
        let body = Gathered::new(handed_over(&["data: 1\n\n", "data: 2\n\n", "data: 3\n\n"]));
        let got: Vec<Bytes> = body.map(|r| r.unwrap()).collect().await;
        assert_eq!(
            got,
            vec![Bytes::from_static(b"data: 1\n\ndata: 2\n\ndata: 3\n\n")]
        );
    }

    #[tokio::test]
    async fn a_failure_after_held_chunks_comes_after_them() {
        let inner: BodyStream = Box::pin(futures_util::stream::iter(vec![
            Ok(Bytes::from_static(b"data: 1\n\n")),
            Err(UpstreamError::Body("reset".into())),
        ]));
        let mut body = Gathered::new(inner);
        assert_eq!(
            body.next().await.unwrap().unwrap(),
            Bytes::from_static(b"data: 1\n\n")
        );
        assert!(matches!(
            body.next().await,
            Some(Err(UpstreamError::Body(_)))
        ));
        assert!(body.next().await.is_none());
    }
}
