//! `GET /v1/prompts/{name}/report` (a label's rollout, version by version)
//! and `GET /v1/monitoring/drift` (what moved). Team keys see their team's
//! records; the admin key every team's (or the one it names).

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::costs::parse_time;
use super::openapi::responses;
use super::openapi::schemas as doc;
use super::team_scope::scoped_team;
use crate::api::{ApiError, ApiResult};
use crate::auth::Caller;
use crate::experiments::{rollout_report, ReportRequest};
use crate::registry::DEFAULT_LABEL;
use crate::state::AppState;

/// The query of a report (read with the rest of `/v1/prompts/…`'s query).
pub struct ReportParams {
    pub label: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub baseline: Option<i64>,
    pub team: Option<String>,
}

/// A label's rollout report: per-version metrics with 95 % intervals, candidates against the baseline
///
/// Aggregated in SQL over the request records of the prompt in [`from`, `to`). A team key sees its own team's records (another `team` → 404); the admin key every team's, or one with `team`. `report` cannot be part of a prompt name.
#[utoipa::path(
    get, path = "/v1/prompts/{name}/report", tag = "prompts", operation_id = "promptReport",
    params(
        ("name" = String, Path, description = "Prompt name, `[a-z0-9][a-z0-9._/-]*` (at most 128 characters, every `/`-separated segment starting with a letter or digit). Names may contain `/` (sub-folders of `prompts/`), which is sent as it is: `/v1/prompts/support/rag-answer/versions`. The path is read from the right, so a name may not contain the segments `versions`, `labels`, `diff`, `render`, `history` or `report` (creating such a name → 400).", example = json!("support/rag-answer")),
        ("label" = Option<String>, Query, description = "The label whose rollout is reported (default `production`); unknown → 400 `label`."),
        ("from" = Option<String>, Query, description = "RFC 3339 time or `YYYY-MM-DD`. Default: when the label moved into its rollout, else 30 days before `to`."),
        ("to" = Option<String>, Query, description = "RFC 3339 time or `YYYY-MM-DD` (exclusive). Default: now."),
        ("baseline" = Option<i64>, Query, description = "Compare against this version instead of the one before the rollout."),
        ("team" = Option<String>, Query, description = "Admin key only: one team's records."),
    ),
    responses(
        (status = 200, description = "The report.", content((doc::RolloutReport = "application/json"))),
        (status = 400, description = "A bad time, `from` not before `to`, an unknown dimension or format, or an unknown parameter.", content((doc::Error = "application/json", examples(("dimension" = (value = json!({"error": {"message": "unknown group_by dimension \"week\" (team, key, model, prompt, version, day, tag)", "type": "invalid_request_error", "param": "group_by", "code": null}}))))))),
        (status = 401, response = responses::Unauthorized), (status = 404, response = responses::NotFound),
    ),
)]
pub async fn report(
    state: &AppState,
    caller: &Caller,
    name: &str,
    q: ReportParams,
) -> ApiResult<Response> {
    report_json(state, caller, name, q)
        .await
        .map(|v| Json(v).into_response())
}

