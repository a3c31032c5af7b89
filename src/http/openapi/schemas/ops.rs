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
pub struct AuditList {
    #[schema(inline)]
    pub object: AuditListObject,
    /// Newest first.
    #[schema(inline)]
    pub data: Vec<crate::store::AuditEntry>,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct TokenCount {
    pub input_tokens: i64,
}
