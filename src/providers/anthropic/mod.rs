//! # anthropic
//!
//! Anthropic's Messages API as promptgate speaks it, all pure functions over
//! JSON (the transport stays in `upstream`):
//!
//! - [`events`]: a message and its event stream, each made from the other.
//! - [`request`]: an OpenAI chat completions request as a Messages request
//!   (or a 400 naming the field that has no counterpart).
//! - [`response`]: a message as a chat completion (finish reason, usage).
//! - [`stream`]: Messages events as chat completion chunks, event by event.
//! - [`errors`]: Anthropic errors in OpenAI's shape and status.
//!
//! The golden tests of both directions are in `tests.rs`.
pub mod errors;
pub mod events;
pub mod request;
pub mod response;
pub mod stream;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod fuzz;