/// The report's JSON (what the route answers and the console shows).
pub async fn report_json(
    state: &AppState,
    caller: &Caller,
    name: &str,
    q: ReportParams,
) -> ApiResult<Value> {
    let label = q.label.unwrap_or_else(|| DEFAULT_LABEL.to_owned());
    let snap = state.registry.snapshot();
    let entry = snap
        .prompts
        .get(name)
        .ok_or_else(|| ApiError::NotFound(format!("prompt `{name}` not found")))?;
    let current = entry.labels.get(&label).ok_or_else(|| {
        ApiError::invalid(
            format!("prompt `{name}` has no label `{label}`"),
            Some("label"),
        )
    })?;
    let to_ms = match q.to.as_deref() {
        Some(t) => parse_time(t, "to")?,
        None => crate::time::now_ms() + 1,
    };
    let from_ms = q
        .from
        .as_deref()
        .map(|t| parse_time(t, "from"))
        .transpose()?;
    if from_ms.is_some_and(|f| f >= to_ms) {
        return Err(ApiError::invalid(
            "'from' must be before 'to'",
            Some("from"),
        ));
    }
    if let Some(b) = q.baseline {
        if !entry.versions.contains_key(&b) {
            return Err(ApiError::invalid(
                format!("prompt `{name}` has no version {b}"),
                Some("baseline"),
            ));
        }
    }
    let req = ReportRequest {
        name,
        label: &label,
        current,
        from_ms,
        to_ms,
        team: scoped_team(caller, q.team)?,
        baseline: q.baseline,
        min_samples: state.config.experiments.min_samples,
    };
    let report = rollout_report(state.store.as_ref(), &req).await?;
    let mut out = json!({
        "object": "prompt.report",
        "name": name,
        "label": label,
        "target": current,
        "from": crate::time::rfc3339(report.from_ms),
        "to": crate::time::rfc3339(report.to_ms),
    });
    if let (Value::Object(out), Ok(Value::Object(body))) = (&mut out, serde_json::to_value(&report))
    {
        out.extend(body);
    }
    Ok(out)
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DriftQuery {
    /// Start of the recent window (default: `drift_recent_ms` ago).
    pub since: Option<String>,
    /// Start of the reference window (default: `drift_reference_ms` before `since`).
    pub reference_from: Option<String>,
    pub team: Option<String>,
}

// `GET /v1/monitoring/drift`: the metrics that moved, per prompt version
// (and model, for raw calls), over the caller's records.
/// Prompt versions (and raw-call models) whose metrics moved
///
/// Compares the recent window (default `experiments.drift_recent_ms`, ending now) with the reference window before it (default `experiments.drift_reference_ms`): flag rate by a two-proportion z test, mean grounding score, output tokens and cost per request by Welch's interval; each window needs `experiments.drift_min_samples` records. A team key sees its own team's records.
#[utoipa::path(
    get, path = "/v1/monitoring/drift", tag = "experiments", operation_id = "drift",
    params(
        ("since" = Option<String>, Query, description = "Start of the recent window (RFC 3339 or `YYYY-MM-DD`)."),
        ("reference_from" = Option<String>, Query, description = "Start of the reference window."),
        ("team" = Option<String>, Query, description = "Admin key only: one team's records."),
    ),
    responses(
        (status = 200, description = "What moved.", content((doc::DriftList = "application/json"))),
        (status = 400, description = "A bad time, `from` not before `to`, an unknown dimension or format, or an unknown parameter.", content((doc::Error = "application/json", examples(("dimension" = (value = json!({"error": {"message": "unknown group_by dimension \"week\" (team, key, model, prompt, version, day, tag)", "type": "invalid_request_error", "param": "group_by", "code": null}}))))))),
        (status = 401, response = responses::Unauthorized), (status = 404, response = responses::NotFound),
    ),
)]
pub async fn drift(
    axum::extract::State(state): axum::extract::State<AppState>,
    super::extract::Auth(caller): super::extract::Auth,
    super::extract::AppQuery(q): super::extract::AppQuery<DriftQuery>,
) -> ApiResult<Response> {
    drift_json(&state, &caller, q)
        .await
        .map(|v| Json(v).into_response())
}

/// The drift list's JSON (what the route answers and the console shows).
pub async fn drift_json(state: &AppState, caller: &Caller, q: DriftQuery) -> ApiResult<Value> {
    let config = &state.config.experiments;
    let mut w = crate::experiments::monitor::Monitor::windows(config, crate::time::now_ms());
    if let Some(since) = q.since.as_deref() {
        w.split_ms = parse_time(since, "since")?;
        w.reference_from_ms = w.split_ms - config.drift_reference_ms as i64;
    }
    if let Some(from) = q.reference_from.as_deref() {
        w.reference_from_ms = parse_time(from, "reference_from")?;
    }
    if w.reference_from_ms >= w.split_ms || w.split_ms >= w.to_ms {
        return Err(ApiError::invalid(
            "the reference window must start before 'since', and 'since' be in the past",
            Some("since"),
        ));
    }
    let team = scoped_team(caller, q.team)?;
    let (_, drifts) =
        crate::experiments::drift::detect(state.store.as_ref(), w, team, config.drift_min_samples)
            .await?;
    Ok(json!({
        "object": "list",
        "reference_window": {"from": crate::time::rfc3339(w.reference_from_ms),
                             "to": crate::time::rfc3339(w.split_ms)},
        "recent_window": {"from": crate::time::rfc3339(w.split_ms),
                          "to": crate::time::rfc3339(w.to_ms)},
        "min_samples": config.drift_min_samples,
        "data": drifts,
    }))
}
