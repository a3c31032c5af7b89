//! The prompt stage: a request that names a registry prompt gets the rendered
//! prompt in front of its own messages and the version's config as defaults.
//!
//! Accepted forms: `prompt: {id, version | label, variables}` (the Responses
//! API's shape) and LiteLLM's `prompt_id`, `prompt_version`, `prompt_label`,
//! `prompt_variables`. The request's own fields always win over the config.
//!
//! The stage also settles the RAG context the answer is scored against: the
//! request's `grounding.context`, else the prompt's grounding variable.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::api::{parse_field, ApiError, Endpoint};
use crate::registry::live::{LiveRegistry, LiveVersion, ResolveError, Selector};
use crate::registry::model::{Message, PromptKind, REGISTRY_CONFIG_PREFIX};
use crate::registry::{RenderError, Rendered};

use super::body::RequestBody;
use super::call::Call;
use super::grounding_check;
use super::record::Recorder;

/// Applies the request's prompt, if it names one, and records which RAG
/// context (if any) the answer will be scored against.
pub fn stage(call: &mut Call<'_>, body: &mut RequestBody<'_>) -> Result<(), ApiError> {
    let asked_grounding = grounding_check::take_context(body)?;
    call.grounding_tiers = asked_grounding.tiers;
    let mut prompt_context = None;
    if let Some(prompt) = take_prompt_ref(body, call.endpoint)? {
        let sticky = sticky_key(body, &call.recorder);
        let live = apply(&call.state.registry, &prompt, &sticky, call.endpoint, body)?;
        call.prompt_ttl = cache_ttl(&live);
        call.recorder.set_prompt(&live.version);
        let secrets = live
            .version
            .variables_schema
            .secret_values(&prompt.variables);
        call.recorder.set_secrets(secrets);
        // A prompt that declares its RAG variable is scored against it.
        prompt_context = live
            .version
            .grounding_variable
            .as_ref()
            .and_then(|v| prompt.variables.get(v))
            .and_then(grounding_check::passages);
    }
    let context = if asked_grounding.off {
        None
    } else {
        asked_grounding.context.or(prompt_context)
    };
    if let Some(ctx) = context.filter(|c| !c.is_empty()) {
        call.recorder.set_grounding_context(ctx);
        call.recorder
            .set_grounding_threshold(asked_grounding.threshold);
    }
    Ok(())
}

/// The key that keeps a caller on one side of a weighted rollout: the
/// request's `metadata.user`, else its API key.
fn sticky_key(body: &RequestBody<'_>, recorder: &Recorder) -> String {
    body.get("metadata")
        .and_then(|m| serde_json::from_str::<serde_json::Value>(m.get()).ok())
        .and_then(|m| m.get("user").and_then(|u| u.as_str()).map(str::to_owned))
        .or_else(|| body.str_field("user").ok().flatten())
        .unwrap_or_else(|| recorder.key_id().to_owned())
}

/// Which prompt a request asks for.
#[derive(Debug)]
pub struct PromptRef {
    pub name: String,
    pub selector: Selector,
    pub variables: Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PromptField {
    id: String,
    #[serde(default)]
    version: Option<VersionSpec>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    variables: Option<Map<String, Value>>,
}

/// Versions arrive as numbers or as strings of digits (OpenAI's `prompt.version` is a string).
#[derive(Deserialize)]
#[serde(untagged)]
enum VersionSpec {
    Number(i64),
    Text(String),
}

fn version_number(spec: VersionSpec, param: &str) -> Result<i64, ApiError> {
    match spec {
        VersionSpec::Number(n) if n > 0 => Ok(n),
        VersionSpec::Text(t) => t.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
            ApiError::invalid(
                format!("'{param}' must be a positive version number"),
                Some(param),
            )
        }),
        _ => Err(ApiError::invalid(
            format!("'{param}' must be a positive version number"),
            Some(param),
        )),
    }
}

fn selector(
    version: Option<i64>,
    label: Option<String>,
    version_param: &str,
) -> Result<Selector, ApiError> {
    match (version, label) {
        (Some(_), Some(_)) => Err(ApiError::invalid(
            "give either a prompt version or a label, not both",
            Some(version_param),
        )),
        (Some(v), None) => Ok(Selector::Version(v)),
        (None, Some(l)) => Ok(Selector::Label(l)),
        (None, None) => Ok(Selector::default()),
    }
}

