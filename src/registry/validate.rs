//! Checking a posted version ([`NewVersion::validate`]): message and template
//! bounds, config keys a prompt may set, the cache setting and the grounding
//! variable. Templates are compiled here so a syntax error is a 400 at
//! creation, not at request time.

use serde_json::{Map, Value};

use crate::api::EXTENSION_FIELDS;

use super::model::{
    KindTag, NewVersion, PromptContent, PromptKind, CONFIG_CACHE_KEY, MAX_COMMIT_MESSAGE,
    MAX_LABELS, MAX_MESSAGES, MAX_TEMPLATE_BYTES, REGISTRY_CONFIG_PREFIX,
};
use super::names::{model_err, validate_movable_label, ModelError};
use super::render::CompiledPrompt;
use super::schema::{VarType, VariablesSchema};

/// Config keys a prompt may not set: they belong to the request (the client's
/// own messages are appended; streaming is the caller's choice), or they are
/// promptgate's own request fields ([`EXTENSION_FIELDS`]), which would
/// re-enter the registry.
const REQUEST_OWNED_KEYS: &[&str] = &[
    "messages",
    "prompt",
    "input",
    "stream",
    "stream_options",
    "metadata",
];

fn is_forbidden_config_key(key: &str) -> bool {
    REQUEST_OWNED_KEYS.contains(&key) || EXTENSION_FIELDS.contains(&key)
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
        if is_forbidden_config_key(key) {
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
    if spec.secret {
        // The context is quoted as evidence in request records and the console.
        return Err(model_err(
            field,
            format!("`{var}` is secret and cannot serve as grounding context"),
        ));
    }
    match &spec.ty {
        VarType::String | VarType::Any => Ok(()),
        VarType::Array(inner) if matches!(**inner, VarType::String | VarType::Any) => Ok(()),
        other => Err(model_err(
            field,
            format!("`{var}` must be a string or array<string> to serve as grounding context, is {other}"),
        )),
    }
}
