//! The prompt registry API (`/v1/prompts/…`). Prompt names may contain `/`
//! (sub-folders of `prompts/`), so one wildcard route takes everything under
//! `/v1/prompts/` and [`PromptPath::parse`] reads it from the right.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::extract::{parse_json, AppQuery, Auth, LimitedBody};
use super::prompt_labels::write_error;
use crate::api::Endpoint;
use crate::api::{ApiError, ApiResult};
use crate::auth::Caller;
use crate::gateway::body::RequestBody;
use crate::gateway::prompting::{self, PromptRef};
use crate::registry::live::{labels_of, version_json, Selector};
use crate::registry::service;
use crate::registry::{NewVersion, Source};
use crate::state::AppState;

/// What a path under `/v1/prompts/` addresses.
#[derive(Debug, PartialEq, Eq)]
pub enum PromptPath {
    Prompt(String),
    Versions(String),
    Version(String, i64),
    Label(String, String),
    LabelHistory(String, String),
    Diff(String),
    Render(String),
    Report(String),
}

impl PromptPath {
    pub fn parse(rest: &str) -> Option<PromptPath> {
        let parts: Vec<&str> = rest.trim_matches('/').split('/').collect();
        let n = parts.len();
        let name = |k: usize| (n > k).then(|| parts[..n - k].join("/"));
        let p = match parts.as_slice() {
            [.., "labels", label, "history"] if n >= 4 => {
                PromptPath::LabelHistory(name(3)?, (*label).to_owned())
            }
            [.., "labels", label] if n >= 3 => PromptPath::Label(name(2)?, (*label).to_owned()),
            [.., "versions", v] if n >= 3 && v.parse::<i64>().is_ok() => {
                PromptPath::Version(name(2)?, v.parse().ok()?)
            }
            [.., "versions"] if n >= 2 => PromptPath::Versions(name(1)?),
            [.., "diff"] if n >= 2 => PromptPath::Diff(name(1)?),
            [.., "render"] if n >= 2 => PromptPath::Render(name(1)?),
            [.., "report"] if n >= 2 => PromptPath::Report(name(1)?),
            _ => PromptPath::Prompt(parts.join("/")),
        };
        Some(p)
    }
}

/// What the operations that read the body (writes and render) need of one
/// request under `/v1/prompts/`.
struct PromptCall<'a> {
    state: &'a AppState,
    caller: &'a Caller,
    body: &'a Bytes,
}

impl PromptCall<'_> {
    /// The body of a registry write: admin only, checked before the body is
    /// read, so a team key gets its 403 even for a malformed body.
    fn admin_body<T: DeserializeOwned>(&self) -> ApiResult<T> {
        self.caller.require_admin()?;
        parse_json(self.body)
    }

    /// Who the registry's history names for a write.
    fn actor(&self) -> Option<&'static str> {
        super::prompt_labels::actor_of(self.caller)
    }
}

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

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PromptQuery {
    label: Option<String>,
    version: Option<i64>,
    /// A version (diff) or a time (report).
    from: Option<String>,
    to: Option<String>,
    /// Report only: the version to compare against, and the team (admin).
    baseline: Option<i64>,
    team: Option<String>,
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
    let call = PromptCall {
        state: &state,
        caller: &caller,
        body: &body,
    };
    match (method, path) {
        (Method::GET, PromptPath::Prompt(name)) => get_prompt(&state, &name, q),
        (Method::GET, PromptPath::Versions(name)) => list_versions(&state, &name),
        (Method::POST, PromptPath::Versions(name)) => create_version(&call, &name).await,
        (Method::GET, PromptPath::Version(name, v)) => get_prompt(
            &state,
            &name,
            PromptQuery {
                version: Some(v),
                ..q
            },
        ),
        (Method::PUT, PromptPath::Label(name, label)) => move_label(&call, &name, &label).await,
        (Method::GET, PromptPath::Label(name, label)) => get_prompt(
            &state,
            &name,
            PromptQuery {
                label: Some(label),
                ..q
            },
        ),
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
        (m, _) => Err(ApiError::invalid(
            format!("method {m} is not allowed here"),
            None,
        )),
    }
}

/// The version a request picks: by number, by label, or the default
/// (`latest`); naming both is refused with `both_message` (the query and the
/// render body spell the two fields differently).
fn selector(
    version: Option<i64>,
    label: Option<String>,
    both_message: &str,
) -> ApiResult<Selector> {
    Ok(match (version, label) {
        (Some(_), Some(_)) => return Err(ApiError::invalid(both_message, Some("version"))),
        (Some(v), None) => Selector::Version(v),
        (None, Some(l)) => Selector::Label(l),
        (None, None) => Selector::default(),
    })
}

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

/// The labels pointing at `version` of prompt `name` in the registry as it
/// is now (none when the prompt is gone).
fn labels_now(state: &AppState, name: &str, version: i64) -> Vec<String> {
    let snap = state.registry.snapshot();
    snap.prompts
        .get(name)
        .map(|p| labels_of(p, version))
        .unwrap_or_default()
}

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

async fn move_label(call: &PromptCall<'_>, name: &str, label: &str) -> ApiResult<Response> {
    let body: Value = call.admin_body()?;
    super::prompt_labels::set_label(call.state, call.caller, name, label, body)
        .await
        .map(|out| Json(out).into_response())
}

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RenderRequest {
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    variables: Map<String, Value>,
    #[serde(default)]
    metadata: Option<Map<String, Value>>,
    #[serde(default)]
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

/// Dry run: the exact upstream body the proxy would send, no model call.
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
    let prompt = PromptRef {
        name: name.to_owned(),
        selector: Selector::Version(live.version.version),
        variables: req.variables,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_read_from_the_right() {
        let s = |v: &str| v.to_owned();
        let cases = [
            ("support/answer", PromptPath::Prompt(s("support/answer"))),
            (
                "support/answer/versions",
                PromptPath::Versions(s("support/answer")),
            ),
            ("a/versions/3", PromptPath::Version(s("a"), 3)),
            (
                "a/b/labels/production",
                PromptPath::Label(s("a/b"), s("production")),
            ),
            (
                "a/labels/production/history",
                PromptPath::LabelHistory(s("a"), s("production")),
            ),
            ("a/diff", PromptPath::Diff(s("a"))),
            ("a/render", PromptPath::Render(s("a"))),
        ];
        for (rest, want) in cases {
            assert_eq!(PromptPath::parse(rest), Some(want), "{rest}");
        }
    }
}
