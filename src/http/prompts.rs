//! The prompt registry API (`/v1/prompts/…`). Prompt names may contain `/`
//! (sub-folders of `prompts/`), so one wildcard route takes everything under
//! `/v1/prompts/` and [`PromptPath::parse`] reads it from the right.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::extract::{parse_json, AppQuery, Auth, LimitedBody};
use super::openapi::responses;
use super::openapi::schemas as doc;
use crate::api::Endpoint;
use crate::api::{ApiError, ApiResult};
use crate::auth::Caller;
use crate::gateway::body::RequestBody;
use crate::gateway::prompting::{self, PromptRef};
use crate::registry::live::{labels_of, version_json, Selector};
use crate::registry::service;
use crate::registry::{NewVersion, Source};
use crate::state::AppState;

pub use super::prompt_call::PromptQuery;
use super::prompt_call::{selector, PromptCall};
use super::prompt_labels::write_error;
pub use super::prompt_path::PromptPath;
use super::prompt_path::{LabelName, PromptName};

/// List prompts (name, latest version, source, labels)
///
/// Any valid key (team keys may read every prompt). Served from the in-memory registry (no database round trip); writes made on another replica appear within `registry_refresh_ms`.
#[utoipa::path(
    get, path = "/v1/prompts", tag = "prompts", operation_id = "listPrompts",
    responses(
        (status = 200, description = "All prompts, sorted by name.", content((doc::PromptList = "application/json", example = json!({"object": "list", "data": [{"object": "prompt", "name": "support/rag-answer", "latest_version": 1, "source": "file", "labels": {"production": {"version": 1}}, "updated_at": "2026-11-27T10:53:15.879Z"}]})))),
        (status = 401, response = responses::Unauthorized),
    ),
)]
pub async fn list(State(state): State<AppState>, Auth(_): Auth) -> Json<Value> {
    let snap = state.registry.snapshot();
    let data: Vec<Value> = snap
        .prompts
        .iter()
        .filter_map(|(name, p)| {
            let latest = p.latest()?;
            Some(json!({
                "object": "prompt",
                "name": name,
                "latest_version": latest.version.version,
                "source": p.source(),
                "labels": p.labels,
                "updated_at": crate::time::rfc3339(latest.version.created_at),
            }))
        })
        .collect();
    Json(json!({"object": "list", "data": data}))
}

/// Every method and path under `/v1/prompts/`.
pub async fn dispatch(
    State(state): State<AppState>,
    Auth(caller): Auth,
    method: Method,
    Path(rest): Path<String>,
    AppQuery(q): AppQuery<PromptQuery>,
    LimitedBody(body): LimitedBody,
) -> ApiResult<Response> {
    let path = PromptPath::parse(&rest)
        .ok_or_else(|| ApiError::NotFound(format!("no route for /v1/prompts/{rest}")))?;
    if !path.serves(&method) {
        return Err(not_served(&method));
    }
    let call = PromptCall {
        state: &state,
        caller: &caller,
        body: &body,
    };
    match (method, path) {
        (Method::GET, PromptPath::Prompt(name)) => get_prompt(&state, &name, q),
        (Method::GET, PromptPath::Versions(name)) => list_versions(&state, &name),
        (Method::POST, PromptPath::Versions(name)) => create_version(&call, &name).await,
        (Method::GET, PromptPath::Version(name, v)) => get_version(&state, &name, v, q),
        (Method::PUT, PromptPath::Label(name, label)) => move_label(&call, &name, &label).await,
        (Method::GET, PromptPath::Label(name, label)) => get_label(&state, &name, label, q),
        (Method::GET, PromptPath::LabelHistory(name, label)) => {
            label_history(&state, &name, &label).await
        }
        (Method::GET, PromptPath::Diff(name)) => diff(&state, &name, q),
        (Method::POST, PromptPath::Render(name)) => {
            render(&call, &name).map(|v| Json(v).into_response())
        }
        (Method::GET, PromptPath::Report(name)) => {
            let params = super::experiments::ReportParams {
                label: q.label,
                from: q.from,
                to: q.to,
                baseline: q.baseline,
                team: q.team,
            };
            super::experiments::report(&state, &caller, &name, params).await
        }
        (m, _) => Err(not_served(&m)),
    }
}

