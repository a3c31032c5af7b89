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

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::model::{
    validate_prompt_name, KindTag, Message, ModelError, NewVersion, Role, CONFIG_CACHE_KEY,
};
use super::schema::{picoschema_to_json_schema, VariablesSchema};

/// Recursion bound for sub-folders of `prompts/` (names are ≤ 128 chars anyway).
const MAX_DIR_DEPTH: usize = 16;
const EXTENSION: &str = "prompt";
/// `.prompt` files are small; refuse anything that is clearly not a prompt.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

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

/// A loaded `.prompt` file. `version.labels` holds `promptgate.labels`.
#[derive(Clone, Debug, PartialEq)]
pub struct PromptFile {
    pub name: String,
    pub path: PathBuf,
    pub version: NewVersion,
}

/// What is wrong with one file; `field` is the front-matter key or body part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileError {
    pub path: PathBuf,
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{}: {}: {}", self.path.display(), field, self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for FileError {}

fn bad(field: impl Into<String>, message: impl Into<String>) -> ModelError {
    ModelError {
        field: field.into(),
        message: message.into(),
    }
}

/// Prompt name of `file` under `root`: the relative path without `.prompt`,
/// `/`-separated (`support/answer.prompt` → `support/answer`).
pub fn name_from_path(root: &Path, file: &Path) -> Result<String, ModelError> {
    let rel = file
        .strip_prefix(root)
        .map_err(|_| bad("path", "file is not under the prompts directory"))?;
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            std::path::Component::Normal(s) => parts.push(
                s.to_str()
                    .ok_or_else(|| bad("path", "file name is not UTF-8"))?,
            ),
            _ => return Err(bad("path", "unexpected path component")),
        }
    }
    let Some(last) = parts.pop() else {
        return Err(bad("path", "empty path"));
    };
    let stem = last
        .strip_suffix(".prompt")
        .ok_or_else(|| bad("path", "not a .prompt file"))?;
    if stem.starts_with('_') {
        return Err(bad(
            "path",
            "dotprompt partials (`_name.prompt`) are not supported",
        ));
    }
    parts.push(stem);
    let name = parts.join("/");
    validate_prompt_name(&name).map_err(|e| bad("name", e.message))?;
    Ok(name)
}

