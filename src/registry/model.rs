//! Registry data: stored versions, what a client posts, name rules, and the
//! canonical content hash.
//!
//! A version is immutable once created; its `sha256` covers only what changes
//! the upstream request (template, config, variables, grounding variable), so
//! re-posting identical content — e.g. a file sync at every start — can be
//! recognised as a no-op whatever the commit message or author.
//!
//! Name and label rules live in [`super::names`], the checks of a posted
//! version in [`super::validate`].

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::schema::VariablesSchema;

pub use super::names::{
    validate_label, validate_movable_label, validate_prompt_name, ModelError, DEFAULT_LABEL,
    LATEST_LABEL, MAX_LABEL_LEN, MAX_NAME_LEN,
};

/// Bounds on what one version may hold: a prompt is a template, not a corpus.
pub const MAX_MESSAGES: usize = 64;
pub const MAX_TEMPLATE_BYTES: usize = 256 * 1024;
pub const MAX_COMMIT_MESSAGE: usize = 2_000;
pub const MAX_LABELS: usize = 16;

/// Config keys with this prefix are registry settings, not upstream body fields:
/// the gateway must strip them before the body goes upstream.
pub const REGISTRY_CONFIG_PREFIX: &str = "promptgate_";
/// `config.promptgate_cache = {"ttl": seconds}`: default cache policy for the prompt.
pub const CONFIG_CACHE_KEY: &str = "promptgate_cache";

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    Developer,
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::Developer => "developer",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "system" => Role::System,
            "developer" => Role::Developer,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            _ => return None,
        })
    }
}

/// One chat message. In a stored version `content` is a Handlebars template;
/// in a rendered prompt it is the final text.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

/// Template part of a version. Serialised flat (`"type": "chat", "messages": …`)
/// to match the `POST /versions` body.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum PromptKind {
    Chat { messages: Vec<Message> },
    Text { template: String },
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    #[default]
    Api,
    File,
}

/// An immutable, numbered prompt version as stored.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PromptVersion {
    pub name: String,
    pub version: i64,
    #[serde(flatten)]
    pub kind: PromptKind,
    /// Upstream body defaults (model, temperature, max_tokens, tools,
    /// response_format, …) plus `promptgate_*` registry settings.
    pub config: Map<String, Value>,
    pub variables_schema: VariablesSchema,
    pub grounding_variable: Option<String>,
    pub commit_message: Option<String>,
    pub author: Option<String>,
    /// Epoch milliseconds.
    pub created_at: i64,
    pub sha256: String,
    pub source: Source,
}

/// The hashed, validated content of a version.
#[derive(Clone, Debug, PartialEq)]
pub struct PromptContent {
    pub kind: PromptKind,
    pub config: Map<String, Value>,
    pub variables_schema: VariablesSchema,
    pub grounding_variable: Option<String>,
}

/// Body of `POST /v1/prompts/{name}/versions` (and what a `.prompt` file becomes).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NewVersion {
    #[serde(rename = "type")]
    pub kind: KindTag,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<Message>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    #[serde(default)]
    pub config: Map<String, Value>,
    #[serde(default)]
    pub variables_schema: VariablesSchema,
    #[serde(default)]
    pub grounding_variable: Option<String>,
    /// Labels to point at the new version (not `latest`).
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub commit_message: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum KindTag {
    Chat,
    Text,
}

/// Copy of `v` with every object's keys in sorted order. Built explicitly
/// rather than relying on `serde_json::Map` being a BTreeMap, which another
/// crate in the build enabling `preserve_order` would silently change.
pub fn sorted_json(v: &Value) -> Value {
    match v {
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                if let Some(x) = o.get(k) {
                    out.insert(k.clone(), sorted_json(x));
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted_json).collect()),
        other => other.clone(),
    }
}

impl PromptContent {
    /// The canonical JSON document that is hashed: sorted keys, no whitespace.
    pub fn canonical_json(&self) -> String {
        let mut doc = Map::new();
        match &self.kind {
            PromptKind::Chat { messages } => {
                doc.insert("type".into(), Value::String("chat".into()));
                let msgs = messages
                    .iter()
                    .map(|m| serde_json::json!({"role": m.role.as_str(), "content": m.content}))
                    .collect();
                doc.insert("messages".into(), Value::Array(msgs));
            }
            PromptKind::Text { template } => {
                doc.insert("type".into(), Value::String("text".into()));
                doc.insert("template".into(), Value::String(template.clone()));
            }
        }
        doc.insert("config".into(), Value::Object(self.config.clone()));
        doc.insert("variables_schema".into(), self.variables_schema.to_json());
        doc.insert(
            "grounding_variable".into(),
            self.grounding_variable
                .clone()
                .map_or(Value::Null, Value::String),
        );
        // Serialising a `Value` cannot fail (keys are strings, no NaN).
        serde_json::to_string(&sorted_json(&Value::Object(doc))).unwrap_or_default()
    }
}

/// SHA-256 (lower-case hex) of the content's canonical JSON. Identical content →
/// identical hash, whatever the key order it was posted with.
pub fn canonical_sha256(content: &PromptContent) -> String {
    hex::encode(Sha256::digest(content.canonical_json().as_bytes()))
}

impl PromptVersion {
    /// Assemble a stored version from validated content (computes `sha256`).
    pub fn new(
        name: &str,
        version: i64,
        content: PromptContent,
        commit_message: Option<String>,
        author: Option<String>,
        created_at: i64,
        source: Source,
    ) -> PromptVersion {
        let sha256 = canonical_sha256(&content);
        PromptVersion {
            name: name.to_string(),
            version,
            kind: content.kind,
            config: content.config,
            variables_schema: content.variables_schema,
            grounding_variable: content.grounding_variable,
            commit_message,
            author,
            created_at,
            sha256,
            source,
        }
    }

    /// The hashed part of this version.
    pub fn content(&self) -> PromptContent {
        PromptContent {
            kind: self.kind.clone(),
            config: self.config.clone(),
            variables_schema: self.variables_schema.clone(),
            grounding_variable: self.grounding_variable.clone(),
        }
    }

    /// `name@version`, as in the `x-promptgate-prompt` header.
    pub fn display_id(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

#[cfg(test)]
mod tests;