/// A method that [`prompt_path::OPERATIONS`](super::prompt_path::OPERATIONS)
/// does not list for the path.
fn not_served(method: &Method) -> ApiError {
    ApiError::invalid(format!("method {method} is not allowed here"), None)
}

/// Resolve a prompt by label (default `production`) or version
///
/// Any valid key (team keys may read every prompt). A label that is a weighted rollout resolves to one of its versions, chosen sticky per caller as in the proxy (with an empty sticky key here).
#[utoipa::path(
    get, path = "/v1/prompts/{name}", tag = "prompts", operation_id = "resolvePrompt",
    params(
        PromptName,
        ("label" = Option<String>, Query, description = "Default: `production`."),
        ("version" = Option<i64>, Query, minimum = 1),
    ),
    responses(
        (status = 200, description = "The version.", content((doc::PromptVersion = "application/json", example = json!({"object": "prompt.version", "name": "support/rag-answer", "version": 1, "type": "chat", "messages": [{"role": "system", "content": "You are a support assistant{{#if product}} for {{product}}{{/if}}.\nAnswer using only the passages below.\n…\nPassages:\n{{#each docs}}\n- {{this}}\n{{/each}}"}, {"role": "user", "content": "{{question}}"}], "config": {"max_tokens": 400, "model": "mock-1", "temperature": 0.1}, "variables_schema": {"docs": {"type": "array", "items": "string", "description": "retrieved help-center passages"}, "product": {"type": "string", "optional": true, "description": "product name to address the customer about"}, "question": {"type": "string", "description": "the customer's question"}}, "grounding_variable": "docs", "commit_message": "RAG answer restricted to the supplied passages", "author": "prompts/", "created_at": "2026-11-27T10:53:15.879Z", "sha256": "f1cadc042d578b866a59c7688e9e5696253bb10e59de2ac93c1feb3eec553394", "source": "file", "labels": ["production", "latest"]})))),
        (status = 400, description = "`label` and `version` together, or an unknown query parameter.", content((doc::Error = "application/json", examples(("both" = (value = json!({"error": {"message": "give either ?label= or ?version=, not both", "type": "invalid_request_error", "param": "version", "code": null}}))))))),
        (status = 401, response = responses::Unauthorized),
        (status = 404, description = "Unknown prompt, version or label.", content((doc::Error = "application/json", examples(("no_label" = (value = json!({"error": {"message": "prompt `greet` has no label `staging`", "type": "invalid_request_error", "param": null, "code": "not_found"}}))))))),
    ),
)]
fn get_prompt(state: &AppState, name: &str, q: PromptQuery) -> ApiResult<Response> {
    let selector = selector(
        q.version,
        q.label,
        "give either ?label= or ?version=, not both",
    )?;
    let live = state
        .registry
        .resolve(name, &selector, "")
        .map_err(|e| match e {
            crate::registry::live::ResolveError::UnknownPrompt(..) => {
                ApiError::NotFound(e.to_string())
            }
            other => ApiError::NotFound(other.to_string()),
        })?;
    let labels = labels_now(state, name, live.version.version);
    Ok(Json(version_json(&live.version, &labels)).into_response())
}

// The labels pointing at `version` of prompt `name` in the registry as it
// is now (none when the prompt is gone).
/// One version
///
/// Any valid key (team keys may read every prompt).
#[utoipa::path(
    get, path = "/v1/prompts/{name}/versions/{version}", tag = "prompts", operation_id = "getPromptVersion",
    params(
        PromptName,
        ("version" = i64, Path, minimum = 1),
    ),
    responses(
        (status = 200, description = "The version.", content((doc::PromptVersion = "application/json"))),
        (status = 401, response = responses::Unauthorized), (status = 404, response = responses::NotFound),
    ),
)]
fn get_version(state: &AppState, name: &str, version: i64, q: PromptQuery) -> ApiResult<Response> {
    let version = Some(version);
    get_prompt(state, name, PromptQuery { version, ..q })
}

