//! # providers
//!
//! Upstreams: where a request goes and how it gets there. The pipeline sees
//! an [`Upstream`] to `send` to and an [`UpstreamResponse`] (status, headers,
//! a body stream) back; which transport carried it stays in here.
//!
//! - [`upstream`]: one upstream and its transport (`http://` on the
//!   [`inline_http1`] pool, `https://` on the [`pooled`] client, or the
//!   built-in [`mock`]).
//! - [`routes`]: model name → upstream; [`alias`]: `[aliases]`, one target or several in order.
//! - [`body`]: answer bodies, reading them whole, and upstream failures.
//! - [`headers`]: which headers cross between client and upstream.
//! - [`anthropic`]: Anthropic's Messages API: its events, and the translation
//!   of OpenAI chat completions to and from it ([`anthropic_chat`] sends a
//!   translated chat completion to an Anthropic upstream).
//! - [`model_list`]: `GET /v1/models` gathered from every upstream, cached.

pub mod alias;
pub mod anthropic;
mod anthropic_chat;
mod body;
mod headers;
mod inline_http1;
pub mod mock;
mod model_list;
mod pooled;
mod routes;
mod upstream;

pub use alias::Alias;
pub use body::{collect, is_event_stream, BodyStream, UpstreamError, UpstreamResponse};
pub use headers::{copy_response_headers, forwardable_headers};
pub use model_list::ModelList;
pub use pooled::{http_client, HttpClient};
pub use routes::{Route, Routes};
pub use upstream::Upstream;