/// Parse one file's text. The result has passed [`NewVersion::validate`].
pub fn parse(name: &str, source: &str) -> Result<NewVersion, ModelError> {
    let (front, body) = split_front_matter(source)?;
    let fm: Value = if front.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        serde_norway::from_str(front)
            .map_err(|e| bad("front matter", format!("invalid YAML: {e}")))?
    };
    let fm = match fm {
        Value::Object(o) => o,
        Value::Null => Map::new(),
        _ => return Err(bad("front matter", "must be a YAML map")),
    };

    let mut config = Map::new();
    let mut schema = VariablesSchema::default();
    let mut labels = Vec::new();
    let mut grounding = None;
    let mut commit_message = None;
    let mut kind = KindTag::Chat;
    let mut model = None;

    // Flatten `promptgate: {labels: …}` into `promptgate.labels` form.
    let mut entries: Vec<(String, Value)> = Vec::new();
    for (k, v) in fm {
        if k == "promptgate" {
            let Value::Object(inner) = v else {
                return Err(bad("promptgate", "must be a map"));
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
                _ => return Err(bad("model", "must be a string")),
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
                    return Err(bad(
                        "name",
                        format!("differs from the name `{name}` given by the file's path"),
                    ));
                }
            }
            "promptgate.labels" => labels = string_list(&value, "promptgate.labels")?,
            "promptgate.grounding" => match value {
                Value::String(g) => grounding = Some(g),
                _ => {
                    return Err(bad(
                        "promptgate.grounding",
                        "must be the name of a variable",
                    ))
                }
            },
            "promptgate.cache" => {
                config.insert(CONFIG_CACHE_KEY.into(), value);
            }
            "promptgate.commit_message" => match value {
                Value::String(m) => commit_message = Some(m),
                _ => return Err(bad("promptgate.commit_message", "must be a string")),
            },
            "promptgate.type" => {
                kind = match value.as_str() {
                    Some("chat") => KindTag::Chat,
                    Some("text") => KindTag::Text,
                    _ => return Err(bad("promptgate.type", "must be \"chat\" or \"text\"")),
                }
            }
            other if other.starts_with("promptgate.") => return Err(bad(
                other,
                "unknown promptgate key (known: labels, grounding, cache, commit_message, type)",
            )),
            other => return Err(bad(other, "unknown front-matter key")),
        }
    }
    if let Some(m) = model {
        if config.insert("model".into(), Value::String(m)).is_some() {
            return Err(bad(
                "config.model",
                "give the model once, as top-level `model`",
            ));
        }
    }

    let (messages, template) = match kind {
        KindTag::Chat => {
            let messages = split_roles(body);
            if messages.is_empty() {
                return Err(bad("body", "is empty"));
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
            bad(format!("body ({})", e.field), e.message)
        } else if e.field.starts_with("labels") {
            bad(format!("promptgate.{}", e.field), e.message)
        } else if e.field == "grounding_variable" {
            bad("promptgate.grounding", e.message)
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
    Err(bad("front matter", "no closing `---` line"))
}

fn map_config(value: &Value, out: &mut Map<String, Value>) -> Result<(), ModelError> {
    let Value::Object(cfg) = value else {
        return Err(bad("config", "must be a map"));
    };
    for (k, v) in cfg {
        let target = if let Some((_, to)) = CONFIG_RENAMES.iter().find(|(from, _)| from == k) {
            (*to).to_string()
        } else if k == "version" {
            return Err(bad(
                "config.version",
                "put the exact model name in `model` instead",
            ));
        } else if k
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            k.clone()
        } else {
            return Err(bad(
                format!("config.{k}"),
                "unknown config key (use OpenAI snake_case names or maxOutputTokens, topP, topK, stopSequences, …)",
            ));
        };
        // `stopSequences: [x]` and `stop: x` both mean OpenAI's `stop`.
        if out.insert(target.clone(), v.clone()).is_some() {
            return Err(bad(
                format!("config.{k}"),
                format!("`{target}` given twice"),
            ));
        }
    }
    Ok(())
}

fn parse_input(value: &Value) -> Result<VariablesSchema, ModelError> {
    let Value::Object(input) = value else {
        return Err(bad("input", "must be a map"));
    };
    let mut schema = VariablesSchema::default();
    for (k, v) in input {
        match k.as_str() {
            "schema" => {
                schema = VariablesSchema::from_picoschema(v).map_err(|e| bad(e.path, e.message))?;
            }
            "default" => {
                return Err(bad(
                    "input.default",
                    "defaults are not supported: mark the variable optional (`name?: string`) and use {{#if name}}",
                ))
            }
            other => return Err(bad(format!("input.{other}"), "unknown key (known: schema)")),
        }
    }
    Ok(schema)
}

fn parse_output(value: &Value, name: &str) -> Result<Option<Value>, ModelError> {
    let Value::Object(output) = value else {
        return Err(bad("output", "must be a map"));
    };
    let mut format = None;
    let mut schema = None;
    for (k, v) in output {
        match k.as_str() {
            "format" => {
                format = Some(
                    v.as_str()
                        .ok_or_else(|| bad("output.format", "must be a string"))?,
                )
            }
            "schema" => {
                schema = Some(
                    picoschema_to_json_schema(v, "output.schema")
                        .map_err(|e| bad(e.path, e.message))?,
                )
            }
            other => {
                return Err(bad(
                    format!("output.{other}"),
                    "unknown key (known: format, schema)",
                ))
            }
        }
    }
    match (format, schema) {
        (Some("text"), None) | (None, None) => Ok(None),
        (Some("text"), Some(_)) => Err(bad("output.schema", "a schema needs `format: json`")),
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
        (Some(other), _) => Err(bad(
            "output.format",
            format!("`{other}` is not supported (json or text)"),
        )),
    }
}

fn parse_tools(value: Value) -> Result<Value, ModelError> {
    let Value::Array(tools) = value else {
        return Err(bad("tools", "must be a list of OpenAI tool objects"));
    };
    for (i, t) in tools.iter().enumerate() {
        if !t.get("type").is_some_and(Value::is_string) {
            return Err(bad(
                format!("tools[{i}]"),
                "must be an OpenAI tool object ({type: function, function: {name, parameters}}); tool names are not supported",
            ));
        }
    }
    Ok(Value::Array(tools))
}

fn string_list(value: &Value, field: &str) -> Result<Vec<String>, ModelError> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| bad(field, "must be a list of strings"))
            })
            .collect(),
        _ => Err(bad(field, "must be a list of strings")),
    }
}

