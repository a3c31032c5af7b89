//! # resilience
//!
//! What the send stage does when an upstream fails before its answer
//! started: try it again ([`retry`]: per upstream `retry = { attempts,
//! backoff_ms, on }`, jittered exponential backoff, `Retry-After`), go on to
//! the alias's next target ([`attempts`], the loop over targets), and skip
//! an upstream that keeps failing for a while ([`cooldown`], shared
//! through Redis when configured). A try counts as failed only before the
//! first byte went to the client: a stream is committed once its first
//! event arrived (the gateway reads it before sending the head).

pub mod attempts;
pub mod config;
pub mod cooldown;
pub mod retry;

pub use attempts::{AllCoolingDown, Answered, Guard, Try};
pub use config::{CooldownConfig, RetryConfig};
pub use cooldown::Breaker;
pub use retry::{Failure, RetryPolicy};