/// The version a label resolves to (same as `GET /v1/prompts/{name}?label=`)
///
/// Any valid key (team keys may read every prompt).
#[utoipa::path(
    get, path = "/v1/prompts/{name}/labels/{label}", tag = "prompts", operation_id = "getPromptLabel",
    params(
        PromptName,
        LabelName,
    ),
    responses(
        (status = 200, description = "The version.", content((doc::PromptVersion = "application/json"))),
        (status = 401, response = responses::Unauthorized), (status = 404, response = responses::NotFound),
    ),
)]
fn get_label(state: &AppState, name: &str, label: String, q: PromptQuery) -> ApiResult<Response> {
    let label = Some(label);
    get_prompt(state, name, PromptQuery { label, ..q })
}

fn labels_now(state: &AppState, name: &str, version: i64) -> Vec<String> {
    let snap = state.registry.snapshot();
    snap.prompts
        .get(name)
        .map(|p| labels_of(p, version))
        .unwrap_or_default()
}

/// All versions of a prompt, newest first
///
/// Any valid key (team keys may read every prompt).
#[utoipa::path(
    get, path = "/v1/prompts/{name}/versions", tag = "prompts", operation_id = "listPromptVersions",
    params(PromptName),
    responses(
        (status = 200, description = "The versions.", content((doc::PromptVersionList = "application/json"))),
        (status = 401, response = responses::Unauthorized), (status = 404, response = responses::NotFound),
    ),
)]
fn list_versions(state: &AppState, name: &str) -> ApiResult<Response> {
    let snap = state.registry.snapshot();
    let entry = snap
        .prompts
        .get(name)
        .ok_or_else(|| ApiError::NotFound(format!("prompt `{name}` not found")))?;
    let data: Vec<Value> = entry
        .versions
        .values()
        .rev()
        .map(|v| version_json(&v.version, &labels_of(entry, v.version.version)))
        .collect();
    Ok(Json(json!({"object": "list", "data": data})).into_response())
}

/// Create a version (creates the prompt on first use)
///
/// Admin key only: a team key gets 403 `permission_denied`. Versions are numbered 1, 2, … per prompt and never change. If the content (template, config, variables schema, grounding variable) equals the latest version's, nothing is created: the answer is the latest version with status 200 and `created: false` (the given `labels` are still pointed at it). Prompts that come from the `prompts/` folder refuse writes here (409): change the file instead.
#[utoipa::path(
    post, path = "/v1/prompts/{name}/versions", tag = "prompts", operation_id = "createPromptVersion",
    params(PromptName),
    request_body(content = doc::NewPromptVersion, content_type = "application/json"),
    responses(
        (status = 201, description = "Created (`created: true`).", content((doc::PromptVersion = "application/json"))),
        (status = 200, description = "Unchanged content: the existing latest version (`created: false`).", content((doc::PromptVersion = "application/json"))),
        (status = 400, description = "Invalid body (named in `param`), an invalid or reserved prompt name, or a template that does not compile.", content((doc::Error = "application/json", examples(("reserved_segment" = (value = json!({"error": {"message": "`versions` cannot be part of a prompt name (it names an API sub-resource)", "type": "invalid_request_error", "param": "name", "code": null}}))), ("bad_config" = (value = json!({"error": {"message": "config.temperature: must be a number", "type": "invalid_request_error", "param": "config.temperature", "code": null}}))), ("latest_label" = (value = json!({"error": {"message": "`latest` is reserved: it always points at the newest version", "type": "invalid_request_error", "param": "labels[1]", "code": null}}))))))),
        (status = 401, response = responses::Unauthorized), (status = 403, response = responses::Forbidden), (status = 409, response = responses::PromptConflict), (status = 413, response = responses::PayloadTooLarge),
    ),
)]
async fn create_version(call: &PromptCall<'_>, name: &str) -> ApiResult<Response> {
    let new: NewVersion = call.admin_body()?;
    let (version, created) = service::create_version(
        call.state.store.as_ref(),
        &call.state.registry,
        name,
        new,
        call.actor(),
        Source::Api,
    )
    .await
    .map_err(write_error)?;
    if created {
        let after = json!({"version": version.version, "sha256": version.sha256});
        let change = crate::audit::Change {
            action: "prompt.version",
            target: name,
            before: None::<&Value>,
            after: Some(&after),
        };
        crate::audit::record(call.state.store.as_ref(), "admin", change).await;
    }
    let labels = labels_now(call.state, name, version.version);
    let mut out = version_json(&version, &labels);
    out["created"] = Value::Bool(created);
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(out)).into_response())
}

