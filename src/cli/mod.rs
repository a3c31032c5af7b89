//! Command-line tools beside `serve`: they talk to a running gateway over
//! HTTP (URL and admin key from flags or the environment), except `sync`,
//! which writes to the store directly, and `eval`, which reads local data.

mod client;
pub mod costs;
pub mod eval;
pub mod keys;
pub mod prompts;
mod report;
mod table;
