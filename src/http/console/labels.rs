//! A prompt's labels on its console page: where each points, its guard and
//! history, and (admin) the forms that move it: to a version, back to where
//! it pointed before, or to new rollout weights. Every move goes through a
//! confirmation page, then the label route's own code
//! ([`crate::http::prompt_labels::set_label`]).

use std::fmt::Write as _;

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{json, Value};

use super::html::{csrf_field, esc, table, url};
use super::session::{error_page, page, Posted, Viewer};
use crate::api::{ApiError, ApiResult};
use crate::registry::guard::{read_label, read_label_text, Guard};
use crate::registry::live::PromptEntry;
use crate::registry::{RolloutEntry, Target};
use crate::state::AppState;

const ACTIVE: &str = "/ui/prompts";

/// A label's target in words: `v3`, or `v2 90 % · v3 10 %`.
pub fn target_text(t: &Target) -> String {
    match t {
        Target::Version(v) => format!("v{v}"),
        Target::Rollout(entries) => {
            let total: u32 = entries.iter().map(|e| e.weight).sum::<u32>().max(1);
            entries
                .iter()
                .map(|e| {
                    format!(
                        "v{} weight {} ({:.0} %)",
                        e.version,
                        e.weight,
                        f64::from(e.weight) * 100.0 / f64::from(total)
                    )
                })
                .collect::<Vec<_>>()
                .join(" · ")
        }
    }
}

/// A label's stored guard, if it has one (the guard rides in the stored
/// label, not in the registry's in-memory target).
async fn guards(state: &AppState, name: &str) -> ApiResult<Vec<(String, Guard)>> {
    Ok(state
        .store
        .all_prompt_labels()
        .await?
        .into_iter()
        .filter(|r| r.name == name)
        .filter_map(|r| {
            let (_, g) = read_label_text(&r.target).ok()?;
            Some((r.label, g?))
        })
        .collect())
}

pub fn guard_text(g: &Guard) -> String {
    let metric = serde_json::to_value(g.metric)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    format!(
        "{metric}: fires when worse than the baseline by more than {} (with 95 % confidence), after {} requests a side",
        g.max_worse_by, g.min_samples
    )
}

/// Stored label JSON in words.
fn stored_text(json: Option<&str>) -> String {
    match json.map(read_label_text) {
        None => "(none)".into(),
        Some(Ok((t, _))) => target_text(&t),
        Some(Err(_)) => json.unwrap_or_default().to_owned(),
    }
}

/// The labels section of a prompt's page.
pub async fn section(
    state: &AppState,
    viewer: &Viewer,
    name: &str,
    entry: &PromptEntry,
) -> ApiResult<String> {
    let guards = guards(state, name).await?;
    let mut out = String::from("<h2>Labels</h2>");
    if entry.labels.is_empty() {
        out.push_str("<p class=\"hint\">No labels: requests get the latest version.</p>");
    }
    for (label, target) in &entry.labels {
        let guard = guards.iter().find(|(l, _)| l == label).map(|(_, g)| g);
        let _ = write!(
            out,
            "<section aria-labelledby=\"label-{id}\"><h3 id=\"label-{id}\">{l}</h3>\
             <p>Points at <strong class=\"target\">{t}</strong></p>",
            id = esc(&url(label)),
            l = esc(label),
            t = esc(&target_text(target)),
        );
        if let Some(g) = guard {
            let _ = write!(out, "<p>Guard: {}</p>", esc(&guard_text(g)));
        }
        // newest first
        let moves = state.store.label_history(name, label).await?;
        let rows: Vec<Vec<String>> = moves
            .iter()
            .take(20)
            .map(|m| {
                vec![
                    esc(&crate::time::rfc3339(m.at)),
                    esc(&stored_text(m.from_target.as_deref())),
                    esc(&stored_text(Some(&m.to_target))),
                    esc(m.actor.as_deref().unwrap_or("")),
                    esc(m.reason.as_deref().unwrap_or("")),
                ]
            })
            .collect();
        out.push_str(&table(
            &format!("History of {label}, newest first"),
            &["at", "from", "to", "by", "reason"],
            &rows,
        ));
        if viewer.is_admin() {
            let previous = moves.first().and_then(|m| m.from_target.clone());
            out.push_str(&forms(
                viewer,
                name,
                label,
                target,
                entry,
                previous.as_deref(),
            ));
        }
        out.push_str("</section>");
    }
    if viewer.is_admin() {
        out.push_str(&new_label_form(viewer, name, entry));
    }
    Ok(out)
}

