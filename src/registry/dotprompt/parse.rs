//! One `.prompt` file's text → a validated [`NewVersion`]: the front matter
//! is split off and each key mapped (see [`super::front_matter`]), the body
//! split into messages on its top-level role markers (see [`super::roles`]).

use serde_json::{Map, Value};

use super::front_matter::{map_config, parse_input, parse_output, parse_tools, string_list};
use super::roles::split_roles;
use crate::registry::model::{KindTag, NewVersion, CONFIG_CACHE_KEY};
use crate::registry::names::{model_err, ModelError};
use crate::registry::schema::VariablesSchema;

/// Parse one file's text. The result has passed [`NewVersion::validate`].
pub fn parse(name: &str, source: &str) -> Result<NewVersion, ModelError> {
    let (front, body) = split_front_matter(source)?;
    let fm: Value = if front.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        serde_norway::from_str(front)
            .map_err(|e| model_err("front matter", format!("invalid YAML: {e}")))?
    };
    let fm = match fm {
        Value::Object(o) => o,
        Value::Null => Map::new(),
        _ => return Err(model_err("front matter", "must be a YAML map")),
    };

    let mut config = Map::new();
    let mut schema = VariablesSchema::default();
    let mut labels = Vec::new();
    let mut grounding = None;
    let mut secret = Vec::new();
    let mut commit_message = None;
    let mut kind = KindTag::Chat;
    let mut model = None;

    // Flatten `promptgate: {labels: …}` into `promptgate.labels` form.
    let mut entries: Vec<(String, Value)> = Vec::new();
    for (k, v) in fm {
        if k == "promptgate" {
            let Value::Object(inner) = v else {
                return Err(model_err("promptgate", "must be a map"));
            };
            entries.extend(
                inner
                    .into_iter()
                    .map(|(ik, iv)| (format!("promptgate.{ik}"), iv)),
            );
        } else {
            entries.push((k, v));
        }
    }

    for (key, value) in entries {
        match key.as_str() {
            "model" => match value {
                Value::String(m) => model = Some(m),
                _ => return Err(model_err("model", "must be a string")),
            },
            "config" => map_config(&value, &mut config)?,
            "input" => schema = parse_input(&value)?,
            "output" => {
                if let Some(rf) = parse_output(&value, name)? {
                    config.insert("response_format".into(), rf);
                }
            }
            "tools" => {
                config.insert("tools".into(), parse_tools(value)?);
            }
            "description" | "metadata" => {}
            "name" => {
                if value.as_str() != Some(name) {
                    return Err(model_err(
                        "name",
                        format!("differs from the name `{name}` given by the file's path"),
                    ));
                }
            }
            "promptgate.labels" => labels = string_list(&value, "promptgate.labels")?,
            "promptgate.grounding" => match value {
                Value::String(g) => grounding = Some(g),
                _ => {
                    return Err(model_err(
                        "promptgate.grounding",
                        "must be the name of a variable",
                    ))
                }
            },
            "promptgate.secret" => secret = string_list(&value, "promptgate.secret")?,
            "promptgate.cache" => {
                config.insert(CONFIG_CACHE_KEY.into(), value);
            }
            "promptgate.commit_message" => match value {
                Value::String(m) => commit_message = Some(m),
                _ => return Err(model_err("promptgate.commit_message", "must be a string")),
            },
            "promptgate.type" => {
                kind = match value.as_str() {
                    Some("chat") => KindTag::Chat,
                    Some("text") => KindTag::Text,
                    _ => return Err(model_err("promptgate.type", "must be \"chat\" or \"text\"")),
                }
            }
            other if other.starts_with("promptgate.") => return Err(model_err(
                other,
                "unknown promptgate key (known: labels, grounding, secret, cache, commit_message, type)",
            )),
            other => return Err(model_err(other, "unknown front-matter key")),
        }
    }
    // After the loop: `input` may come after `promptgate` in the file.
    schema
        .mark_secret(&secret, "promptgate.secret")
        .map_err(|e| model_err(e.path, e.message))?;
    if let Some(m) = model {
        if config.insert("model".into(), Value::String(m)).is_some() {
            return Err(model_err(
                "config.model",
                "give the model once, as top-level `model`",
            ));
        }
    }

    let (messages, template) = match kind {
        KindTag::Chat => {
            let messages = split_roles(body);
            if messages.is_empty() {
                return Err(model_err("body", "is empty"));
            }
            (Some(messages), None)
        }
        KindTag::Text => (None, Some(body.trim().to_string())),
    };
    let nv = NewVersion {
        kind,
        messages,
        template,
        config,
        variables_schema: schema,
        grounding_variable: grounding,
        labels,
        commit_message,
    };
    nv.validate().map_err(|e| {
        // Point into the file's terms: `config.x` / `labels[0]` read fine, a
        // message index is explained.
        if e.field.starts_with("messages[") {
            model_err(format!("body ({})", e.field), e.message)
        } else if e.field.starts_with("labels") {
            model_err(format!("promptgate.{}", e.field), e.message)
        } else if e.field == "grounding_variable" {
            model_err("promptgate.grounding", e.message)
        } else {
            e
        }
    })?;
    Ok(nv)
}

/// `(front matter, body)`. A file without a leading `---` line is all body.
fn split_front_matter(source: &str) -> Result<(&str, &str), ModelError> {
    let s = source.strip_prefix('\u{feff}').unwrap_or(source);
    let Some(rest) = s
        .strip_prefix("---\n")
        .or_else(|| s.strip_prefix("---\r\n"))
    else {
        return Ok(("", s));
    };
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "---" {
            return Ok((&rest[..offset], &rest[offset + line.len()..]));
        }
        offset += line.len();
    }
    Err(model_err("front matter", "no closing `---` line"))
}
