//! Schemas of bodies that only one operation has (query enums, list wrappers).
//!
//! These types describe JSON the handlers read or write (several build it
//! with `json!`); they exist for the OpenAPI document and are never
//! constructed.

// Types for the document only: never constructed, their fields never read.
#![allow(dead_code, unused_imports)]

use serde_json::json;

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum CostReportFormat {
    #[serde(rename = "json")]
    Json,
    #[serde(rename = "csv")]
    Csv,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum AuditListObject {
    #[serde(rename = "list")]
    List,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct AuditEntry {
    #[schema(nullable = false)]
    pub id: Option<i64>,
    #[schema(nullable = false, format = "date-time")]
    pub at: Option<String>,
    #[schema(nullable = false)]
    pub actor: Option<String>,
    #[schema(nullable = false)]
    pub action: Option<String>,
    #[schema(nullable = false)]
    pub target: Option<String>,
    #[schema(nullable = false)]
    pub before: Option<serde_json::Value>,
    #[schema(nullable = false)]
    pub after: Option<serde_json::Value>,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct AuditList {
    #[schema(inline, nullable = false)]
    pub object: Option<AuditListObject>,
    #[schema(inline, nullable = false)]
    pub data: Option<Vec<AuditEntry>>,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct TokenCount {
    pub input_tokens: i64,
}
