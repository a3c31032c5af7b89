//! Prompt registry core: versioned prompt templates, rendered per request.
//!
//! Two layers:
//!
//! - The core is pure functions and types — no HTTP, no clock (callers pass
//!   `created_at`), no storage; its only I/O is [`dotprompt::load_dir`] reading
//!   `prompts/`.
//! - [`service`] (writes) and [`live`] (the in-memory registry the request path
//!   reads) persist it through the store traits ([`crate::store::Store`]:
//!   SQLite embedded, or PostgreSQL for several replicas): versions and
//!   labels are rows there, and replicas notice each other's writes by polling
//!   the store's registry revision.
//!
//! - [`model`]: [`PromptVersion`] (immutable, numbered), [`NewVersion`] (the
//!   `POST …/versions` body, validated into [`PromptContent`] by `validate`),
//!   and [`canonical_sha256`] (same content ⇒ same hash).
//! - [`names`]: prompt name and label rules, and [`ModelError`].
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
//! - [`guard`]: a rollout's guard (metric, tolerance, minimum samples),
//!   stored beside the label's target.
//! - [`service`]: validate, hash, store, refresh; shared by the HTTP API and
//!   the `prompts/` folder sync. [`live`]: every version compiled and every
//!   label resolved in memory, reloaded from the store.
//!
//! Request path: resolve label → [`Target`] → [`choose`] a version → look up its
//! cached [`CompiledPrompt`] → [`CompiledPrompt::render`] → [`Rendered`] messages
//! (or text) put before the client's own messages; `config` fills body fields
//! the client did not set, minus `promptgate_*` keys ([`REGISTRY_CONFIG_PREFIX`]).

mod diff;
pub mod dotprompt;
pub mod guard;
pub mod live;
pub mod model;
mod names;
mod render;
mod rollout;
mod schema;
pub mod service;
mod validate;

#[cfg(test)]
mod fuzz;

pub use diff::{diff, side_by_side, Change as DiffChange, SideBySide};
pub use dotprompt::{load_dir, FileError, PromptFile};
pub use model::{
    canonical_sha256, validate_label, validate_movable_label, validate_prompt_name, KindTag,
    Message, ModelError, NewVersion, PromptContent, PromptKind, PromptVersion, Role, Source,
    CONFIG_CACHE_KEY, DEFAULT_LABEL, LATEST_LABEL, REGISTRY_CONFIG_PREFIX,
};
pub use render::{render, CompiledPrompt, RenderError, Rendered};
pub use rollout::{choose, RolloutEntry, Target};
pub use schema::{VarError, VarType, VariablesSchema};