/// `role "system"` (inside `{{ }}`, whitespace control stripped) → the role.
fn parse_role_marker(inner: &str) -> Option<Role> {
    let rest = inner.strip_prefix("role")?;
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let rest = rest.trim();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let role = rest.strip_prefix(quote)?.strip_suffix(quote)?;
    Role::parse(role)
}

/// Split a body on top-level role markers (see module docs). A light scan of
/// `{{…}}` tags tracking block depth; anything it misreads still goes through
/// the real Handlebars compiler in `NewVersion::validate`.
fn split_roles(body: &str) -> Vec<Message> {
    let mut out = Vec::new();
    let mut role = Role::User;
    let mut seg_start = 0;
    let mut depth: usize = 0;
    let mut i = 0;
    let push = |role: Role, text: &str, out: &mut Vec<Message>| {
        let t = text.trim();
        if !t.is_empty() {
            out.push(Message {
                role,
                content: t.to_string(),
            });
        }
    };
    while let Some(off) = body[i..].find("{{") {
        let start = i + off;
        let rest = &body[start..];
        let close = if rest.starts_with("{{!--") {
            "--}}"
        } else {
            "}}"
        };
        let Some(e) = rest.find(close) else { break };
        let end = start + e + close.len();
        if !rest.starts_with("{{!") {
            let inner = rest[2..e]
                .trim_start_matches('{')
                .trim_start_matches('~')
                .trim_end_matches('~')
                .trim();
            if inner.starts_with('#') || (inner.starts_with('^') && inner.len() > 1) {
                depth += 1;
            } else if inner.starts_with('/') {
                depth = depth.saturating_sub(1);
            } else if depth == 0 {
                if let Some(r) = parse_role_marker(inner) {
                    push(role, &body[seg_start..start], &mut out);
                    role = r;
                    seg_start = end;
                }
            }
        }
        i = end;
    }
    push(role, &body[seg_start..], &mut out);
    out
}

/// Load every `*.prompt` under `dir` (recursively; hidden entries skipped),
/// sorted by name. All files are checked: the error list names every bad file.
pub fn load_dir(dir: &Path) -> Result<Vec<PromptFile>, Vec<FileError>> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    collect(dir, 0, &mut files, &mut errors);
    files.sort();
    let mut out = Vec::new();
    for path in files {
        match load_file(dir, &path) {
            Ok(f) => out.push(f),
            Err(e) => errors.push(FileError {
                path: path.clone(),
                field: Some(e.field),
                message: e.message,
            }),
        }
    }
    if errors.is_empty() {
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    } else {
        Err(errors)
    }
}

fn load_file(root: &Path, path: &Path) -> Result<PromptFile, ModelError> {
    let name = name_from_path(root, path)?;
    let meta = std::fs::metadata(path).map_err(|e| bad("file", e.to_string()))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(bad("file", format!("larger than {MAX_FILE_BYTES} bytes")));
    }
    let source = std::fs::read_to_string(path).map_err(|e| bad("file", e.to_string()))?;
    let version = parse(&name, &source)?;
    Ok(PromptFile {
        name,
        path: path.to_path_buf(),
        version,
    })
}

fn collect(dir: &Path, depth: usize, files: &mut Vec<PathBuf>, errors: &mut Vec<FileError>) {
    let io_err = |path: &Path, e: std::io::Error| FileError {
        path: path.to_path_buf(),
        field: None,
        message: e.to_string(),
    };
    if depth > MAX_DIR_DEPTH {
        errors.push(FileError {
            path: dir.to_path_buf(),
            field: None,
            message: "directories nested too deeply".into(),
        });
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => return errors.push(io_err(dir, e)),
    };
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                errors.push(io_err(dir, e));
                continue;
            }
        };
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        // `metadata` follows symlinks, like the rest of the file tools would.
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => collect(&path, depth + 1, files, errors),
            Ok(_) if path.extension().is_some_and(|e| e == EXTENSION) => files.push(path),
            Ok(_) => {}
            Err(e) => errors.push(io_err(&path, e)),
        }
    }
}

#[cfg(test)]
mod tests;