/// Point a label at a version, or at a weighted rollout
///
/// Admin key only: a team key gets 403 `permission_denied`. Creates the label if needed. Every move is recorded in the label's history (`…/history`), which is what `promptgate prompts rollback` uses. Allowed on file-sourced prompts too (e.g. an emergency rollback): a later sync of the unchanged file does not move the label back. Takes effect at once on this replica and within `registry_refresh_ms` on the others.
#[utoipa::path(
    put, path = "/v1/prompts/{name}/labels/{label}", tag = "prompts", operation_id = "moveLabel",
    params(
        PromptName,
        LabelName,
    ),
    request_body(content = doc::LabelTarget, content_type = "application/json", examples(("one_version" = (value = json!({"version": 2}))), ("rollout" = (value = json!({"rollout": [{"version": 1, "weight": 90}, {"version": 2, "weight": 10}]}))))),
    responses(
        (status = 200, description = "Moved.", content((doc::LabelMoved = "application/json", example = json!({"object": "prompt.label", "name": "greet", "label": "production", "target": {"rollout": [{"version": 1, "weight": 90}, {"version": 2, "weight": 10}]}})))),
        (status = 400, description = "Invalid target (weights, duplicates, more than 16 entries), a version that does not exist, or the label `latest`.", content((doc::Error = "application/json", examples(("latest" = (value = json!({"error": {"message": "`latest` is reserved: it always points at the newest version", "type": "invalid_request_error", "param": "label", "code": null}}))), ("unknown_version" = (value = json!({"error": {"message": "prompt `greet` has no version 9", "type": "invalid_request_error", "param": "version", "code": null}}))))))),
        (status = 401, response = responses::Unauthorized), (status = 403, response = responses::Forbidden), (status = 404, response = responses::NotFound),
    ),
)]
async fn move_label(call: &PromptCall<'_>, name: &str, label: &str) -> ApiResult<Response> {
    let body: Value = call.admin_body()?;
    super::prompt_labels::set_label(call.state, call.caller, name, label, body)
        .await
        .map(|out| Json(out).into_response())
}

/// Who moved the label, when, from what to what
///
/// Any valid key (team keys may read every prompt).
#[utoipa::path(
    get, path = "/v1/prompts/{name}/labels/{label}/history", tag = "prompts", operation_id = "getLabelHistory",
    params(
        PromptName,
        LabelName,
    ),
    responses(
        (status = 200, description = "Newest move first.", content((doc::LabelHistory = "application/json", example = json!({"object": "list", "name": "greet", "label": "production", "data": [{"label": "production", "from": {"version": 1}, "to": {"rollout": [{"version": 1, "weight": 90}, {"version": 2, "weight": 10}]}, "actor": "admin", "at": "2026-11-27T10:53:48.110Z"}, {"label": "production", "from": null, "to": {"version": 1}, "actor": "admin", "at": "2026-11-27T10:53:47.824Z"}]})))),
        (status = 401, response = responses::Unauthorized), (status = 404, response = responses::NotFound),
    ),
)]
async fn label_history(state: &AppState, name: &str, label: &str) -> ApiResult<Response> {
    if !state.registry.snapshot().prompts.contains_key(name) {
        return Err(ApiError::NotFound(format!("prompt `{name}` not found")));
    }
    let moves = state.store.label_history(name, label).await?;
    let parse = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| serde_json::from_str::<Value>(t).ok())
    };
    let data: Vec<Value> = moves
        .iter()
        .map(|m| {
            json!({
                "label": m.label,
                "from": parse(&m.from_target),
                "to": parse(&Some(m.to_target.clone())),
                "actor": m.actor,
                "reason": m.reason,
                "at": crate::time::rfc3339(m.at),
            })
        })
        .collect();
    Ok(Json(json!({"object": "list", "name": name, "label": label, "data": data})).into_response())
}

