//! Command-line tools beside `serve`: they talk to a running gateway over
//! HTTP (URL and admin key from flags or the environment), except `sync`,
//! which writes to the store directly.

mod client;
pub mod costs;
pub mod prompts;
mod table;
