//! One upstream and how it is reached: an OpenAI-compatible (or, with
//! `kind = "anthropic"`, an Anthropic Messages API) server over
//! HTTP (`http://` on the [`InlinePool`], `https://` on the [`pooled`]
//! client) or the built-in [`mock`], called in process. All three answer
//! with the same [`UpstreamResponse`], so nothing above this file knows
//! which one it talked to.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, Method, Uri};
use futures_util::StreamExt;
use http_body_util::Full;
use secrecy::{ExposeSecret, SecretString};
use tower::ServiceExt;

use crate::api::Endpoint;
use crate::config::{UpstreamConfig, UpstreamKind};
use crate::resilience::cooldown::Breaker;
use crate::resilience::retry::RetryPolicy;

use super::anthropic_chat;
use super::body::{UpstreamError, UpstreamResponse};
use super::inline_http1::InlinePool;
use super::mock;
use super::pooled::{self, HttpClient};

pub struct Upstream {
    pub name: String,
    pub patterns: Vec<String>,
    /// No answer (or, for a stream, no chunk) for this long → 504.
    pub timeout: Duration,
    /// The API it speaks (the built-in mock speaks both).
    pub kind: UpstreamKind,
    /// `retry = {…}`: how often a failed try is repeated here.
    pub retry: Option<RetryPolicy>,
    /// `cooldown = {…}`: skipped for a while after repeated failures.
    pub breaker: Option<Arc<Breaker>>,
    /// The name as a header value (`x-promptgate-upstream`), made once.
    pub name_header: HeaderValue,
    transport: Transport,
}

impl UpstreamKind {
    /// The provider as OpenTelemetry's `gen_ai.provider.name` spells it.
    pub fn provider_name(self) -> &'static str {
        match self {
            UpstreamKind::OpenAi => "openai",
            UpstreamKind::Anthropic => "anthropic",
        }
    }
}

/// The Messages API version sent when the client names none.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

enum Transport {
    Http(HttpUpstream),
    Mock(axum::Router),
}

