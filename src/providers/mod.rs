//! Upstreams: where a request goes and how it gets there.
//!
//! An [`Upstream`] is either an OpenAI-compatible server reached over HTTP
//! (OpenAI, vLLM, Ollama, a self-hosted model) or the built-in [`mock`],
//! called in process. Both answer with the same [`UpstreamResponse`]: status,
//! headers and a body stream, so the gateway treats them alike.

mod inline_http1;
pub mod mock;
mod routes;

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use futures_util::{Stream, StreamExt, TryStreamExt};
use http_body_util::{BodyExt, Full};
use secrecy::{ExposeSecret, SecretString};
use tower::ServiceExt;

use crate::config::UpstreamConfig;
use inline_http1::InlinePool;
pub use routes::{Route, Routes};

pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, UpstreamError>> + Send>>;

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("could not reach upstream `{upstream}`: {detail}")]
    Connect { upstream: String, detail: String },
    #[error("upstream did not answer in time")]
    Timeout,
    #[error("upstream connection failed mid-answer: {0}")]
    Body(String),
}

pub struct UpstreamResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: BodyStream,
    /// The body's chunks are handed over by another task, one per turn of
    /// the scheduler (hyper's pooled client): a reader that waits a few turns
    /// gathers the rest of a burst already read from the socket.
    pub handed_over: bool,
}

impl UpstreamResponse {
    fn new(
        head: axum::http::response::Parts,
        body: impl Stream<Item = Result<Bytes, UpstreamError>> + Send + 'static,
        handed_over: bool,
    ) -> UpstreamResponse {
        UpstreamResponse {
            status: head.status,
            headers: head.headers,
            body: Box::pin(body),
            handed_over,
        }
    }
}

