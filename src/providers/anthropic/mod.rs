//! # anthropic
//!
//! Anthropic's Messages API as promptgate speaks it, all pure functions over
//! JSON (the transport stays in `upstream`):
//!
//! - [`events`]: a message and its event stream, each made from the other.
pub mod events;
