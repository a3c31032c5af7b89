//! `GET /v1/costs`: totals per group, as JSON or CSV. Team keys
//! see their own team only; the admin key sees every team.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::extract::{AppQuery, Auth};
use super::openapi::responses;
use super::openapi::schemas as doc;
use super::team_scope::scoped_team;
use crate::api::{ApiError, ApiResult};
use crate::auth::Caller;
use crate::costs::report::{metric_values, CostsQuery, METRICS};
use crate::state::AppState;
use crate::store::{Dim, ReportQuery, ReportRow};

/// RFC 3339 timestamps or plain `YYYY-MM-DD` dates (UTC midnight).
pub fn parse_time(s: &str, param: &str) -> Result<i64, ApiError> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc().timestamp_millis());
        }
    }
    Err(ApiError::invalid(
        format!("'{param}' must be an RFC 3339 time or a YYYY-MM-DD date, got {s:?}"),
        Some(param),
    ))
}

/// The store query a [`CostsQuery`] asks for, for `caller`: the date range
/// (default the last 30 days), the group-by dimensions and the team scope.
/// Shared by the JSON route and the web console.
pub fn report_query(caller: &Caller, q: &CostsQuery) -> Result<ReportQuery, ApiError> {
    let now = crate::time::now_ms();
    let to_ms =
        q.to.as_deref()
            .map(|t| parse_time(t, "to"))
            .transpose()?
            .unwrap_or(now + 1);
    let from_ms = q
        .from
        .as_deref()
        .map(|t| parse_time(t, "from"))
        .transpose()?
        .unwrap_or(to_ms - 30 * 86_400_000);
    if from_ms >= to_ms {
        return Err(ApiError::invalid(
            "'from' must be before 'to'",
            Some("from"),
        ));
    }
    let mut group_by = Vec::new();
    for part in q
        .group_by
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let dim = Dim::parse(part).ok_or_else(|| {
            ApiError::invalid(
                format!("unknown group_by dimension {part:?} (team, key, model, prompt, version, day, tag)"),
                Some("group_by"),
            )
        })?;
        if !group_by.contains(&dim) {
            group_by.push(dim);
        }
    }
    let team = scoped_team(caller, q.team.clone())?;
    Ok(ReportQuery {
        from_ms,
        to_ms,
        team,
        group_by,
    })
}

/// A report as CSV (RFC 4180: CRLF line ends, quoting where needed): the
/// group-by columns, then [`METRICS`].
pub fn report_csv(group_by: &[Dim], rows: &[ReportRow]) -> Result<Vec<u8>, ApiError> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let header: Vec<&str> = group_by.iter().map(|d| d.name()).chain(METRICS).collect();
    w.write_record(&header).map_err(ApiError::internal)?;
    for r in rows {
        let mut rec: Vec<String> = r
            .keys
            .iter()
            .map(|k| k.clone().unwrap_or_default())
            .collect();
        rec.extend(metric_values(r));
        w.write_record(&rec).map_err(ApiError::internal)?;
    }
    w.into_inner().map_err(ApiError::internal)
}

/// A CSV download answer.
pub fn csv_response(bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"promptgate-costs.csv\"",
            ),
        ],
        bytes,
    )
        .into_response()
}

/// Cost totals per group, as JSON or CSV
///
/// A team key sees only its own team (asking for another `team` → 404); the admin key sees every team, or one with `team`. Counts the request records with `created_at` in [`from`, `to`). Money is exact: decimal strings in JSON, never floats (the ledger stores pico-USD). Unknown query parameters → 400.
#[utoipa::path(
    get, path = "/v1/costs", tag = "costs", operation_id = "costReport",
    params(
        ("from" = Option<String>, Query, description = "RFC 3339 time or `YYYY-MM-DD` (UTC midnight). Default: 30 days before `to`."),
        ("to" = Option<String>, Query, description = "RFC 3339 time or `YYYY-MM-DD` (exclusive). Default: now."),
        ("group_by" = Option<String>, Query, description = "Comma-separated dimensions: `team`, `key`, `model`, `prompt`, `version`, `day` (UTC), `tag` (`metadata.tags`). Empty: one row of totals.", example = json!("team,model")),
        ("format" = inline(Option<doc::CostReportFormat>), Query, description = "Default: `json`."),
        ("team" = Option<String>, Query),
    ),
    responses(
        (status = 200, description = "The report. CSV (`text/csv; charset=utf-8`, `content-disposition: attachment; filename=\"promptgate-costs.csv\"`, RFC 4180 with CRLF line ends) has one header line with the dimensions and totals and one line per group.", content((doc::CostReport = "application/json", example = json!({"object": "cost_report", "from": "2026-10-28T10:53:38.630Z", "to": "2026-11-27T10:53:38.630Z", "group_by": ["team", "model"], "rows": [{"team": "support", "model": "mock-1", "requests": 6, "input_tokens": 158, "output_tokens": 105, "cached_tokens": 0, "cost_usd": "0.000244", "cache_hits": 3, "saved_usd": "0.000124", "unpriced_requests": 0}]})), (String = "text/csv", example = json!("prompt,version,requests,input_tokens,output_tokens,cached_tokens,cost_usd,cache_hits,saved_usd,unpriced_requests\r\n,,7,84,110,0,0.00018,3,0.000124,0\r\nsupport/rag-answer,1,1,110,17,0,0.000144,0,0,0\r\n")))),
        (status = 400, description = "A bad time, `from` not before `to`, an unknown dimension or format, or an unknown parameter.", content((doc::Error = "application/json", examples(("dimension" = (value = json!({"error": {"message": "unknown group_by dimension \"week\" (team, key, model, prompt, version, day, tag)", "type": "invalid_request_error", "param": "group_by", "code": null}}))))))),
        (status = 401, response = responses::Unauthorized), (status = 404, response = responses::NotFound),
    ),
)]
pub async fn report(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppQuery(q): AppQuery<CostsQuery>,
) -> ApiResult<Response> {
    let query = report_query(&caller, &q)?;
    let (from_ms, to_ms, group_by) = (query.from_ms, query.to_ms, query.group_by.clone());
    let rows = state.store.cost_report(&query).await?;
    let from = crate::time::rfc3339(from_ms);
    let to = crate::time::rfc3339(to_ms);
    match q.format.as_deref().unwrap_or("json") {
        "json" => {
            let out: Vec<Value> = rows
                .iter()
                .map(|r| {
                    let mut row = Map::new();
                    for (d, k) in group_by.iter().zip(&r.keys) {
                        row.insert(
                            d.name().into(),
                            k.clone().map_or(Value::Null, Value::String),
                        );
                    }
                    let values = metric_values(r);
                    for (name, v) in METRICS.iter().zip(values) {
                        // Counts as numbers, money as decimal strings (never floats).
                        let value = if name.ends_with("_usd") {
                            Value::String(v)
                        } else {
                            v.parse::<i64>().map(Value::from).unwrap_or(Value::Null)
                        };
                        row.insert((*name).into(), value);
                    }
                    Value::Object(row)
                })
                .collect();
            let names: Vec<&str> = group_by.iter().map(|d| d.name()).collect();
            Ok(Json(json!({"object": "cost_report", "from": from, "to": to, "group_by": names, "rows": out})).into_response())
        }
        "csv" => Ok(csv_response(report_csv(&group_by, &rows)?)),
        other => Err(ApiError::invalid(
            format!("format must be json or csv, got {other:?}"),
            Some("format"),
        )),
    }
}
