//! `.prompt` files (dotprompt: YAML front matter + Handlebars body) → [`NewVersion`].
//!
//! ```text
//! ---
//! model: gpt-4o-mini
//! config: {temperature: 0.2, maxOutputTokens: 400}
//! input:
//!   schema:
//!     question: string
//!     docs(array): string
//! output: {format: json, schema: {answer: string}}
//! promptgate.labels: [production]
//! promptgate.grounding: docs
//! ---
//! {{role "system"}}
//! …
//! ```
//!
//! Mapping:
//! - `model` → `config.model`; `config` keys in dotprompt (Genkit) spelling are
//!   renamed to OpenAI body fields (`maxOutputTokens` → `max_tokens`, `topP` →
//!   `top_p`, `topK` → `top_k`, `stopSequences` → `stop`, …); snake_case keys pass
//!   through unchanged; any other camelCase key is an error (likely a typo).
//! - `input.schema` (Picoschema) → `variables_schema`.
//! - `output: {format: json, schema}` → `config.response_format` =
//!   `{"type": "json_schema", "json_schema": {"name", "schema", "strict": true}}`;
//!   `format: json` without a schema → `{"type": "json_object"}`.
//! - `tools`: OpenAI tool objects, copied to `config.tools` (dotprompt's tool
//!   *names* need a tool registry we do not have: an error).
//! - `promptgate.labels`, `promptgate.grounding`, `promptgate.cache` (→
//!   `config.promptgate_cache`), `promptgate.commit_message`, `promptgate.type`
//!   (`chat`, default, or `text`); also accepted nested as `promptgate: {labels: …}`.
//! - Body: top-level `{{role "…"}}` markers split it into messages at load time,
//!   so the stored version shows one message per role; text before the first
//!   marker is a user message (dotprompt's default). Markers nested in blocks
//!   (`{{#if}}{{role "user"}}…{{/if}}`) stay in the template and split at render
//!   time (see `render`).
//!
//! Unknown front-matter keys are errors naming the key. Deliberately ignored
//! dotprompt keys: `description` and `metadata` (documentation only), and `name`
//! when it equals the name derived from the path (otherwise an error: the path
//! decides). Not supported, and rejected rather than ignored because the prompt
//! would behave differently than written: `input.default`, `variant`, partials
//! (`_name.prompt`), tool names, and other tools' `namespace.key` extensions.
//!
//! Files: [`parse`] (text → version), [`front_matter`] (key by key),
//! [`roles`] (body → messages), [`files`] (the `prompts/` folder).

mod files;
mod front_matter;
mod parse;
mod roles;

pub use files::{load_dir, name_from_path, FileError, PromptFile};
pub use parse::parse;

#[cfg(test)]
mod tests;