fn hidden(name: &str, label: &str, csrf: &str, op: &str) -> String {
    format!(
        "{}<input type=\"hidden\" name=\"name\" value=\"{}\"><input type=\"hidden\" name=\"label\" value=\"{}\">\
         <input type=\"hidden\" name=\"op\" value=\"{op}\">",
        csrf_field(csrf),
        esc(name),
        esc(label)
    )
}

fn version_select(entry: &PromptEntry, id: &str, pick: Option<i64>) -> String {
    let mut s = format!("<select id=\"{id}\" name=\"version\">");
    for v in entry.versions.keys().rev() {
        let sel = if Some(*v) == pick { " selected" } else { "" };
        let _ = write!(s, "<option value=\"{v}\"{sel}>v{v}</option>");
    }
    s.push_str("</select>");
    s
}

/// The admin's forms for one label.
fn forms(
    viewer: &Viewer,
    name: &str,
    label: &str,
    target: &Target,
    entry: &PromptEntry,
    previous: Option<&str>,
) -> String {
    let key = esc(&url(label));
    let mut out = format!(
        "<form method=\"post\" action=\"/ui/prompt/label\" class=\"inline\" aria-label=\"Promote {l}\">{h}\
         <label for=\"promote-{key}\">Move {l} to</label>{sel}<button type=\"submit\">Promote…</button></form>",
        l = esc(label),
        h = hidden(name, label, &viewer.csrf, "version"),
        sel = version_select(entry, &format!("promote-{key}"), entry.versions.keys().next_back().copied()),
    );
    if let Some(prev) = previous {
        let _ = write!(
            out,
            "<form method=\"post\" action=\"/ui/prompt/label\" class=\"inline\" aria-label=\"Roll back {l}\">{h}\
             <input type=\"hidden\" name=\"target\" value=\"{p}\">\
             <button type=\"submit\" class=\"secondary\">Roll back to {pt}…</button></form>",
            l = esc(label),
            h = hidden(name, label, &viewer.csrf, "rollback"),
            p = esc(prev),
            pt = esc(&stored_text(Some(prev))),
        );
    }
    // Weights: one field per version, 0 leaves a version out.
    let current = |v: i64| match target {
        Target::Version(t) => u32::from(*t == v) * 100,
        Target::Rollout(es) => es.iter().find(|e| e.version == v).map_or(0, |e| e.weight),
    };
    let _ = write!(
        out,
        "<form method=\"post\" action=\"/ui/prompt/label\" class=\"inline\" aria-label=\"Rollout weights of {l}\">{h}",
        l = esc(label),
        h = hidden(name, label, &viewer.csrf, "weights"),
    );
    for v in entry.versions.keys().rev() {
        let _ = write!(
            out,
            "<label>weight of v{v}<input type=\"number\" min=\"0\" max=\"1000000\" name=\"weight_{v}\" value=\"{w}\"></label>",
            w = current(*v),
        );
    }
    out.push_str("<button type=\"submit\">Change weights…</button></form>");
    out
}

fn new_label_form(viewer: &Viewer, name: &str, entry: &PromptEntry) -> String {
    format!(
        "<h3>Point a new label</h3><form method=\"post\" action=\"/ui/prompt/label\" class=\"inline\" aria-label=\"Point a new label\">\
         {csrf}<input type=\"hidden\" name=\"name\" value=\"{n}\"><input type=\"hidden\" name=\"op\" value=\"version\">\
         <label>Label<input name=\"label\" required></label><label for=\"new-label-version\">Version</label>{sel}\
         <button type=\"submit\">Point…</button></form>",
        csrf = csrf_field(&viewer.csrf),
        n = esc(name),
        sel = version_select(entry, "new-label-version", entry.versions.keys().next_back().copied()),
    )
}

