//! # api
//!
//! What every layer of the gateway shares about the API it serves, and
//! nothing else: this module imports no other module of the crate, so any
//! module may import it without making a circle.
//!
//! - [`Endpoint`]: the model endpoints the gateway handles itself.
//! - [`Usage`]: token counts of one call, parsed from either of OpenAI's
//!   spellings; the same struct is priced by `costs` and recorded by `store`.
//! - [`headers`]: the `x-promptgate-*` response headers and `x-request-id`.
//! - [`parse_json`], [`parse_field`]: JSON whose errors name the offending
//!   field.
//! - [`ApiError`]: the one error type, rendered in OpenAI's error shape.
//! - [`EXTENSION_FIELDS`]: the request fields that are promptgate's own.
//! - [`anthropic`]: Anthropic's error shape and its status ↔ type pairs.

pub mod anthropic;
mod endpoint;
mod error;
pub mod headers;
mod json;
pub mod usage;

pub use endpoint::Endpoint;

/// promptgate's own request fields: consumed by the gateway, never sent
/// upstream. (`prompt` is handled apart: as a string it is the completions
/// API's own field, as an object a registry prompt reference.)
pub const EXTENSION_FIELDS: &[&str] = &[
    "prompt_id",
    "prompt_version",
    "prompt_label",
    "prompt_variables",
    "grounding",
    "cache",
];
pub use error::{ApiError, ApiResult};
pub use json::{parse_field, parse_json};
pub use usage::Usage;
