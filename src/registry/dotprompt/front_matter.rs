//! What the front-matter keys become: dotprompt (Genkit) config names →
//! OpenAI body fields, `input.schema` → variables, `output` →
//! `response_format`, `tools`, and string lists (labels).

use serde_json::{Map, Value};

use crate::registry::names::{model_err, ModelError};
use crate::registry::schema::{picoschema_to_json_schema, VariablesSchema};

/// dotprompt config keys and the OpenAI body field each becomes.
const CONFIG_RENAMES: &[(&str, &str)] = &[
    ("maxOutputTokens", "max_tokens"),
    ("topP", "top_p"),
    ("topK", "top_k"),
    ("stopSequences", "stop"),
    ("presencePenalty", "presence_penalty"),
    ("frequencyPenalty", "frequency_penalty"),
    ("responseFormat", "response_format"),
    ("maxCompletionTokens", "max_completion_tokens"),
    ("reasoningEffort", "reasoning_effort"),
    ("parallelToolCalls", "parallel_tool_calls"),
    ("toolChoice", "tool_choice"),
];

pub(super) fn map_config(value: &Value, out: &mut Map<String, Value>) -> Result<(), ModelError> {
    let Value::Object(cfg) = value else {
        return Err(model_err("config", "must be a map"));
    };
    for (k, v) in cfg {
        let target = if let Some((_, to)) = CONFIG_RENAMES.iter().find(|(from, _)| from == k) {
            (*to).to_string()
        } else if k == "version" {
            return Err(model_err(
                "config.version",
                "put the exact model name in `model` instead",
            ));
        } else if k
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            k.clone()
        } else {
            return Err(model_err(
                format!("config.{k}"),
                "unknown config key (use OpenAI snake_case names or maxOutputTokens, topP, topK, stopSequences, …)",
            ));
        };
        // `stopSequences: [x]` and `stop: x` both mean OpenAI's `stop`.
        if out.insert(target.clone(), v.clone()).is_some() {
            return Err(model_err(
                format!("config.{k}"),
                format!("`{target}` given twice"),
            ));
        }
    }
    Ok(())
}

pub(super) fn parse_input(value: &Value) -> Result<VariablesSchema, ModelError> {
    let Value::Object(input) = value else {
        return Err(model_err("input", "must be a map"));
    };
    let mut schema = VariablesSchema::default();
    for (k, v) in input {
        match k.as_str() {
            "schema" => {
                schema = VariablesSchema::from_picoschema(v).map_err(|e| model_err(e.path, e.message))?;
            }
            "default" => {
                return Err(model_err(
                    "input.default",
                    "defaults are not supported: mark the variable optional (`name?: string`) and use {{#if name}}",
                ))
            }
            other => return Err(model_err(format!("input.{other}"), "unknown key (known: schema)")),
        }
    }
    Ok(schema)
}

pub(super) fn parse_output(value: &Value, name: &str) -> Result<Option<Value>, ModelError> {
    let Value::Object(output) = value else {
        return Err(model_err("output", "must be a map"));
    };
    let mut format = None;
    let mut schema = None;
    for (k, v) in output {
        match k.as_str() {
            "format" => {
                format = Some(
                    v.as_str()
                        .ok_or_else(|| model_err("output.format", "must be a string"))?,
                )
            }
            "schema" => {
                schema = Some(
                    picoschema_to_json_schema(v, "output.schema")
                        .map_err(|e| model_err(e.path, e.message))?,
                )
            }
            other => {
                return Err(model_err(
                    format!("output.{other}"),
                    "unknown key (known: format, schema)",
                ))
            }
        }
    }
    match (format, schema) {
        (Some("text"), None) | (None, None) => Ok(None),
        (Some("text"), Some(_)) => Err(model_err("output.schema", "a schema needs `format: json`")),
        (Some("json") | None, Some(schema)) => {
            // OpenAI: name ≤ 64 chars of [a-zA-Z0-9_-].
            let schema_name: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .take(64)
                .collect();
            Ok(Some(serde_json::json!({
                "type": "json_schema",
                "json_schema": {"name": schema_name, "schema": schema, "strict": true},
            })))
        }
        (Some("json"), None) => Ok(Some(serde_json::json!({"type": "json_object"}))),
        (Some(other), _) => Err(model_err(
            "output.format",
            format!("`{other}` is not supported (json or text)"),
        )),
    }
}

pub(super) fn parse_tools(value: Value) -> Result<Value, ModelError> {
    let Value::Array(tools) = value else {
        return Err(model_err("tools", "must be a list of OpenAI tool objects"));
    };
    for (i, t) in tools.iter().enumerate() {
        if !t.get("type").is_some_and(Value::is_string) {
            return Err(model_err(
                format!("tools[{i}]"),
                "must be an OpenAI tool object ({type: function, function: {name, parameters}}); tool names are not supported",
            ));
        }
    }
    Ok(Value::Array(tools))
}

pub(super) fn string_list(value: &Value, field: &str) -> Result<Vec<String>, ModelError> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| model_err(field, "must be a list of strings"))
            })
            .collect(),
        _ => Err(model_err(field, "must be a list of strings")),
    }
}
