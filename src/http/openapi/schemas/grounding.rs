//! Schemas of grounding scores (fast tier and judge).
//!
//! These types describe JSON the handlers read or write (several build it
//! with `json!`); they exist for the OpenAPI document and are never
//! constructed.

// Types for the document only: never constructed, their fields never read.
#![allow(dead_code, unused_imports)]

use serde_json::json;

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum GroundingScoreRequestTiersItem {
    #[serde(rename = "fast")]
    Fast,
    #[serde(rename = "judge")]
    Judge,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct GroundingClaim {
    pub text: String,
    /// Code point offset of the claim in the answer (Python `answer[start:end]`).
    pub start: i64,
    /// Code point offset one past the claim's end.
    pub end: i64,
    /// The model's probability that the claim, on its own, is supported by the context.
    #[schema(minimum = 0, maximum = 1)]
    pub support: f64,
    /// The best-matching context sentence (empty when nothing matches).
    pub evidence: String,
    /// Why the claim lost support, most important first.
    pub reasons: Vec<String>,
}

/// Output of the grounding scorer (fast tier: lexical signals, CPU only, no model). Method and evaluation: `docs/grounding.md`.
#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct GroundingReport {
    /// Probability that the answer is supported by the context (a fixed-weight sum of the claims' signals, calibrated on the evaluation data; an answer in which nothing unsupported is found scores 1.0, whose calibrated probability is the model's top value, 0.729 with the shipped weights).
    #[schema(minimum = 0, maximum = 1)]
    pub score: f64,
    /// `score < threshold`.
    pub flagged: bool,
    /// The threshold applied: the request's, else the configured `grounding.threshold`, else the one shipped with the weights.
    pub threshold: f64,
    pub claims: Vec<GroundingClaim>,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct JudgeClaim {
    pub text: String,
    /// The judge said supported and its quote is in the context.
    pub supported: bool,
    /// The judge's quote, as given.
    pub quote: String,
    /// Whether the quote is in the context (after NFKC, case and whitespace normalisation).
    pub quote_found: bool,
    /// The judge's reason, or why its verdict was overruled (`the quote is not in the context`).
    pub reason: String,
}

/// The judge tier's verdict.
#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct JudgeReport {
    pub model: String,
    /// Supported claims / claims (1.0 without claims).
    #[schema(minimum = 0, maximum = 1)]
    pub score: f64,
    /// `score < threshold`.
    pub flagged: bool,
    pub threshold: f64,
    /// The verdict came from the verdict cache (no judge call).
    pub cached: bool,
    pub claims: Vec<JudgeClaim>,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum JudgeErrorCode {
    #[serde(rename = "upstream_error")]
    UpstreamError,
    #[serde(rename = "timeout")]
    Timeout,
    #[serde(rename = "invalid_verdict")]
    InvalidVerdict,
    #[serde(rename = "budget_exceeded")]
    BudgetExceeded,
}

/// Why the judge gave no verdict; the fast result stands.
#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct JudgeError {
    #[schema(inline)]
    pub code: JudgeErrorCode,
    pub message: String,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum GroundingCombinedRule {
    #[serde(rename = "fast")]
    Fast,
    #[serde(rename = "judge")]
    Judge,
    #[serde(rename = "either")]
    Either,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct GroundingCombined {
    /// The final flag under `rule` (null when no tier gave one).
    #[schema(required = true)]
    pub flagged: Option<bool>,
    #[schema(inline)]
    pub rule: GroundingCombinedRule,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum GroundingScoreResponseTiersItem {
    #[serde(rename = "fast")]
    Fast,
    #[serde(rename = "judge")]
    Judge,
}

/// The fast report's fields (when the fast tier ran), plus the judge's result (when it ran) and the combined flag.
#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct GroundingScoreResponse {
    /// Product of the claim supports; 1.0 = every claim supported.
    #[schema(nullable = false, minimum = 0, maximum = 1)]
    pub score: Option<f64>,
    /// `score < threshold`.
    #[schema(nullable = false)]
    pub flagged: Option<bool>,
    /// The built-in threshold (fitted on the evaluation's dev data).
    #[schema(nullable = false)]
    pub threshold: Option<f64>,
    #[schema(nullable = false)]
    pub claims: Option<Vec<GroundingClaim>>,
    #[schema(inline)]
    pub tiers: Vec<GroundingScoreResponseTiersItem>,
    #[schema(nullable = false)]
    pub judge: Option<JudgeReport>,
    #[schema(nullable = false)]
    pub judge_error: Option<JudgeError>,
    pub combined: GroundingCombined,
}
