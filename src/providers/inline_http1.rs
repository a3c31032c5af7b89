//! Plain-HTTP/1.1 upstream connections polled by the task of the request
//! that uses them.
//!
//! Why not hyper's pooled client for `http://` upstreams: it runs every
//! connection in a task of its own and hands the response body to the caller
//! over a one-slot channel, so each chunk crosses between two tasks: a stream
//! of 22 SSE chunks costs 44 task switches, each a full turn of a connection
//! state machine. Here the request's task polls the connection itself
//! whenever it wants body bytes, so every chunk already in the socket buffer
//! is decoded in the same turn. Measured on one core shared with a fast
//! upstream, that is about 15 % less gateway CPU per stream; non-streamed
//! calls cost the same either way.
//!
//! Connections are kept in a per-upstream pool between requests (newest
//! first). Nobody polls an idle connection, so a checkout polls it once to
//! learn whether the server closed it meanwhile, and a sweep closes the ones
//! idle for longer than the idle timeout. A request that a reused connection
//! could not even send (it was closed under us) is sent again on a new one;
//! one that was sent is never repeated, as the upstream may have acted on it.
//!
//! HTTPS upstreams keep hyper's pooled client: there HTTP/2 (by ALPN) shares a
//! connection between requests, and TLS costs dwarf the hand-over.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{header, HeaderValue, Request, Response};
use futures_util::Stream;
use http_body_util::Full;
use hyper::body::{Body as _, Incoming};
use hyper::client::conn::http1::{Connection, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::body::{error_chain, UpstreamError};

type Conn = Connection<TokioIo<TcpStream>, Full<Bytes>>;

/// Connection attempts give up after this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle connections older than this are closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// At most this many idle connections are kept per upstream.
const MAX_IDLE: usize = 1024;

/// One live connection: the handle requests are sent on, and the connection
/// state machine that must be polled for anything to happen.
struct Link {
    send: SendRequest<Full<Bytes>>,
    conn: Conn,
}

impl Link {
    /// Polls the connection once without waiting: `false` when it has ended
    /// (closed by the server, or failed) or cannot take a request.
    fn still_usable(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        if Pin::new(&mut self.conn).poll(&mut cx).is_ready() {
            return false;
        }
        matches!(self.send.poll_ready(&mut cx), Poll::Ready(Ok(())))
    }
}

struct Idle {
    link: Link,
    since: Instant,
}

impl Idle {
    /// Not idle for too long, and still open.
    fn usable(&mut self) -> bool {
        self.since.elapsed() < IDLE_TIMEOUT && self.link.still_usable()
    }
}

/// Idle connections to one upstream (`host:port`).
pub struct InlinePool {
    upstream: String,
    authority: String,
    host_header: HeaderValue,
    idle: Mutex<Vec<Idle>>,
    /// Started with the first idle connection (from inside the runtime).
    sweep_started: std::sync::Once,
}

impl InlinePool {
    /// A pool of connections to `authority` (`host:port`); `host` is the
    /// `Host` header to send (the base URL's authority as written) and
    /// `upstream` names the upstream in errors.
    pub fn new(upstream: &str, authority: &str, host: &str) -> Arc<InlinePool> {
        Arc::new(InlinePool {
            upstream: upstream.to_owned(),
            authority: authority.to_owned(),
            host_header: HeaderValue::from_str(host)
                .unwrap_or_else(|_| HeaderValue::from_static("localhost")),
            idle: Mutex::new(Vec::new()),
            sweep_started: std::sync::Once::new(),
        })
    }

    /// Idle connections now held.
    #[cfg(test)]
    fn idle_count(&self) -> usize {
        self.idle.lock().map(|v| v.len()).unwrap_or(0)
    }

    /// Closes idle connections that timed out or that the server closed.
    fn sweep(&self) {
        let Ok(mut idle) = self.idle.lock() else {
            return;
        };
        idle.retain_mut(Idle::usable);
    }

    /// A usable idle connection, newest first.
    fn checkout(&self) -> Option<Link> {
        let mut idle = self.idle.lock().ok()?;
        while let Some(mut i) = idle.pop() {
            if i.usable() {
                return Some(i.link);
            }
        }
        None
    }

    fn checkin(self: &Arc<Self>, link: Link) {
        self.sweep_started.call_once(|| {
            let weak = Arc::downgrade(self);
            crate::periodic::spawn_every(IDLE_TIMEOUT / 3, move || {
                let pool = weak.upgrade()?;
                pool.sweep();
                Some(async {})
            });
        });
        let Ok(mut idle) = self.idle.lock() else {
            return;
        };
        if idle.len() < MAX_IDLE {
            idle.push(Idle {
                link,
                since: Instant::now(),
            });
        }
    }

    async fn connect(&self) -> Result<Link, UpstreamError> {
        let failed = |detail: String| UpstreamError::Connect {
            upstream: self.upstream.clone(),
            detail: format!("connection failed ({detail})"),
        };
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&self.authority))
            .await
            .map_err(|_| failed("connect timed out".into()))?
            .map_err(|e| failed(e.to_string()))?;
        // Without TCP_NODELAY small SSE frames wait for delayed ACKs (~40 ms).
        tcp.set_nodelay(true).map_err(|e| failed(e.to_string()))?;
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(|e| failed(error_chain(&e)))?;
        Ok(Link { send, conn })
    }

    /// Sends `request` (origin-form URI) and waits for the response head.
    /// The body that comes back drives the connection as it is read, and
    /// returns it to the pool once read to the end.
    pub async fn send(
        self: &Arc<Self>,
        mut request: Request<Full<Bytes>>,
    ) -> Result<Response<InlineBody>, UpstreamError> {
        request
            .headers_mut()
            .insert(header::HOST, self.host_header.clone());
        let (mut link, mut reused) = match self.checkout() {
            Some(link) => (link, true),
            None => (self.connect().await?, false),
        };
        loop {
            match self.exchange(&mut link, request).await {
                Ok(head) => return Ok(self.with_driven_body(head, link)),
                // Never written: the reused connection was closed under us.
                Err(Unsent(unsent)) if reused => {
                    request = *unsent;
                    link = self.connect().await?;
                    reused = false;
                }
                Err(e) => return Err(self.error(e)),
            }
        }
    }

    fn error(&self, e: Failure) -> UpstreamError {
        let detail = match e {
            Unsent(_) => "connection closed before the request was sent".to_owned(),
            Sent(e) => error_chain(&e),
        };
        UpstreamError::Connect {
            upstream: self.upstream.clone(),
            detail,
        }
    }

    /// Writes the request and reads the response head, polling the
    /// connection and the response future together.
    async fn exchange(
        &self,
        link: &mut Link,
        request: Request<Full<Bytes>>,
    ) -> Result<Response<Incoming>, Failure> {
        let mut response = std::pin::pin!(link.send.try_send_request(request));
        let conn = &mut link.conn;
        let mut conn_ended = false;
        poll_fn(|cx| {
            if !conn_ended && Pin::new(&mut *conn).poll(cx).is_ready() {
                // The response future now resolves (with an error) too.
                conn_ended = true;
            }
            response.as_mut().poll(cx)
        })
        .await
        .map_err(|mut e| match e.take_message() {
            Some(request) => Unsent(Box::new(request)),
            None => Sent(e.into_error()),
        })
    }

    fn with_driven_body(
        self: &Arc<Self>,
        head: Response<Incoming>,
        link: Link,
    ) -> Response<InlineBody> {
        head.map(|body| InlineBody {
            body,
            link: Some(link),
            pool: Arc::downgrade(self),
        })
    }
}

