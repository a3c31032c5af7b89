//! Integration tests: one binary (link once), one module per area.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

mod admin;
mod anthropic;
mod cache;
mod costs;
mod grounding;
mod helpers;
mod judge;
mod prompts;
mod proxy;
mod replicas;
mod shutdown;
mod store;
mod streaming;
