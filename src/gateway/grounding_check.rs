//! The grounding stage: when a request carries RAG context (`grounding.context`,
//! or the prompt's grounding variable), the finished answer is scored against
//! it. Scoring runs once the answer is complete, so it never delays the first
//! token, and it cannot fail the request.

use serde::Deserialize;
use serde_json::Value;

use crate::api::{parse_field, ApiError};
use crate::grounding::judge::Tiers;
use crate::grounding::{GroundingReport, Scorer};

use super::body::RequestBody;
use super::call::Call;
use super::estimate;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroundingField {
    #[serde(default)]
    context: Option<Value>,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    tiers: Option<Value>,
    threshold: Option<f64>,
}

/// Passages from a JSON value: one string or a list of strings.
pub fn passages(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect(),
        _ => None,
    }
}

/// What the request's `grounding` field asks for.
#[derive(Debug, Default)]
pub struct Ask {
    /// `mode: "off"`: no scoring, not even against a prompt's grounding variable.
    pub off: bool,
    /// Passages given in the request (else the prompt's grounding variable applies).
    pub context: Option<Vec<String>>,
    /// `tiers`: which grounding tiers the request asks for.
    pub tiers: Option<Tiers>,
    /// Flag threshold for this request (else the configured one).
    pub threshold: Option<f64>,
}

/// Checks a request's flag threshold; `param` names the field in the error.
pub fn threshold(t: Option<f64>, param: &str) -> Result<Option<f64>, ApiError> {
    match t {
        Some(t) if !crate::grounding::valid_threshold(t) => Err(ApiError::invalid(
            format!("'{param}' must be a number between 0 and 1"),
            Some(param),
        )),
        t => Ok(t),
    }
}

/// Reads (and removes) the request's `grounding` field.
pub fn take_context(body: &mut RequestBody<'_>) -> Result<Ask, ApiError> {
    let Some(raw) = body.take("grounding") else {
        return Ok(Ask::default());
    };
    if raw.get() == "null" {
        return Ok(Ask::default());
    }
    let field: GroundingField = parse_field(raw.get(), "grounding")?;
    match field.mode.as_deref() {
        None | Some("score") => {}
        Some("off") => {
            return Ok(Ask {
                off: true,
                ..Ask::default()
            })
        }
        Some(other) => {
            return Err(ApiError::invalid(
                format!("'grounding.mode' must be \"score\" or \"off\", got {other:?}"),
                Some("grounding.mode"),
            ))
        }
    }
    let context = match field.context {
        None => None,
        Some(v) => Some(passages(&v).ok_or_else(|| {
            ApiError::invalid(
                "'grounding.context' must be a string or an array of strings",
                Some("grounding.context"),
            )
        })?),
    };
    let tiers = match field.tiers {
        None | Some(Value::Null) => None,
        Some(v) => Some(Tiers::parse(&v).map_err(|message| {
            ApiError::invalid(
                format!("'grounding.tiers' {message}"),
                Some("grounding.tiers"),
            )
        })?),
    };
    Ok(Ask {
        off: false,
        context,
        tiers,
        threshold: threshold(field.threshold, "grounding.threshold")?,
    })
}

/// Scores a complete JSON answer against the request's context, if any.
pub fn score_json(call: &mut Call<'_>, bytes: &[u8]) {
    let Some(context) = call.recorder.grounding_context() else {
        return;
    };
    let Ok(answer) = serde_json::from_slice::<Value>(bytes) else {
        return;
    };
    // An answer that repeats a secret variable is scored without it, so no
    // claim, evidence or reason (which quote single words) can carry it.
    let text = super::redact::strike(
        &estimate::answer_text(call.endpoint, &answer),
        call.recorder.secrets(),
    );
    let threshold = call.recorder.grounding_threshold();
    let started = std::time::Instant::now();
    if let Some(report) = score(&call.state.grounding, context, &text, threshold) {
        call.recorder.set_grounding(report);
    }
    call.recorder.trace().grounding_checked(started);
}

/// Scores an answer (flagged below `threshold`, else the scorer's configured
/// threshold); a scorer fault is logged and yields no report.
pub fn score(
    scorer: &Scorer,
    context: &[String],
    answer: &str,
    threshold: Option<f64>,
) -> Option<GroundingReport> {
    let started = std::time::Instant::now();
    let t = threshold.unwrap_or_else(|| scorer.threshold());
    let report = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        scorer.score_at(context, answer, t)
    }));
    metrics::histogram!("promptgate_grounding_seconds").record(started.elapsed().as_secs_f64());
    match report {
        Ok(r) => {
            if r.flagged {
                metrics::counter!("promptgate_grounding_flagged_total").increment(1);
            }
            Some(r)
        }
        Err(_) => {
            tracing::error!("grounding scorer panicked; answer left unscored");
            None
        }
    }
}