/// An OpenAI-compatible server.
struct HttpUpstream {
    /// Which header carries the credential: `Authorization: Bearer` or
    /// Anthropic's `x-api-key`.
    kind: UpstreamKind,
    /// The upstream's credential. Sent only to the upstream; never logged
    /// (`SecretString`'s Debug is redacted) and never echoed to clients.
    api_key: Option<SecretString>,
    /// What request paths are appended to: the base URL for the pooled
    /// client, its path (e.g. `/v1`) for the inline pool.
    prefix: String,
    /// The model endpoints' URIs, parsed once.
    model_uris: Vec<(&'static str, Uri)>,
    client: Client,
}

enum Client {
    /// `http://`: connections polled by the requests' own tasks.
    Inline(Arc<InlinePool>),
    /// `https://`: boxed, the pooled client is large and cheap to share.
    Pooled(Box<HttpClient>),
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
                let (prefix, client) = match plain_http_parts(base) {
                    Some(PlainHttp {
                        connect_to,
                        host,
                        base_path,
                    }) => (
                        base_path,
                        Client::Inline(InlinePool::new(&cfg.name, &connect_to, &host)),
                    ),
                    None => (base.to_owned(), Client::Pooled(Box::new(client.clone()))),
                };
                Transport::Http(HttpUpstream {
                    kind: cfg.kind,
                    api_key,
                    model_uris: model_uris(&prefix),
                    prefix,
                    client,
                })
            }
            None => Transport::Mock(mock::router()),
        };
        Upstream {
            name: cfg.name.clone(),
            patterns: cfg.models.clone(),
            timeout: Duration::from_secs(cfg.timeout_s),
            kind: cfg.kind,
            retry: cfg.retry.as_ref().map(RetryPolicy::new),
            breaker: None,
            name_header: name_header(&cfg.name),
            transport,
        }
    }

    /// With the circuit breaker its `cooldown` asks for.
    pub fn with_breaker(mut self, breaker: Arc<Breaker>) -> Upstream {
        self.breaker = Some(breaker);
        self
    }

    /// Whether it serves Anthropic's Messages API (`/messages`) as it is.
    pub fn speaks_messages(&self) -> bool {
        self.kind == UpstreamKind::Anthropic || self.is_mock()
    }

    /// The built-in mock, serving `mock-*`.
    pub fn builtin_mock() -> Upstream {
        Upstream {
            name: crate::config::MOCK_UPSTREAM.into(),
            patterns: vec!["mock-*".into()],
            timeout: Duration::from_secs(300),
            kind: UpstreamKind::OpenAi,
            retry: None,
            breaker: None,
            name_header: name_header(crate::config::MOCK_UPSTREAM),
            transport: Transport::Mock(mock::router()),
        }
    }

    pub fn is_mock(&self) -> bool {
        matches!(self.transport, Transport::Mock(_))
    }

    /// Sends one request; `path` is relative to the upstream's base URL
    /// (e.g. `/chat/completions?x=1`). Waits at most `timeout` for the
    /// headers; the answer's `deadline` for the whole body is the same
    /// `timeout` after sending.
    /// An Anthropic upstream serves chat completions translated (see
    /// [`anthropic_chat`]) and refuses OpenAI's other model endpoints.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<UpstreamResponse, UpstreamError> {
        if self.kind == UpstreamKind::Anthropic && method == Method::POST {
            if path == Endpoint::Chat.path() {
                let (translated, body) = match anthropic_chat::prepare(&body) {
                    Ok(prepared) => prepared,
                    Err(refusal) => return Ok(refusal),
                };
                let resp = self
                    .send_as_is(Method::POST, "/messages", headers, body)
                    .await?;
                return anthropic_chat::finish(translated, resp).await;
            }
            if Endpoint::ALL
                .iter()
                .any(|e| *e != Endpoint::Messages && e.path() == path)
            {
                return Ok(anthropic_chat::unsupported(&self.name, path));
            }
        }
        self.send_as_is(method, path, headers, body).await
    }

    /// [`Upstream::send`] without translation: the request goes as it is.
    async fn send_as_is(
        &self,
        method: Method,
        path: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let call = async {
            match &self.transport {
                Transport::Http(http) => {
                    let uri = self.uri(http, path)?;
                    let request = build_request(method, uri, headers, http, body);
                    match &http.client {
                        Client::Inline(pool) => {
                            let (parts, body) = pool.send(request).await?.into_parts();
                            Ok(UpstreamResponse::new(parts, body))
                        }
                        Client::Pooled(client) => pooled::send(client, &self.name, request).await,
                    }
                }
                Transport::Mock(router) => {
                    self.call_mock(router, method, path, headers, body).await
                }
            }
        };
        let deadline = tokio::time::Instant::now() + self.timeout;
        match tokio::time::timeout_at(deadline, call).await {
            Ok(Ok(resp)) => Ok(UpstreamResponse { deadline, ..resp }),
            Ok(Err(err)) => Err(err),
            Err(_) => Err(UpstreamError::Timeout),
        }
    }

    /// The URI of `path` on this upstream: a model endpoint's, parsed once,
    /// or the prefix + `path` parsed now.
    fn uri(&self, http: &HttpUpstream, path: &str) -> Result<Uri, UpstreamError> {
        if let Some((_, uri)) = http.model_uris.iter().find(|(p, _)| *p == path) {
            return Ok(uri.clone());
        }
        format!("{}{path}", http.prefix)
            .parse::<Uri>()
            .map_err(|e| UpstreamError::Connect {
                upstream: self.name.clone(),
                detail: format!("invalid upstream URL: {e}"),
            })
    }

    async fn call_mock(
        &self,
        router: &axum::Router,
        method: Method,
        path: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let mut req = axum::http::Request::builder().method(method).uri(path);
        if let Some(h) = req.headers_mut() {
            *h = headers;
        }
        let req = req
            .body(axum::body::Body::from(body))
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
        Ok(UpstreamResponse::new(parts, body))
    }
}

fn name_header(name: &str) -> HeaderValue {
    HeaderValue::from_str(name).unwrap_or_else(|_| HeaderValue::from_static("invalid-name"))
}

/// The request to send upstream, with the upstream's own credential (and,
/// for Anthropic, the API version the client asked for, or ours).
fn build_request(
    method: Method,
    uri: Uri,
    mut headers: HeaderMap,
    http: &HttpUpstream,
    body: Bytes,
) -> axum::http::Request<Full<Bytes>> {
    let anthropic = http.kind == UpstreamKind::Anthropic;
    if let Some(key) = http.api_key.as_ref() {
        let (name, value) = if anthropic {
            (
                header::HeaderName::from_static("x-api-key"),
                key.expose_secret().to_owned(),
            )
        } else {
            (
                header::AUTHORIZATION,
                format!("Bearer {}", key.expose_secret()),
            )
        };
        if let Ok(mut v) = HeaderValue::from_str(&value) {
            v.set_sensitive(true);
            headers.insert(name, v);
        }
    }
    if anthropic && !headers.contains_key("anthropic-version") {
        headers.insert(
            "anthropic-version",
            HeaderValue::from_static(ANTHROPIC_VERSION),
        );
    }
    let mut request = axum::http::Request::new(Full::new(body));
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    request
}

/// The model endpoints' URIs under `prefix` (a base URL, or the path of one).
fn model_uris(prefix: &str) -> Vec<(&'static str, Uri)> {
    Endpoint::ALL
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