/// The label body a posted form asks for, with the label's guard kept
/// when it stays a rollout.
async fn wanted(state: &AppState, posted: &Posted, name: &str, label: &str) -> ApiResult<Value> {
    let target = match posted.get("op") {
        Some("version") => {
            let v: i64 = posted
                .get("version")
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| ApiError::invalid("pick a version", Some("version")))?;
            Target::Version(v)
        }
        Some("rollback") => {
            let text = posted
                .get("target")
                .ok_or_else(|| ApiError::invalid("nothing to roll back to", Some("target")))?;
            read_label_text(text)
                .map_err(|e| ApiError::invalid(e.message, Some(&e.field)))?
                .0
        }
        Some("weights") => {
            let mut entries = Vec::new();
            for (k, v) in &posted.fields {
                let Some(version) = k.strip_prefix("weight_").and_then(|n| n.parse().ok()) else {
                    continue;
                };
                let weight: u32 = v.trim().parse().map_err(|_| {
                    ApiError::invalid(
                        format!("weight of v{version} must be a whole number ≥ 0"),
                        Some(k),
                    )
                })?;
                if weight > 0 {
                    entries.push(RolloutEntry { version, weight });
                }
            }
            match entries.as_slice() {
                [] => {
                    return Err(ApiError::invalid(
                        "give at least one version a weight above 0",
                        Some("weight"),
                    ))
                }
                [one] => Target::Version(one.version),
                _ => Target::Rollout(entries),
            }
        }
        _ => return Err(ApiError::invalid("unknown label operation", Some("op"))),
    };
    let mut body = json!(target);
    if matches!(target, Target::Rollout(_)) {
        if let Some((_, g)) = guards(state, name)
            .await?
            .into_iter()
            .find(|(l, _)| l == label)
        {
            body["guard"] = json!(g);
        }
    }
    Ok(body)
}

/// The confirmation page of a label move: what it points at now, what it
/// will point at, and a form that carries the exact body to apply.
pub async fn confirm(State(state): State<AppState>, posted: Posted) -> Response {
    let viewer = &posted.viewer;
    let name = posted.get("name").unwrap_or("").to_owned();
    let label = posted.get("label").unwrap_or("").to_owned();
    let title = format!("Move {label} of {name}?");
    let run = async {
        viewer.caller.require_admin()?;
        let body = wanted(&state, &posted, &name, &label).await?;
        let (target, guard) =
            read_label(body.clone()).map_err(|e| ApiError::invalid(e.message, Some(&e.field)))?;
        let now = state
            .registry
            .snapshot()
            .prompts
            .get(&name)
            .and_then(|e| e.labels.get(&label).map(target_text))
            .unwrap_or_else(|| "(nothing yet)".into());
        let guard = guard
            .map(|g| format!("<p>The guard stays: {}</p>", esc(&guard_text(&g))))
            .unwrap_or_default();
        Ok::<_, ApiError>(format!(
            "<p>Label <strong>{l}</strong> of <strong>{n}</strong> points at <strong>{now}</strong>.</p>\
             <p>After this it will point at <strong id=\"new-target\">{new}</strong>; requests using the label get it within seconds on every replica.</p>{guard}\
             <form method=\"post\" action=\"/ui/prompt/label/apply\" class=\"inline\">{csrf}\
             <input type=\"hidden\" name=\"name\" value=\"{ne}\"><input type=\"hidden\" name=\"label\" value=\"{le}\">\
             <input type=\"hidden\" name=\"body\" value=\"{b}\">\
             <button type=\"submit\" id=\"confirm\">Confirm</button> <a href=\"/ui/prompt?name={nu}\">Cancel</a></form>",
            l = esc(&label),
            n = esc(&name),
            now = esc(&now),
            new = esc(&target_text(&target)),
            csrf = csrf_field(&viewer.csrf),
            ne = esc(&name),
            le = esc(&label),
            b = esc(&body.to_string()),
            nu = esc(&url(&name)),
        ))
    };
    match run.await {
        Ok(body) => page(viewer, ACTIVE, &title, &body),
        Err(e) => error_page(viewer, ACTIVE, &title, e),
    }
}

/// Applies a confirmed move, then goes back to the prompt's page.
pub async fn apply(State(state): State<AppState>, posted: Posted) -> Response {
    let viewer = &posted.viewer;
    let name = posted.get("name").unwrap_or("").to_owned();
    let label = posted.get("label").unwrap_or("").to_owned();
    let run = async {
        let body: Value = serde_json::from_str(posted.get("body").unwrap_or(""))
            .map_err(|e| ApiError::invalid(format!("body: {e}"), Some("body")))?;
        crate::http::prompt_labels::set_label(&state, &viewer.caller, &name, &label, body).await
    };
    match run.await {
        Ok(_) => Redirect::to(&format!(
            "/ui/prompt?name={}&moved={}",
            url(&name),
            url(&label)
        ))
        .into_response(),
        Err(e) => error_page(viewer, ACTIVE, &format!("Move {label} of {name}"), e),
    }
}
