//! Registry data: stored versions, what a client posts, name rules, and the
//! canonical content hash.
//!
//! A version is immutable once created; its `sha256` covers only what changes
//! the upstream request (template, config, variables, grounding variable), so
//! re-posting identical content — e.g. a file sync at every start — can be
//! recognised as a no-op whatever the commit message or author.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::render::CompiledPrompt;
use super::schema::{VarType, VariablesSchema};

/// Longest prompt name (names appear in URLs, headers and file paths).
pub const MAX_NAME_LEN: usize = 128;
/// Longest label name.
pub const MAX_LABEL_LEN: usize = 64;
/// The label that always points at the newest version; moved only by the registry.
pub const LATEST_LABEL: &str = "latest";
/// Label resolved when a request names neither a version nor a label.
pub const DEFAULT_LABEL: &str = "production";
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

/// Config keys a prompt may not set: they belong to the request (the client's
/// own messages are appended; streaming is the caller's choice) or would
/// re-enter the registry.
const FORBIDDEN_CONFIG_KEYS: &[&str] = &[
    "messages",
    "prompt",
    "input",
    "stream",
    "stream_options",
    "prompt_id",
    "prompt_version",
    "prompt_label",
    "prompt_variables",
    "grounding",
    "cache",
    "metadata",
];

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

/// A rule a name, label or posted version broke. `field` is the JSON path
/// (`messages[1].content`, `config.temperature`, `labels[0]`, `name`, …) so the
/// 400 can say which.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ModelError {
    pub field: String,
    pub message: String,
}

fn model_err(field: impl Into<String>, message: impl Into<String>) -> ModelError {
    ModelError {
        field: field.into(),
        message: message.into(),
    }
}

/// `[a-z0-9][a-z0-9._/-]*`, ≤ 128 chars, every `/`-separated segment starting
/// with `[a-z0-9]` (so no `..`, `//`, `./`, leading or trailing `/`): names map
/// onto file paths under `prompts/` and must not climb out of it.
pub fn validate_prompt_name(name: &str) -> Result<(), ModelError> {
    let ok_char = |c: char| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '/' | '-')
    };
    let seg_ok = |s: &str| {
        s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    };
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(model_err(
            "name",
            format!("must be 1–{MAX_NAME_LEN} characters"),
        ));
    }
    if !name.chars().all(ok_char) || !name.split('/').all(seg_ok) || name.contains("..") {
        return Err(model_err(
            "name",
            format!("`{name}` must match [a-z0-9][a-z0-9._/-]*, each /-segment starting with a letter or digit, no `..`"),
        ));
    }
    Ok(())
}

/// `[a-z0-9][a-z0-9._-]*`, ≤ 64 chars. `latest` is a valid label to *read*.
pub fn validate_label(label: &str) -> Result<(), ModelError> {
    let mut chars = label.chars();
    let first = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let rest =
        chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if !first || !rest || label.len() > MAX_LABEL_LEN {
        return Err(model_err(
            "label",
            format!("`{label}` must match [a-z0-9][a-z0-9._-]* (≤ {MAX_LABEL_LEN} chars)"),
        ));
    }
    Ok(())
}

/// A label a client may move (`PUT …/labels/{label}`, `labels` of a new version):
/// valid and not the registry-managed `latest`.
pub fn validate_movable_label(label: &str) -> Result<(), ModelError> {
    validate_label(label)?;
    if label == LATEST_LABEL {
        return Err(model_err(
            "label",
            "`latest` is reserved: it always points at the newest version",
        ));
    }
    Ok(())
}

impl NewVersion {
    /// Check everything and return the content to hash and store. Templates are
    /// compiled here so a syntax error is a 400 at creation, not at request time.
    pub fn validate(&self) -> Result<PromptContent, ModelError> {
        let kind = match self.kind {
            KindTag::Chat => {
                if self.template.is_some() {
                    return Err(model_err(
                        "template",
                        "not allowed for type \"chat\" (use messages)",
                    ));
                }
                let messages = match &self.messages {
                    Some(m) if !m.is_empty() => m.clone(),
                    _ => {
                        return Err(model_err(
                            "messages",
                            "type \"chat\" needs at least one message",
                        ))
                    }
                };
                if messages.len() > MAX_MESSAGES {
                    return Err(model_err(
                        "messages",
                        format!("at most {MAX_MESSAGES} messages"),
                    ));
                }
                PromptKind::Chat { messages }
            }
            KindTag::Text => {
                if self.messages.is_some() {
                    return Err(model_err(
                        "messages",
                        "not allowed for type \"text\" (use template)",
                    ));
                }
                match &self.template {
                    Some(t) => PromptKind::Text {
                        template: t.clone(),
                    },
                    None => return Err(model_err("template", "type \"text\" needs a template")),
                }
            }
        };
        let total: usize = match &kind {
            PromptKind::Chat { messages } => messages.iter().map(|m| m.content.len()).sum(),
            PromptKind::Text { template } => template.len(),
        };
        if total > MAX_TEMPLATE_BYTES {
            return Err(model_err(
                if self.messages.is_some() {
                    "messages"
                } else {
                    "template"
                },
                format!("templates are limited to {MAX_TEMPLATE_BYTES} bytes in total"),
            ));
        }
        validate_config(&self.config)?;
        if let Some(g) = &self.grounding_variable {
            validate_grounding(g, &self.variables_schema)?;
        }
        if self.labels.len() > MAX_LABELS {
            return Err(model_err("labels", format!("at most {MAX_LABELS} labels")));
        }
        for (i, l) in self.labels.iter().enumerate() {
            validate_movable_label(l).map_err(|e| model_err(format!("labels[{i}]"), e.message))?;
        }
        if self
            .commit_message
            .as_ref()
            .is_some_and(|m| m.len() > MAX_COMMIT_MESSAGE)
        {
            return Err(model_err(
                "commit_message",
                format!("at most {MAX_COMMIT_MESSAGE} bytes"),
            ));
        }
        let content = PromptContent {
            kind,
            config: self.config.clone(),
            variables_schema: self.variables_schema.clone(),
            grounding_variable: self.grounding_variable.clone(),
        };
        CompiledPrompt::compile_content(&content)
            .map_err(|e| model_err(e.field(), e.to_string()))?;
        Ok(content)
    }
}

