//! What the judge tier returns, how it fails, and how its verdict joins the
//! fast tier's in one grounding report.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::config::FlagRule;

/// The judge's verdict on one answer.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct JudgeReport {
    pub model: String,
    /// Supported claims / claims (1.0 for an answer without claims).
    pub score: f64,
    /// `score < threshold`
    pub flagged: bool,
    pub threshold: f64,
    pub claims: Vec<JudgedClaim>,
    /// The verdict came from the verdict cache (no judge call).
    #[serde(default)]
    pub cached: bool,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct JudgedClaim {
    pub text: String,
    /// The judge said supported and its quote is in the context.
    pub supported: bool,
    /// The judge's quote, as it gave it.
    pub quote: String,
    /// Whether the quote was found in the context.
    pub quote_found: bool,
    /// The judge's reason, or why its verdict was overruled.
    pub reason: String,
}

/// Why there is no verdict. The fast tier's result stands.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JudgeError {
    #[error("the judge did not answer within {0} ms")]
    Timeout(u64),
    #[error("the judge call failed with status {status}: {message}")]
    Status { status: u16, message: String },
    #[error("the judge's answer is not a valid verdict: {0}")]
    Invalid(String),
    /// The calling team's budget cannot pay for the judge call.
    #[error("the judge call was refused: {0}")]
    Budget(String),
}

impl JudgeError {
    /// A short, header-safe name of the failure.
    pub fn code(&self) -> &'static str {
        match self {
            JudgeError::Timeout(_) => "timeout",
            JudgeError::Status { .. } => "upstream_error",
            JudgeError::Invalid(_) => "invalid_verdict",
            JudgeError::Budget(_) => "budget_exceeded",
        }
    }
}

pub type JudgeOutcome = Result<JudgeReport, JudgeError>;

impl JudgeReport {
    /// Builds the report from per-claim results.
    pub fn new(model: &str, threshold: f64, claims: Vec<JudgedClaim>) -> JudgeReport {
        let supported = claims.iter().filter(|c| c.supported).count();
        let score = if claims.is_empty() {
            1.0
        } else {
            supported as f64 / claims.len() as f64
        };
        JudgeReport {
            model: model.to_owned(),
            score,
            flagged: score < threshold,
            threshold,
            claims,
            cached: false,
        }
    }
}

/// The final flag from the tiers that gave one (`None`: neither did).
pub fn combined_flag(rule: FlagRule, fast: Option<bool>, judge: Option<bool>) -> Option<bool> {
    match rule {
        FlagRule::Fast => fast.or(judge),
        FlagRule::Judge => judge.or(fast),
        FlagRule::Either => match (fast, judge) {
            (Some(a), Some(b)) => Some(a || b),
            (a, b) => a.or(b),
        },
    }
}

/// Writes the judge's outcome into a grounding report object (`judge`, or
/// `judge_error` with its reason) and the `combined` verdict; returns the
/// combined flag. `fast` is the fast tier's flag when it ran.
pub fn annotate(
    report: &mut Value,
    outcome: &JudgeOutcome,
    rule: FlagRule,
    fast: Option<bool>,
) -> Option<bool> {
    if !report.is_object() {
        *report = json!({});
    }
    let judge_flag = match outcome {
        Ok(verdict) => {
            report["judge"] = serde_json::to_value(verdict).unwrap_or(Value::Null);
            Some(verdict.flagged)
        }
        Err(e) => {
            report["judge_error"] = json!({"code": e.code(), "message": e.to_string()});
            None
        }
    };
    let flagged = combined_flag(rule, fast, judge_flag);
    report["combined"] = json!({"flagged": flagged, "rule": rule.as_str()});
    flagged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(supported: bool) -> JudgedClaim {
        JudgedClaim {
            text: "c".into(),
            supported,
            quote: String::new(),
            quote_found: supported,
            reason: String::new(),
        }
    }

    #[test]
    fn score_is_the_share_of_supported_claims() {
        let r = JudgeReport::new("m", 1.0, vec![claim(true), claim(false), claim(true)]);
        assert!((r.score - 2.0 / 3.0).abs() < 1e-12);
        assert!(r.flagged);
        let r = JudgeReport::new("m", 0.5, vec![claim(true), claim(false), claim(true)]);
        assert!(!r.flagged);
        assert_eq!(JudgeReport::new("m", 1.0, vec![]).score, 1.0);
    }

    #[test]
    fn flag_rules() {
        use FlagRule::*;
        assert_eq!(combined_flag(Fast, Some(false), Some(true)), Some(false));
        assert_eq!(combined_flag(Judge, Some(false), Some(true)), Some(true));
        assert_eq!(combined_flag(Judge, Some(true), Some(false)), Some(false));
        assert_eq!(combined_flag(Judge, Some(true), None), Some(true));
        assert_eq!(combined_flag(Either, Some(false), Some(true)), Some(true));
        assert_eq!(combined_flag(Either, Some(true), Some(false)), Some(true));
        assert_eq!(combined_flag(Either, Some(false), Some(false)), Some(false));
        assert_eq!(combined_flag(Either, None, None), None);
    }

    #[test]
    fn annotate_records_the_error_and_keeps_the_fast_flag() {
        let mut report = json!({"score": 0.2, "flagged": true});
        let flagged = annotate(
            &mut report,
            &Err(JudgeError::Timeout(200)),
            FlagRule::Judge,
            Some(true),
        );
        assert_eq!(flagged, Some(true));
        assert_eq!(report["judge_error"]["code"], "timeout");
        assert!(report["judge_error"]["message"]
            .as_str()
            .unwrap()
            .contains("200 ms"));
        assert_eq!(
            report["combined"],
            json!({"flagged": true, "rule": "judge"})
        );
        assert_eq!(report["score"], 0.2);
    }
}