/// Why an exchange failed.
enum Failure {
    /// The request never left: it can be sent again.
    Unsent(Box<Request<Full<Bytes>>>),
    /// It was (maybe partly) sent; the error says what went wrong after.
    Sent(hyper::Error),
}
use Failure::{Sent, Unsent};

/// A response body that polls its connection as it is read. Read to the end,
/// it puts the connection back in the pool; dropped early, it closes it (which
/// tells the upstream to stop).
pub struct InlineBody {
    body: Incoming,
    /// `None` once the connection has ended or gone back to the pool.
    link: Option<Link>,
    pool: Weak<InlinePool>,
}

impl InlineBody {
    /// The body is complete: a connection that can take another request
    /// goes back to the pool.
    fn release(&mut self) {
        let Some(mut link) = self.link.take() else {
            return;
        };
        // The connection learns the body is done (and goes idle) when polled.
        if link.still_usable() {
            if let Some(pool) = self.pool.upgrade() {
                pool.checkin(link);
            }
        }
    }
}

impl Stream for InlineBody {
    type Item = Result<Bytes, UpstreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            // First let the connection read and decode: it hands the body
            // one chunk at a time, which the body then yields.
            if let Some(link) = &mut this.link {
                if Pin::new(&mut link.conn).poll(cx).is_ready() {
                    // Ended (cleanly or not); what the body still holds is
                    // read below, and an early end shows up as its error.
                    this.link = None;
                }
            }
            match Pin::new(&mut this.body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => return Poll::Ready(Some(Ok(data))),
                    Err(_trailers) => continue,
                },
                Poll::Ready(Some(Err(e))) => {
                    this.link = None;
                    return Poll::Ready(Some(Err(UpstreamError::Body(error_chain(&e)))));
                }
                Poll::Ready(None) => {
                    this.release();
                    return Poll::Ready(None);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, None)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures_util::StreamExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// How the test server treats a connection after each answer.
    #[derive(Clone, Copy)]
    enum AfterAnswer {
        KeepOpen,
        Close,
    }

