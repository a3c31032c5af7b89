//! The prompts pages: the registry's prompts, one prompt's versions and
//! labels (with history and guard), a side-by-side diff of two versions and
//! a render preview. Read from the live registry and the store, as the
//! `/v1/prompts` routes do.

use std::fmt::Write as _;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::html::{csrf_field, esc, notice, prompt_link, table, url};
use super::labels::{self, target_text};
use super::session::{error_page, page, Posted, Viewer};
use crate::api::{ApiError, ApiResult};
use crate::http::extract::AppQuery;
use crate::registry::live::{labels_of, PromptEntry};
use crate::registry::{side_by_side, DiffChange};
use crate::state::AppState;

const ACTIVE: &str = "/ui/prompts";

pub async fn list(State(state): State<AppState>, viewer: Viewer) -> Response {
    let snap = state.registry.snapshot();
    let rows: Vec<Vec<String>> = snap
        .prompts
        .iter()
        .filter_map(|(name, p)| {
            let latest = p.latest()?;
            let labels = p
                .labels
                .iter()
                .map(|(l, t)| format!("{} → {}", esc(l), esc(&target_text(t))))
                .collect::<Vec<_>>()
                .join("<br>");
            Some(vec![
                prompt_link(name),
                format!("v{}", latest.version.version),
                match p.source() {
                    crate::registry::Source::Api => "api".to_owned(),
                    crate::registry::Source::File => "file".to_owned(),
                },
                labels,
                esc(&crate::time::rfc3339(latest.version.created_at)),
            ])
        })
        .collect();
    let body = table(
        "Prompts in the registry",
        &["prompt", "latest", "source", "labels", "updated"],
        &rows,
    );
    page(&viewer, ACTIVE, "Prompts", &body)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptQuery {
    name: String,
    /// Set after a label move: which label moved (a notice is shown).
    moved: Option<String>,
}

fn entry<'a>(snap: &'a crate::registry::live::Snapshot, name: &str) -> ApiResult<&'a PromptEntry> {
    snap.prompts
        .get(name)
        .filter(|p| !p.versions.is_empty())
        .ok_or_else(|| ApiError::NotFound(format!("prompt `{name}` not found")))
}

pub async fn detail(
    State(state): State<AppState>,
    viewer: Viewer,
    AppQuery(q): AppQuery<PromptQuery>,
) -> Response {
    let title = format!("Prompt {}", q.name);
    match detail_body(&state, &viewer, &q).await {
        Ok(body) => page(&viewer, ACTIVE, &title, &body),
        Err(e) => error_page(&viewer, ACTIVE, &title, e),
    }
}

async fn detail_body(state: &AppState, viewer: &Viewer, q: &PromptQuery) -> ApiResult<String> {
    let snap = state.registry.snapshot();
    let entry = entry(&snap, &q.name)?;
    let mut out = String::new();
    if let Some(label) = &q.moved {
        out.push_str(&notice(
            "ok",
            &format!("Label `{label}` moved; the API now serves the new target."),
        ));
    }
    let versions: Vec<i64> = entry.versions.keys().rev().copied().collect();
    let rows: Vec<Vec<String>> = entry
        .versions
        .values()
        .rev()
        .map(|v| {
            let v = &v.version;
            vec![
                format!("v{}", v.version),
                esc(&crate::time::rfc3339(v.created_at)),
                esc(v.author.as_deref().unwrap_or("")),
                esc(v.commit_message.as_deref().unwrap_or("")),
                format!(
                    "<code>{}</code>",
                    esc(v.sha256.get(..12).unwrap_or(&v.sha256))
                ),
                esc(&labels_of(entry, v.version).join(", ")),
            ]
        })
        .collect();
    out.push_str("<h2>Versions</h2>");
    out.push_str(&table(
        "Versions, newest first",
        &[
            "version", "created", "author", "message", "sha256", "labels",
        ],
        &rows,
    ));
    out.push_str(&diff_form(&q.name, &versions, None));
    out.push_str(&labels::section(state, viewer, &q.name, entry).await?);
    out.push_str(&render_form(viewer, &q.name, entry, &versions, None, None));
    Ok(out)
}