enum Transport {
    /// `http://`: connections polled by the requests' own tasks.
    PlainHttp {
        api_key: Option<SecretString>,
        pool: Arc<InlinePool>,
        /// The base URL's path (e.g. `/v1`), prefixed to every request path.
        base_path: String,
        /// The model endpoints' origin-form URIs, parsed once.
        model_uris: Vec<(&'static str, Uri)>,
    },
    /// `https://`: hyper's pooled client (HTTP/2 by ALPN where offered).
    Http {
        base_url: String,
        /// The upstream's credential. Sent only to the upstream; never logged
        /// (`SecretString`'s Debug is redacted) and never echoed to clients.
        api_key: Option<SecretString>,
        /// Boxed: the pooled client is large and cheap to share.
        client: Box<HttpClient>,
        /// The model endpoints' URIs, parsed once per upstream.
        model_uris: Vec<(&'static str, Uri)>,
    },
    Mock(axum::Router),
}

pub struct Upstream {
    pub name: String,
    pub patterns: Vec<String>,
    /// No answer (or, for a stream, no chunk) for this long → 504.
    pub timeout: Duration,
    transport: Transport,
}

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

/// Copies the headers worth forwarding from `from` into a new map.
pub fn forwardable_headers(from: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(from.len());
    for (name, value) in from {
        if !is_dropped_header(name) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

impl Upstream {
    pub fn from_config(cfg: &UpstreamConfig, client: &HttpClient) -> Upstream {
        let api_key = cfg
            .api_key_env
            .as_ref()
            .and_then(|var| std::env::var(var).ok())
            .map(SecretString::from);
        let transport = match &cfg.base_url {
            Some(base) => {
                let base = base.trim_end_matches('/');
                match plain_http_parts(base) {
                    Some(PlainHttp {
                        connect_to,
                        host,
                        base_path,
                    }) => Transport::PlainHttp {
                        model_uris: model_uris(&base_path),
                        pool: InlinePool::new(&cfg.name, &connect_to, &host),
                        base_path,
                        api_key,
                    },
                    None => Transport::Http {
                        model_uris: model_uris(base),
                        base_url: base.to_owned(),
                        api_key,
                        client: Box::new(client.clone()),
                    },
                }
            }
            None => Transport::Mock(mock::router()),
        };
        Upstream {
            name: cfg.name.clone(),
            patterns: cfg.models.clone(),
            timeout: Duration::from_secs(cfg.timeout_s),
            transport,
        }
    }

    /// The built-in mock, serving `mock-*`.
    pub fn builtin_mock() -> Upstream {
        Upstream {
            name: crate::config::MOCK_UPSTREAM.into(),
            patterns: vec!["mock-*".into()],
            timeout: Duration::from_secs(300),
            transport: Transport::Mock(mock::router()),
        }
    }

    pub fn is_mock(&self) -> bool {
        matches!(self.transport, Transport::Mock(_))
    }

    /// Sends one request; `path` is relative to the upstream's base URL
    /// (e.g. `/chat/completions?x=1`). Waits at most `timeout` for the headers.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let call = self.dispatch(method, path, headers, body);
        match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(UpstreamError::Timeout),
        }
    }

    /// The URI of `path` on this upstream: a model endpoint's, parsed once,
    /// or `prefix` + `path` parsed now.
    fn uri(
        &self,
        model_uris: &[(&'static str, Uri)],
        prefix: &str,
        path: &str,
    ) -> Result<Uri, UpstreamError> {
        if let Some((_, uri)) = model_uris.iter().find(|(p, _)| *p == path) {
            return Ok(uri.clone());
        }
        format!("{prefix}{path}")
            .parse::<Uri>()
            .map_err(|e| UpstreamError::Connect {
                upstream: self.name.clone(),
                detail: format!("invalid upstream URL: {e}"),
            })
    }

    async fn dispatch(
        &self,
        method: Method,
        path: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<UpstreamResponse, UpstreamError> {
        match &self.transport {
            Transport::PlainHttp {
                api_key,
                pool,
                base_path,
                model_uris,
            } => {
                let uri = self.uri(model_uris, base_path, path)?;
                let request = build_request(method, uri, headers, api_key.as_ref(), body);
                let (parts, body) = pool.send(request).await?.into_parts();
                Ok(UpstreamResponse::new(parts, body, false))
            }
            Transport::Http {
                base_url,
                api_key,
                client,
                model_uris,
            } => {
                let uri = self.uri(model_uris, base_url, path)?;
                let request = build_request(method, uri, headers, api_key.as_ref(), body);
                let resp = client
                    .request(request)
                    .await
                    .map_err(|e| UpstreamError::Connect {
                        upstream: self.name.clone(),
                        detail: describe(&e),
                    })?;
                let (parts, body) = resp.into_parts();
                let body = body
                    .into_data_stream()
                    .map_err(|e| UpstreamError::Body(error_chain(&e)));
                Ok(UpstreamResponse::new(parts, body, true))
            }
            Transport::Mock(router) => {
                let mut req = axum::http::Request::builder().method(method).uri(path);
                if let Some(h) = req.headers_mut() {
                    *h = headers;
                }
                let req =
                    req.body(axum::body::Body::from(body))
                        .map_err(|e| UpstreamError::Connect {
                            upstream: self.name.clone(),
                            detail: e.to_string(),
                        })?;
                let resp = match router.clone().oneshot(req).await {
                    Ok(resp) => resp,
                    Err(never) => match never {},
                };
                let (parts, body) = resp.into_parts();
                let body = body
                    .into_data_stream()
                    .map(|r| r.map_err(|e| UpstreamError::Body(e.to_string())));
                Ok(UpstreamResponse::new(parts, body, false))
            }
        }
    }
}

/// The request to send upstream, with the upstream's own credential.
fn build_request(
    method: Method,
    uri: Uri,
    mut headers: HeaderMap,
    api_key: Option<&SecretString>,
    body: Bytes,
) -> axum::http::Request<Full<Bytes>> {
    if let Some(key) = api_key {
        let value = format!("Bearer {}", key.expose_secret());
        if let Ok(mut v) = HeaderValue::from_str(&value) {
            v.set_sensitive(true);
            headers.insert(header::AUTHORIZATION, v);
        }
    }
    let mut request = axum::http::Request::new(Full::new(body));
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    request
}

/// The model endpoints' URIs under `prefix` (a base URL, or the path of one).
fn model_uris(prefix: &str) -> Vec<(&'static str, Uri)> {
    crate::gateway::Endpoint::ALL
        .iter()
        .filter_map(|e| {
            let uri = format!("{prefix}{}", e.path());
            Some((e.path(), uri.parse::<Uri>().ok()?))
        })
        .collect()
}

/// The parts of an `http://` base URL.
#[derive(Debug, PartialEq)]
struct PlainHttp {
    /// `host:port` to connect to.
    connect_to: String,
    /// The authority as written, for the `Host` header.
    host: String,
    /// The path, without a trailing `/` (may be empty).
    base_path: String,
}

/// Splits an `http://` base URL; `None` for any other scheme.
fn plain_http_parts(base: &str) -> Option<PlainHttp> {
    let uri = base.parse::<Uri>().ok()?;
    if uri.scheme_str() != Some("http") {
        return None;
    }
    let authority = uri.authority()?;
    let host = authority.host();
    let port = authority.port_u16().unwrap_or(80);
    let connect_to = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    Some(PlainHttp {
        connect_to,
        host: authority.as_str().to_owned(),
        base_path: uri.path().trim_end_matches('/').to_owned(),
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

/// The messages of an error and its sources, joined by `: `.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let msg = e.to_string();
        // hyper repeats the inner message in some outer ones.
        if !out.ends_with(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        cur = e.source();
    }
    out
}

/// The upstream HTTP client: hyper's pooled client, HTTP/1.1 and (over TLS,
/// by ALPN) HTTP/2, TLS by rustls with the Mozilla root set.
pub type HttpClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
>;

/// The shared HTTP client: one connection pool for every upstream.
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

#[cfg(test)]
mod tests {
    use super::{plain_http_parts, PlainHttp};

    #[test]
    fn plain_http_base_urls_split_into_address_host_and_path() {
        let parts = |connect_to: &str, host: &str, base_path: &str| {
            Some(PlainHttp {
                connect_to: connect_to.into(),
                host: host.into(),
                base_path: base_path.into(),
            })
        };
        assert_eq!(
            plain_http_parts("http://127.0.0.1:8000/v1"),
            parts("127.0.0.1:8000", "127.0.0.1:8000", "/v1")
        );
        assert_eq!(
            plain_http_parts("http://vllm.internal"),
            parts("vllm.internal:80", "vllm.internal", "")
        );
        assert_eq!(
            plain_http_parts("http://[::1]:11434/v1/"),
            parts("[::1]:11434", "[::1]:11434", "/v1")
        );
        assert_eq!(plain_http_parts("https://api.openai.com/v1"), None);
    }
}