    /// A bare HTTP/1.1 server answering `ok` to every request; counts the
    /// connections it accepts.
    async fn server(after: AfterAnswer) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        // Requests in these tests have no body: a head ends one.
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            buf.drain(..end + 4);
                            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                            if sock.write_all(answer).await.is_err() {
                                return;
                            }
                            if matches!(after, AfterAnswer::Close) {
                                return;
                            }
                        }
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                });
            }
        });
        (addr, accepted)
    }

    async fn get(pool: &Arc<InlinePool>) -> Result<Bytes, UpstreamError> {
        let request = Request::get("/x").body(Full::new(Bytes::new())).unwrap();
        let response = pool.send(request).await?;
        let mut body = response.into_body();
        let mut out = Vec::new();
        while let Some(chunk) = body.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(Bytes::from(out))
    }

    #[tokio::test]
    async fn a_connection_read_to_the_end_is_used_again() {
        let (addr, accepted) = server(AfterAnswer::KeepOpen).await;
        let pool = InlinePool::new("test", &addr, &addr);
        for _ in 0..5 {
            assert_eq!(get(&pool).await.unwrap(), "ok");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        assert_eq!(pool.idle_count(), 1);
    }

    #[tokio::test]
    async fn a_connection_the_server_closed_while_idle_is_replaced() {
        let (addr, accepted) = server(AfterAnswer::Close).await;
        let pool = InlinePool::new("test", &addr, &addr);
        for _ in 0..3 {
            assert_eq!(get(&pool).await.unwrap(), "ok");
            // Let the server's close arrive before the next checkout.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_body_dropped_early_closes_its_connection() {
        let (addr, accepted) = server(AfterAnswer::KeepOpen).await;
        let pool = InlinePool::new("test", &addr, &addr);
        let request = Request::get("/x").body(Full::new(Bytes::new())).unwrap();
        drop(pool.send(request).await.unwrap());
        assert_eq!(pool.idle_count(), 0);
        assert_eq!(get(&pool).await.unwrap(), "ok");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn nothing_listening_is_a_connect_error_naming_the_upstream() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        drop(listener);
        let pool = InlinePool::new("local-vllm", &addr, &addr);
        match get(&pool).await {
            Err(e @ UpstreamError::Connect { .. }) => {
                assert!(e.to_string().contains("local-vllm"), "{e}")
            }
            Err(e) => panic!("wrong error: {e}"),
            Ok(_) => panic!("answered with nothing listening"),
        }
    }
}