/// Takes the prompt reference out of the body, if there is one.
pub fn take_prompt_ref(
    body: &mut RequestBody<'_>,
    endpoint: Endpoint,
) -> Result<Option<PromptRef>, ApiError> {
    if endpoint == Endpoint::Embeddings {
        return Ok(None);
    }
    // On the Responses API `prompt` is OpenAI's own field: only the aliases apply there.
    let object_prompt = endpoint != Endpoint::Responses
        && body
            .get("prompt")
            .is_some_and(|p| p.get().trim_start().starts_with('{'));
    if object_prompt {
        let raw = body
            .take("prompt")
            .map(|r| r.get().to_owned())
            .unwrap_or_default();
        let field: PromptField = parse_field(&raw, "prompt")?;
        let version = field
            .version
            .map(|v| version_number(v, "prompt.version"))
            .transpose()?;
        return Ok(Some(PromptRef {
            name: field.id,
            selector: selector(version, field.label, "prompt.version")?,
            variables: field.variables.unwrap_or_default(),
        }));
    }
    let Some(id) = body.take("prompt_id") else {
        return Ok(None);
    };
    let name: String = parse_field(id.get(), "prompt_id")?;
    let version = match body.take("prompt_version") {
        Some(v) if v.get() != "null" => Some(version_number(
            parse_field(v.get(), "prompt_version")?,
            "prompt_version",
        )?),
        _ => None,
    };
    let label = match body.take("prompt_label") {
        Some(l) if l.get() != "null" => Some(parse_field::<String>(l.get(), "prompt_label")?),
        _ => None,
    };
    let variables = match body.take("prompt_variables") {
        Some(v) if v.get() != "null" => {
            parse_field::<Map<String, Value>>(v.get(), "prompt_variables")?
        }
        _ => Map::new(),
    };
    Ok(Some(PromptRef {
        name,
        selector: selector(version, label, "prompt_version")?,
        variables,
    }))
}

pub fn resolve_error(e: ResolveError) -> ApiError {
    match e {
        ResolveError::UnknownPrompt(..) => ApiError::NotFound(e.to_string()),
        ResolveError::UnknownVersion(..) | ResolveError::UnknownLabel(..) => {
            ApiError::invalid(e.to_string(), Some("prompt"))
        }
    }
}

/// The 400 for a render failure. Variable errors name variables and types,
/// never values; a template engine's message might quote one, so secret
/// values are struck from it.
fn render_error(e: RenderError, secrets: &[String]) -> ApiError {
    let param = match &e {
        RenderError::Var(v) => format!("prompt.variables.{}", v.variable()),
        RenderError::MissingVariable { name, .. } => format!("prompt.variables.{name}"),
        _ => "prompt".to_owned(),
    };
    ApiError::invalid(super::redact::strike(&e.to_string(), secrets), Some(&param))
}