fn validate_config(config: &Map<String, Value>) -> Result<(), ModelError> {
    for (key, value) in config {
        let field = format!("config.{key}");
        if FORBIDDEN_CONFIG_KEYS.contains(&key.as_str()) {
            return Err(model_err(
                field,
                "set per request, not in a prompt's config",
            ));
        }
        if key.starts_with(REGISTRY_CONFIG_PREFIX) && key != CONFIG_CACHE_KEY {
            return Err(model_err(
                field,
                format!("unknown registry setting (known: {CONFIG_CACHE_KEY})"),
            ));
        }
        match key.as_str() {
            "model" if !value.is_string() => return Err(model_err(field, "must be a string")),
            "temperature" | "top_p" | "presence_penalty" | "frequency_penalty"
                if !value.is_number() =>
            {
                return Err(model_err(field, "must be a number"))
            }
            "max_tokens" | "max_completion_tokens" | "seed"
                if !(value.is_u64() || value.is_i64()) =>
            {
                return Err(model_err(field, "must be an integer"))
            }
            "tools" if !value.is_array() => {
                return Err(model_err(field, "must be an array of tool objects"))
            }
            "response_format" if !value.get("type").is_some_and(Value::is_string) => {
                return Err(model_err(field, "must be an object with a string `type`"))
            }
            CONFIG_CACHE_KEY => validate_cache(value, &field)?,
            _ => {}
        }
    }
    Ok(())
}

fn validate_cache(value: &Value, field: &str) -> Result<(), ModelError> {
    let Value::Object(o) = value else {
        return Err(model_err(field, "must be an object like {\"ttl\": 600}"));
    };
    for (k, v) in o {
        match k.as_str() {
            "ttl" if v.is_u64() => {}
            "ttl" => {
                return Err(model_err(
                    format!("{field}.ttl"),
                    "must be a non-negative integer (seconds)",
                ))
            }
            _ => {
                return Err(model_err(
                    format!("{field}.{k}"),
                    "unknown key (known: ttl)",
                ))
            }
        }
    }
    Ok(())
}

