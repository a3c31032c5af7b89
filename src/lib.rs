//! # promptgate
//!
//! An OpenAI-compatible LLMOps gateway. Clients point their SDKs at it; on
//! the way through it routes each call to an upstream, resolves registry
//! prompts, answers from its cache, prices the call into an exact ledger
//! (with budgets), scores the answer against its RAG context, and records it.
//!
//! # Layout
//!
//! Read in this order to follow one request:
//!
//! - [`app`]: builds the whole gateway from a [`Config`] and serves it (also
//!   what every test starts); `server` is its accept loop and graceful
//!   shutdown (`shutdown_grace_s`).
//! - `http/`: axum routes and extractors only; handlers are thin.
//!   `http/model_api.rs` hands model calls to the gateway, and
//!   `http/anthropic.rs` Anthropic's `/v1/messages` (and `count_tokens`),
//!   with Anthropic's error shape. `http/console/` is the web console at
//!   `/ui`: server-rendered pages (sessions, CSRF, an SVG cost chart) over
//!   the same domain calls as the JSON routes. Nothing else in
//!   the crate imports `http/` (checked by `tests/layout.rs`).
//! - [`gateway`]: the request pipeline. [`gateway::handle`] runs the stages
//!   (prompt → request → cache → budget → send → answer → judge → reply) over one
//!   per-call context; each stage is a file, thin over its domain module.
//! - [`providers`]: upstreams and how they are reached (the inline HTTP/1
//!   pool, the pooled https client, the built-in [`providers::mock`]), model
//!   routing, and the models list; [`providers::anthropic`] is Anthropic's
//!   Messages API (its events, and the translation that lets an upstream of
//!   `kind = "anthropic"` serve chat completions). No transport detail leaves it.
//!
//! The domain modules the stages stand on:
//!
//! - [`registry`]: versioned prompts, labels, rollouts, rendering, `.prompt`
//!   files, and the in-memory live registry the request path reads.
//! - `cache/`: the response cache (in process, and Redis), its policy and keys,
//!   and single-flight fetching.
//! - [`costs`]: prices, exact costs, token counting and budgets.
//! - [`grounding`]: the grounding scorer (pure functions), its calibrated
//!   model and fitting, its evaluation, and the judge tier's pure parts
//!   (request, verdict reading, quote check, flag rules).
//! - [`experiments`]: rollout reports (per-version metrics with intervals,
//!   candidates against the baseline) from SQL aggregates, and the rollout
//!   guards that zero a candidate's weight when it does worse.
//! - [`resilience`]: retries, alias fallbacks and upstream cooldowns (the
//!   send stage's tries); [`limits`]: RPM / TPM / concurrency per team, key
//!   and team × model, counted in Redis across replicas when configured.
//! - [`alerts`]: guard, drift and budget events to signed webhooks, off the
//!   request path.
//! - [`otel`]: OpenTelemetry traces of model calls (sampled on arrival,
//!   built from the finished record, exported over OTLP/HTTP off the
//!   request path; off unless `[tracing] otlp_endpoint` is set).
//! - [`store`]: persistence traits over SQLite and PostgreSQL, and the batch
//!   writer that keeps database writes off the request path.
//!
//! Shared by all of them: [`api`], the leaf module (endpoints, usage, the
//! `x-promptgate-*` headers, JSON parsing, the one error type); it imports
//! nothing of the crate. Supporting pieces: [`auth`] (keys and the in-memory
//! key cache), [`audit`] (the log of admin writes), [`config`], [`state`], [`telemetry`] (logs, metrics),
//! `periodic` (background refresh loops), [`time`], and [`cli`] (the
//! `promptgate prompts` and `promptgate costs` commands).

pub mod alerts;
pub mod api;
pub mod app;
pub mod audit;
pub mod auth;
mod cache;
pub mod cli;
pub mod config;
pub mod costs;
pub mod experiments;
pub mod gateway;
pub mod grounding;
mod http;
pub mod limits;
pub mod otel;
mod periodic;
pub mod providers;
mod redis_link;
pub mod registry;
pub mod resilience;
mod server;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod time;

#[cfg(test)]
mod fuzzing;

pub use app::App;
pub use config::Config;
