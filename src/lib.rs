//! # promptgate
//!
//! An OpenAI-compatible LLM gateway. Clients point their SDKs at it; on the
//! way through it routes to upstreams, records every call, and (in later
//! modules) resolves prompts, caches, prices and checks answers.
//!
//! # Layout
//!
//! Read in this order to follow one request:
//!
//! - [`app`]: builds the whole thing from a [`config::Config`] and serves it
//!   (also what every test starts).
//! - [`http`]: routes and extractors; handlers are thin. `http/model_api.rs`
//!   hands model calls to the gateway.
//! - [`gateway`]: the request pipeline, top to bottom in `gateway/mod.rs`:
//!   body → route → rewrite → upstream → answer or stream tee → record.
//! - [`providers`]: upstreams (OpenAI-compatible HTTP, and the built-in
//!   deterministic [`providers::mock`]), the connection pool for `http://`
//!   upstreams, and model routing.
//! - [`store`]: persistence traits with SQLite and PostgreSQL implementations,
//!   and the batch writer that keeps database writes off the request path.
//!
//! - [`grounding`]: scores an answer against its RAG context (pure functions).
//!
//! Supporting pieces: [`auth`] (keys, in-memory key cache), [`config`],
//! [`error`] (one error type in OpenAI's shape), [`telemetry`] (logs,
//! metrics), [`periodic`] (background refresh loops), [`state`], [`time`].

pub mod api;
pub mod app;
pub mod auth;
mod cache;
pub mod cli;
pub mod config;
pub mod costs;
pub mod gateway;
pub mod grounding;
mod http;
mod periodic;
pub mod providers;
pub mod registry;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod time;

pub use app::App;
pub use config::Config;