fn validate_grounding(var: &str, schema: &VariablesSchema) -> Result<(), ModelError> {
    let field = "grounding_variable";
    let Some(spec) = schema.get(var) else {
        return Err(model_err(
            field,
            format!("`{var}` is not declared in variables_schema"),
        ));
    };
    match &spec.ty {
        VarType::String | VarType::Any => Ok(()),
        VarType::Array(inner) if matches!(**inner, VarType::String | VarType::Any) => Ok(()),
        other => Err(model_err(
            field,
            format!("`{var}` must be a string or array<string> to serve as grounding context, is {other}"),
        )),
    }
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
mod tests {
    use super::*;
    use serde_json::json;

    fn chat_body() -> Value {
        json!({
            "type": "chat",
            "messages": [
                {"role": "system", "content": "Answer from: {{#each docs}}- {{this}}\n{{/each}}"},
                {"role": "user", "content": "{{question}}"}
            ],
            "config": {"model": "gpt-4o-mini", "temperature": 0.2},
            "variables_schema": {"question": "string", "docs": {"type": "array", "items": "string"}},
            "grounding_variable": "docs",
            "labels": ["production"],
            "commit_message": "first"
        })
    }

    fn parse(v: Value) -> NewVersion {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn valid_chat_version() {
        let c = parse(chat_body()).validate().unwrap();
        assert!(matches!(c.kind, PromptKind::Chat { ref messages } if messages.len() == 2));
        let v = PromptVersion::new(
            "support/answer",
            1,
            c,
            None,
            Some("k1".into()),
            5,
            Source::Api,
        );
        assert_eq!(v.sha256.len(), 64);
        assert_eq!(v.display_id(), "support/answer@1");
        // Stored form round-trips and is flat.
        let j = serde_json::to_value(&v).unwrap();
        assert_eq!(j["type"], "chat");
        assert_eq!(j["source"], "api");
        let back: PromptVersion = serde_json::from_value(j).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn hash_ignores_metadata_and_key_order() {
        let a = parse(chat_body()).validate().unwrap();
        let mut other = chat_body();
        other["commit_message"] = json!("second");
        other["labels"] = json!([]);
        // Same config, other insertion order.
        other["config"] = json!({"temperature": 0.2, "model": "gpt-4o-mini"});
        other["variables_schema"] =
            json!({"docs": {"type": "array", "items": "string"}, "question": "string"});
        let b = parse(other).validate().unwrap();
        assert_eq!(canonical_sha256(&a), canonical_sha256(&b));
        let mut changed = chat_body();
        changed["config"]["temperature"] = json!(0.3);
        assert_ne!(
            canonical_sha256(&a),
            canonical_sha256(&parse(changed).validate().unwrap())
        );
        let mut changed = chat_body();
        changed["messages"][1]["content"] = json!("{{question}} ");
        assert_ne!(
            canonical_sha256(&a),
            canonical_sha256(&parse(changed).validate().unwrap())
        );
        // Hash is of the documented canonical form.
        assert!(a.canonical_json().starts_with("{\"config\":{\"model\":\"gpt-4o-mini\",\"temperature\":0.2},\"grounding_variable\":\"docs\",\"messages\":["));
    }

    #[test]
    fn rejects_unknown_fields() {
        let mut b = chat_body();
        b["comit_message"] = json!("typo");
        let e = serde_json::from_value::<NewVersion>(b).unwrap_err();
        assert!(e.to_string().contains("comit_message"), "{e}");
        let mut b = chat_body();
        b["messages"][0]["name"] = json!("x");
        assert!(serde_json::from_value::<NewVersion>(b).is_err());
        let mut b = chat_body();
        b["messages"][0]["role"] = json!("tool");
        assert!(serde_json::from_value::<NewVersion>(b).is_err());
    }

    #[test]
    fn validation_names_the_field() {
        let field = |v: Value| parse(v).validate().unwrap_err().field;
        let mut b = chat_body();
        b["template"] = json!("x");
        assert_eq!(field(b), "template");
        let mut b = chat_body();
        b["messages"] = json!([]);
        assert_eq!(field(b), "messages");
        assert_eq!(field(json!({"type": "text"})), "template");
        let mut b = chat_body();
        b["messages"][1]["content"] = json!("{{#if x}}unclosed");
        assert_eq!(field(b), "messages[1].content");
        let mut b = chat_body();
        b["config"]["temperature"] = json!("hot");
        assert_eq!(field(b), "config.temperature");
        let mut b = chat_body();
        b["config"]["stream"] = json!(true);
        assert_eq!(field(b), "config.stream");
        let mut b = chat_body();
        b["config"]["promptgate_cahce"] = json!({});
        assert_eq!(field(b), "config.promptgate_cahce");
        let mut b = chat_body();
        b["config"]["promptgate_cache"] = json!({"ttl": -1});
        assert_eq!(field(b), "config.promptgate_cache.ttl");
        let mut b = chat_body();
        b["grounding_variable"] = json!("question2");
        assert_eq!(field(b), "grounding_variable");
        let mut b = chat_body();
        b["variables_schema"]["docs"] = json!("integer");
        assert_eq!(field(b), "grounding_variable");
        let mut b = chat_body();
        b["labels"] = json!(["production", "latest"]);
        assert_eq!(field(b), "labels[1]");
        let mut b = chat_body();
        b["labels"] = json!(["Prod"]);
        assert_eq!(field(b), "labels[0]");
    }

    #[test]
    fn text_version() {
        let c = parse(json!({"type": "text", "template": "Summarize: {{text}}"}))
            .validate()
            .unwrap();
        assert_eq!(
            c.kind,
            PromptKind::Text {
                template: "Summarize: {{text}}".into()
            }
        );
        let e = parse(json!({"type": "text", "template": "x", "messages": []}))
            .validate()
            .unwrap_err();
        assert_eq!(e.field, "messages");
    }

    #[test]
    fn prompt_names() {
        for ok in ["a", "support/answer", "rag-v2.1", "a_b/c-d/e.f", "0"] {
            validate_prompt_name(ok).unwrap();
        }
        let long = "a".repeat(129);
        for bad in [
            "", "A", "-a", ".a", "/a", "a/", "a//b", "a/../b", "a..b", "a/.b", "a b", "a\\b", "é",
            &long,
        ] {
            assert!(validate_prompt_name(bad).is_err(), "{bad:?} accepted");
        }
        assert!(validate_prompt_name(&"a".repeat(128)).is_ok());
    }

    #[test]
    fn label_names() {
        for ok in ["production", "staging", "v1.2", "canary_2", "latest"] {
            validate_label(ok).unwrap();
        }
        for bad in ["", "Prod", "-x", "a/b", "a b"] {
            assert!(validate_label(bad).is_err(), "{bad:?}");
        }
        validate_movable_label("production").unwrap();
        assert!(validate_movable_label("latest").is_err());
    }
}
