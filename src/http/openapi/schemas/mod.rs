//! The JSON bodies of the gateway's own API, as OpenAPI schemas.

pub mod admin;
pub mod grounding;
pub mod model;
pub mod ops;
pub mod prompts;

pub use admin::*;
pub use grounding::*;
pub use model::*;
pub use ops::*;
pub use prompts::*;