/// Resolves and renders the prompt, then rewrites the body: rendered messages
/// first, then the client's; the version's config fills fields the request
/// left out. Returns the version used.
pub fn apply(
    registry: &LiveRegistry,
    prompt: &PromptRef,
    sticky: &str,
    endpoint: Endpoint,
    body: &mut RequestBody<'_>,
) -> Result<Arc<LiveVersion>, ApiError> {
    let live = registry
        .resolve(&prompt.name, &prompt.selector, sticky)
        .map_err(resolve_error)?;
    let rendered = live.compiled.render(&prompt.variables).map_err(|e| {
        render_error(
            e,
            &live
                .version
                .variables_schema
                .secret_values(&prompt.variables),
        )
    })?;
    let to_raw = |v: &Value| serde_json::value::to_raw_value(v).map_err(ApiError::internal);
    match (endpoint, rendered) {
        (Endpoint::Completions, Rendered::Text(text)) => {
            if body.has("prompt") {
                return Err(ApiError::invalid(
                    "a text prompt from the registry replaces 'prompt'; do not send both",
                    Some("prompt"),
                ));
            }
            body.set("prompt", to_raw(&Value::String(text))?);
        }
        (Endpoint::Completions, Rendered::Messages(_)) => {
            return Err(ApiError::invalid(
                format!(
                    "prompt `{}` is a chat prompt; call /v1/chat/completions",
                    prompt.name
                ),
                Some("prompt"),
            ))
        }
        (Endpoint::Responses, rendered) => {
            // The Responses API takes messages as `input` items; the client's
            // own input (a string or items) follows the prompt's.
            let items: Vec<Value> = match rendered {
                Rendered::Messages(ms) => ms.iter().map(message_json).collect(),
                Rendered::Text(t) => vec![serde_json::json!({"role": "user", "content": t})],
            };
            let user = |text| serde_json::json!({"role": "user", "content": text});
            append_own(body, "input", items, user, "a string or an array")?;
        }
        (Endpoint::Messages, rendered) => {
            // Anthropic takes the system prompt apart from the messages: the
            // prompt's system messages go first in `system`, before the client's.
            let (system, mut messages): (Vec<Value>, Vec<Value>) = match rendered {
                Rendered::Messages(ms) => {
                    let (sys, rest): (Vec<&Message>, Vec<&Message>) =
                        ms.iter().partition(|m| m.role.as_str() == "system");
                    (
                        sys.iter()
                            .map(|m| serde_json::json!({"type": "text", "text": m.content}))
                            .collect(),
                        rest.into_iter().map(message_json).collect(),
                    )
                }
                Rendered::Text(t) => (
                    Vec::new(),
                    vec![serde_json::json!({"role": "user", "content": t})],
                ),
            };
            messages.extend(client_messages(body)?);
            body.set("messages", to_raw(&Value::Array(messages))?);
            if !system.is_empty() {
                let text = |text| serde_json::json!({"type": "text", "text": text});
                let what = "a string or an array of text blocks";
                append_own(body, "system", system, text, what)?;
            }
        }
        (_, rendered) => {
            let mut messages: Vec<Value> = match rendered {
                Rendered::Messages(ms) => ms.iter().map(message_json).collect(),
                Rendered::Text(t) => vec![serde_json::json!({"role": "user", "content": t})],
            };
            messages.extend(client_messages(body)?);
            body.set("messages", to_raw(&Value::Array(messages))?);
        }
    }
    for (k, v) in &live.version.config {
        // The Responses API spells the output limit differently.
        let field = match (endpoint, k.as_str()) {
            (Endpoint::Responses, "max_tokens" | "max_completion_tokens") => "max_output_tokens",
            _ => k.as_str(),
        };
        if k.starts_with(REGISTRY_CONFIG_PREFIX) || body.has(field) {
            continue;
        }
        body.set(field, to_raw(v)?);
    }
    Ok(live)
}

/// Sets `field` to `items` followed by the client's own `field`: a string
/// (made an item by `wrap`) or an array of items.
fn append_own(
    body: &mut RequestBody<'_>,
    field: &str,
    mut items: Vec<Value>,
    wrap: impl Fn(String) -> Value,
    what: &str,
) -> Result<(), ApiError> {
    match body
        .get(field)
        .map(|v| serde_json::from_str::<Value>(v.get()))
    {
        None => {}
        Some(Ok(Value::String(text))) => items.push(wrap(text)),
        Some(Ok(Value::Array(own))) => items.extend(own),
        Some(_) => {
            let message = format!("'{field}' must be {what}");
            return Err(ApiError::invalid(message, Some(field)));
        }
    }
    let raw = serde_json::value::to_raw_value(&Value::Array(items)).map_err(ApiError::internal)?;
    body.set(field, raw);
    Ok(())
}

/// The client's own `messages` (they follow the prompt's).
fn client_messages(body: &RequestBody<'_>) -> Result<Vec<Value>, ApiError> {
    match body.get("messages") {
        None => Ok(Vec::new()),
        Some(own) => serde_json::from_str(own.get())
            .map_err(|_| ApiError::invalid("'messages' must be an array", Some("messages"))),
    }
}

fn message_json(m: &Message) -> Value {
    serde_json::json!({"role": m.role.as_str(), "content": m.content})
}

/// The prompt's own cache TTL (`promptgate.cache: {ttl}` in its front matter).
pub fn cache_ttl(live: &LiveVersion) -> Option<u64> {
    live.version
        .config
        .get(crate::registry::model::CONFIG_CACHE_KEY)?
        .get("ttl")?
        .as_u64()
}

/// Whether the version's template is chat-shaped (for the render endpoint's default).
pub fn is_chat(live: &LiveVersion) -> bool {
    matches!(live.version.kind, PromptKind::Chat { .. })
}