/// The form that opens a diff of two versions (newest against the one before by default).
fn diff_form(name: &str, versions: &[i64], chosen: Option<(i64, i64)>) -> String {
    let (from, to) = chosen.unwrap_or_else(|| {
        (
            versions.get(1).or(versions.first()).copied().unwrap_or(1),
            versions.first().copied().unwrap_or(1),
        )
    });
    let select = |field: &str, label: &str, pick: i64| {
        let mut s = format!("<label>{label}<select name=\"{field}\">");
        for v in versions {
            let sel = if *v == pick { " selected" } else { "" };
            let _ = write!(s, "<option value=\"{v}\"{sel}>v{v}</option>");
        }
        s.push_str("</select></label>");
        s
    };
    format!(
        "<h2>Compare versions</h2><form method=\"get\" action=\"/ui/prompt/diff\" class=\"inline\" aria-label=\"Compare two versions\">\
         <input type=\"hidden\" name=\"name\" value=\"{n}\">{a}{b}<button type=\"submit\">Show diff</button></form>",
        n = esc(name),
        a = select("from", "From", from),
        b = select("to", "To", to),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffQuery {
    name: String,
    from: i64,
    to: i64,
}

pub async fn diff(
    State(state): State<AppState>,
    viewer: Viewer,
    AppQuery(q): AppQuery<DiffQuery>,
) -> Response {
    let title = format!("Diff of {} v{} → v{}", q.name, q.from, q.to);
    let run = || -> ApiResult<String> {
        let snap = state.registry.snapshot();
        let entry = entry(&snap, &q.name)?;
        let get = |v: i64, field: &str| {
            entry.versions.get(&v).ok_or_else(|| {
                ApiError::invalid(
                    format!("prompt `{}` has no version {v}", q.name),
                    Some(field),
                )
            })
        };
        let (a, b) = (get(q.from, "from")?, get(q.to, "to")?);
        let rows = side_by_side(&a.version, &b.version);
        let changed = rows.iter().filter(|r| r.change != DiffChange::Same).count();
        let versions: Vec<i64> = entry.versions.keys().rev().copied().collect();
        let mut out = format!(
            "<p><a href=\"/ui/prompt?name={}\">Back to the prompt</a></p>{}\
             <p id=\"diff-summary\">{changed} changed line(s).</p>\
             <div class=\"diff\" role=\"table\" aria-label=\"Side-by-side diff\">\
             <div class=\"head\" role=\"columnheader\">v{}</div><div class=\"head\" role=\"columnheader\">v{}</div>",
            esc(&url(&q.name)),
            diff_form(&q.name, &versions, Some((q.from, q.to))),
            q.from,
            q.to,
        );
        for r in &rows {
            let (lc, rc) = match r.change {
                DiffChange::Same => ("", ""),
                DiffChange::Removed => ("del", ""),
                DiffChange::Added => ("", "ins"),
                DiffChange::Changed => ("del", "ins"),
            };
            let _ = write!(
                out,
                "<div class=\"{lc}\" role=\"cell\">{}</div><div class=\"{rc}\" role=\"cell\">{}</div>",
                esc(r.left.as_deref().unwrap_or("")),
                esc(r.right.as_deref().unwrap_or("")),
            );
        }
        out.push_str("</div>");
        Ok(out)
    };
    match run() {
        Ok(body) => page(&viewer, ACTIVE, &title, &body),
        Err(e) => error_page(&viewer, ACTIVE, &title, e),
    }
}

/// The render preview form: a version or label, and the variables as JSON.
fn render_form(
    viewer: &Viewer,
    name: &str,
    entry: &PromptEntry,
    versions: &[i64],
    picked: Option<&str>,
    variables: Option<&str>,
) -> String {
    let mut options = String::new();
    for l in entry.labels.keys().map(String::as_str).chain(["latest"]) {
        let value = format!("label:{l}");
        let sel = if picked == Some(value.as_str()) {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            options,
            "<option value=\"{v}\"{sel}>label {l}</option>",
            v = esc(&value),
            l = esc(l)
        );
    }
    for v in versions {
        let value = format!("version:{v}");
        let sel = if picked == Some(value.as_str()) {
            " selected"
        } else {
            ""
        };
        let _ = write!(options, "<option value=\"{value}\"{sel}>v{v}</option>");
    }
    let skeleton = entry
        .latest()
        .map(|l| {
            let vars: Map<String, Value> = l
                .version
                .variables_schema
                .vars()
                .keys()
                .map(|k| (k.clone(), Value::String(String::new())))
                .collect();
            serde_json::to_string_pretty(&Value::Object(vars)).unwrap_or_default()
        })
        .unwrap_or_else(|| "{}".into());
    let schema = entry
        .latest()
        .map(|l| l.version.variables_schema.to_json().to_string())
        .unwrap_or_default();
    format!(
        "<h2>Render preview</h2><form method=\"post\" action=\"/ui/prompt/render\" class=\"stack\">{csrf}\
         <input type=\"hidden\" name=\"name\" value=\"{n}\">\
         <label>Version or label<select name=\"pick\">{options}</select></label>\
         <label for=\"variables\">Variables (JSON object; schema: <code>{schema}</code>)</label>\
         <textarea id=\"variables\" name=\"variables\">{vars}</textarea>\
         <button type=\"submit\">Render</button></form>",
        csrf = csrf_field(&viewer.csrf),
        n = esc(name),
        schema = esc(&schema),
        vars = esc(variables.unwrap_or(&skeleton)),
    )
}

/// Renders with the registry's renderer (the dry run of
/// `POST /v1/prompts/{name}/render`) and shows the upstream body.
pub async fn render(State(state): State<AppState>, posted: Posted) -> Response {
    let viewer = &posted.viewer;
    let name = posted.get("name").unwrap_or("").to_owned();
    let title = format!("Render {name}");
    let pick = posted.get("pick").unwrap_or("label:latest").to_owned();
    let variables = posted.get("variables").unwrap_or("{}").to_owned();
    let run = || -> ApiResult<(String, String)> {
        let vars: Value = serde_json::from_str(&variables).map_err(|e| {
            ApiError::invalid(format!("variables are not JSON: {e}"), Some("variables"))
        })?;
        let mut req = Map::new();
        req.insert("variables".into(), vars);
        match pick.split_once(':') {
            Some(("version", v)) => {
                let n: i64 = v
                    .parse()
                    .map_err(|_| ApiError::invalid("not a version", Some("pick")))?;
                req.insert("version".into(), Value::from(n));
            }
            Some(("label", l)) => {
                req.insert("label".into(), Value::String(l.to_owned()));
            }
            _ => return Err(ApiError::invalid("pick a version or a label", Some("pick"))),
        }
        let body =
            Bytes::from(serde_json::to_vec(&Value::Object(req)).map_err(ApiError::internal)?);
        let out = crate::http::prompts::render_preview(&state, &viewer.caller, &name, &body)?;
        let id = format!(
            "{}@{}",
            out["prompt"]["name"].as_str().unwrap_or(&name),
            out["prompt"]["version"]
        );
        let pretty = serde_json::to_string_pretty(&out["body"]).map_err(ApiError::internal)?;
        Ok((id, pretty))
    };
    let result = run();
    let snap = state.registry.snapshot();
    let Ok(entry) = entry(&snap, &name) else {
        return error_page(
            viewer,
            ACTIVE,
            &title,
            ApiError::NotFound(format!("prompt `{name}` not found")),
        );
    };
    let versions: Vec<i64> = entry.versions.keys().rev().copied().collect();
    let mut body = format!(
        "<p><a href=\"/ui/prompt?name={}\">Back to the prompt</a></p>",
        esc(&url(&name))
    );
    let status = match &result {
        Ok((id, pretty)) => {
            let _ = write!(
                body,
                "<h2>Upstream body of {}</h2><pre id=\"rendered\">{}</pre>",
                esc(id),
                esc(pretty)
            );
            None
        }
        Err(e) => {
            body.push_str(&notice("error", &e.to_string()));
            Some(e.status())
        }
    };
    body.push_str(&render_form(
        viewer,
        &name,
        entry,
        &versions,
        Some(&pick),
        Some(&shown_variables(entry, &variables)),
    ));
    let mut resp = page(viewer, ACTIVE, &title, &body);
    if let Some(s) = status {
        *resp.status_mut() = s;
    }
    resp
}

/// The posted variables as the form shows them again: a variable any version
/// of the prompt marks secret keeps its name but not its value (as in the
/// preview itself). Text that is not a JSON object is shown as it came; it
/// rendered nothing, so it holds no variable's value that went anywhere.
fn shown_variables(entry: &PromptEntry, posted: &str) -> String {
    let Ok(Value::Object(vars)) = serde_json::from_str::<Value>(posted) else {
        return posted.to_owned();
    };
    let masked = entry.versions.values().fold(vars.clone(), |vars, v| {
        v.version.variables_schema.masked(&vars)
    });
    if masked == vars {
        // Nothing secret: the text stays as it was typed.
        return posted.to_owned();
    }
    serde_json::to_string_pretty(&Value::Object(masked)).unwrap_or_default()
}
