//! Prompt registry core: versioned prompt templates, rendered per request.
//!
//! Pure functions and types only — no database, no HTTP, no clock (callers pass
//! `created_at`); the only I/O is [`dotprompt::load_dir`] reading `prompts/`.
//! Nothing here depends on other modules of the crate.
//!
//! - [`model`]: [`PromptVersion`] (immutable, numbered), [`NewVersion`] (the
//!   `POST …/versions` body, validated into [`PromptContent`]), name and label
//!   rules, and [`canonical_sha256`] (same content ⇒ same hash).
//! - [`schema`]: [`VariablesSchema`], the typed variables a request must send
//!   (JSON and Picoschema forms), with errors naming the variable; Picoschema →
//!   JSON Schema for `output.schema`.
//! - [`render`]: [`CompiledPrompt`] (compile once per version, render per
//!   request: strict Handlebars, no HTML escaping) and why variable values can
//!   never forge a role.
//! - [`dotprompt`]: `.prompt` files (YAML front matter + Handlebars body) →
//!   [`NewVersion`] and labels; [`load_dir`] for the `prompts/` folder.
//! - [`diff`]: unified diff of two versions (template, config, schema).
//! - [`rollout`]: a label's [`Target`] (one version or a weighted rollout) and
//!   the sticky, process-independent [`choose`].
//!
//! Request path: resolve label → [`Target`] → [`choose`] a version → look up its
//! cached [`CompiledPrompt`] → [`CompiledPrompt::render`] → [`Rendered`] messages
//! (or text) put before the client's own messages; `config` fills body fields
//! the client did not set, minus `promptgate_*` keys ([`REGISTRY_CONFIG_PREFIX`]).

pub mod diff;
pub mod dotprompt;
pub mod live;
pub mod model;
pub mod render;
pub mod rollout;
pub mod schema;
pub mod service;

pub use diff::diff;
pub use dotprompt::{load_dir, FileError, PromptFile};
pub use model::{
    canonical_sha256, validate_label, validate_movable_label, validate_prompt_name, KindTag,
    Message, ModelError, NewVersion, PromptContent, PromptKind, PromptVersion, Role, Source,
    CONFIG_CACHE_KEY, DEFAULT_LABEL, LATEST_LABEL, REGISTRY_CONFIG_PREFIX,
};
pub use render::{render, CompiledPrompt, RenderError, Rendered};
pub use rollout::{choose, RolloutEntry, Target};
pub use schema::{VarError, VarType, VariablesSchema};