/// Unified diff between two versions
///
/// Any valid key (team keys may read every prompt).
#[utoipa::path(
    get, path = "/v1/prompts/{name}/diff", tag = "prompts", operation_id = "diffPromptVersions",
    params(
        PromptName,
        ("from" = i64, Query, minimum = 1),
        ("to" = i64, Query, minimum = 1),
    ),
    responses(
        (status = 200, description = "The diff.", content((doc::PromptDiff = "application/json", example = json!({"object": "prompt.diff", "name": "greet", "from": 1, "to": 2, "diff": "--- greet@1\n+++ greet@2\n@@ -1,6 +1,6 @@\n ## template (chat)\n [system]\n-Greet {{name}} briefly.\n+Greet {{name}} warmly.\n ## config\n …"})))),
        (status = 400, description = "`from` or `to` missing, or not a version of the prompt.", content((doc::Error = "application/json", examples(("missing" = (value = json!({"error": {"message": "diff needs ?from=<version>&to=<version>", "type": "invalid_request_error", "param": "to", "code": null}}))))))),
        (status = 401, response = responses::Unauthorized), (status = 404, response = responses::NotFound),
    ),
)]
fn diff(state: &AppState, name: &str, q: PromptQuery) -> ApiResult<Response> {
    let (Some(from), Some(to)) = (q.from.as_deref(), q.to.as_deref()) else {
        return Err(ApiError::invalid(
            "diff needs ?from=<version>&to=<version>",
            Some(if q.from.is_none() { "from" } else { "to" }),
        ));
    };
    let number = |v: &str, param: &str| {
        v.parse::<i64>().map_err(|_| {
            ApiError::invalid(format!("'{param}' must be a version number"), Some(param))
        })
    };
    let (from, to) = (number(from, "from")?, number(to, "to")?);
    let get = |v: i64, param: &str| {
        state
            .registry
            .resolve(name, &Selector::Version(v), "")
            .map_err(|e| match e {
                crate::registry::live::ResolveError::UnknownPrompt(..) => {
                    ApiError::NotFound(e.to_string())
                }
                other => ApiError::invalid(other.to_string(), Some(param)),
            })
    };
    let (a, b) = (get(from, "from")?, get(to, "to")?);
    let text = crate::registry::diff(&a.version, &b.version);
    Ok(
        Json(json!({"object": "prompt.diff", "name": name, "from": from, "to": to, "diff": text}))
            .into_response(),
    )
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenderRequest {
    #[serde(default)]
    #[schema(nullable = false)]
    label: Option<String>,
    #[serde(default)]
    #[schema(nullable = false, minimum = 1)]
    version: Option<i64>,
    #[serde(default)]
    #[schema(required = false, value_type = Object)]
    variables: Map<String, Value>,
    /// Only `metadata.user` is read: the rollout sticky key (else the caller's key).
    #[serde(default)]
    #[schema(required = false, nullable = false, value_type = Object)]
    metadata: Option<Map<String, Value>>,
    /// Client messages to append after the rendered ones.
    #[serde(default)]
    #[schema(nullable = false)]
    messages: Option<Vec<Value>>,
}

/// [`render`] for the web console: `body` is a render request's JSON.
pub fn render_preview(
    state: &AppState,
    caller: &Caller,
    name: &str,
    body: &Bytes,
) -> ApiResult<Value> {
    render(
        &PromptCall {
            state,
            caller,
            body,
        },
        name,
    )
}

/// Dry run: the exact upstream body, no model call
///
/// Any valid key (team keys may read every prompt). Resolves and renders the prompt exactly as the proxy would (variables checked, rendered messages first, `config` as defaults, `promptgate_*` settings removed) and returns the body that would go upstream, except that the value of a variable the schema marks `secret` shows as `[secret:<name>]`. Nothing is called and nothing is recorded.
#[utoipa::path(
    post, path = "/v1/prompts/{name}/render", tag = "prompts", operation_id = "renderPrompt",
    params(PromptName),
    request_body(content = RenderRequest, content_type = "application/json", example = json!({"variables": {"question": "How long do refunds take?", "docs": ["Refunds are issued within 5 business days."]}})),
    responses(
        (status = 200, description = "The prompt used and the upstream body.", content((doc::RenderResult = "application/json", example = json!({"prompt": {"name": "support/rag-answer", "version": 1, "sha256": "f1cadc042d578b866a59c7688e9e5696253bb10e59de2ac93c1feb3eec553394"}, "body": {"messages": [{"role": "system", "content": "You are a support assistant.\nAnswer using only the passages below.\n…\nPassages:\n- Refunds are issued within 5 business days.\n"}, {"role": "user", "content": "How long do refunds take?"}], "max_tokens": 400, "model": "mock-1", "temperature": 0.1}})))),
        (status = 400, description = "Invalid body, `label` and `version` together, an unknown version or label, or variables that do not fit the schema.", content((doc::Error = "application/json", examples(("missing_variable" = (value = json!({"error": {"message": "missing required prompt variable `question`", "type": "invalid_request_error", "param": "prompt.variables.question", "code": null}}))))))),
        (status = 401, response = responses::Unauthorized), (status = 404, response = responses::NotFound),
    ),
)]
fn render(call: &PromptCall<'_>, name: &str) -> ApiResult<Value> {
    let (state, caller) = (call.state, call.caller);
    let req: RenderRequest = parse_json(call.body)?;
    let selector = selector(
        req.version,
        req.label,
        "give either label or version, not both",
    )?;
    let sticky = req
        .metadata
        .as_ref()
        .and_then(|m| m.get("user"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| match caller {
            Caller::Admin => crate::auth::ADMIN_TEAM.to_owned(),
            Caller::Team { key_id, .. } => key_id.to_string(),
        });
    let live = state
        .registry
        .resolve(name, &selector, &sticky)
        .map_err(prompting::resolve_error)?;
    let endpoint = if prompting::is_chat(&live) {
        Endpoint::Chat
    } else {
        Endpoint::Completions
    };
    let mut skeleton = Map::new();
    if let Some(ms) = req.messages {
        skeleton.insert("messages".into(), Value::Array(ms));
    }
    let raw =
        Bytes::from(serde_json::to_vec(&Value::Object(skeleton)).map_err(ApiError::internal)?);
    let mut upstream_body = RequestBody::parse(&raw)?;
    // A preview shows where a secret goes, never the secret: its value is
    // swapped for `[secret:name]` (a string for a string, so the checks and
    // the template behave as they would with the value).
    let prompt = PromptRef {
        name: name.to_owned(),
        selector: Selector::Version(live.version.version),
        variables: live.version.variables_schema.masked(&req.variables),
    };
    let live = prompting::apply(
        &state.registry,
        &prompt,
        &sticky,
        endpoint,
        &mut upstream_body,
    )?;
    let bytes = upstream_body.to_bytes(&raw);
    let body: Value = serde_json::from_slice(&bytes).map_err(ApiError::internal)?;
    Ok(json!({
        "prompt": {"name": live.version.name, "version": live.version.version, "sha256": live.version.sha256},
        "body": body,
    }))
}
