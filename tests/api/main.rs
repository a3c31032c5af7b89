//! Integration tests: one binary (link once), one module per area.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

mod admin;
mod anthropic;
mod audit;
mod cache;
mod console;
mod costs;
mod crash;
mod drift_tally;
mod experiments;
mod fault_kit;
mod fuzz;
mod grounding;
mod helpers;
mod isolation;
mod judge;
mod keys;
mod openapi;
mod prompts;
mod proxy;
mod rate_limits;
mod replicas;
mod resilience;
mod runtime_tasks;
mod shutdown;
mod start_folder;
mod store;
mod store_faults;
mod streaming;
mod tracing;
mod upstream_faults;
