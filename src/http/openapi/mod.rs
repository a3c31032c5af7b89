//! The OpenAPI 3.1 document of the gateway's own contract, generated from
//! the code: each route's operation comes from the `#[utoipa::path]` on its
//! handler (collected through the route table, [`super::routes`]), bodies
//! from the types in [`schemas`], shared error answers from [`responses`],
//! and the long prose from the Markdown files beside this one.
//!
//! `openapi.json` in the repository is this document as JSON; a test keeps
//! the two equal (`UPDATE_OPENAPI=1 cargo test --lib openapi` rewrites it).

pub mod responses;
pub mod schemas;
#[cfg(test)]
mod tests;

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "promptgate",
        version = "0.1.0",
        description = include_str!("info.md"),
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    servers((url = "http://127.0.0.1:8080", description = "Default listen address")),
    security(("bearer" = []), ("apiKeyHeader" = [])),
    tags(
        (name = "model", description = include_str!("tags/model.md")),
        (name = "admin", description = include_str!("tags/admin.md")),
        (name = "prompts", description = include_str!("tags/prompts.md")),
        (name = "cache", description = include_str!("tags/cache.md")),
        (name = "costs", description = include_str!("tags/costs.md")),
        (name = "grounding", description = include_str!("tags/grounding.md")),
        (name = "records", description = include_str!("tags/records.md")),
        (name = "passthrough", description = include_str!("tags/passthrough.md")),
        (name = "operations", description = include_str!("tags/operations.md")),
        (name = "experiments", description = include_str!("tags/experiments.md")),
        (name = "anthropic", description = include_str!("tags/anthropic.md"))
    ),
    components(
        schemas(
            schemas::model::Error,
            schemas::model::PromptReference,
            schemas::model::GroundingOptions,
            schemas::model::CacheOptions,
            schemas::model::GatewayFields,
            schemas::model::ChatCompletionRequest,
            schemas::model::CompletionRequest,
            schemas::model::EmbeddingRequest,
            schemas::model::ResponseRequest,
            schemas::model::UpstreamBody,
            schemas::model::Model,
            schemas::model::ModelList,
            crate::store::Team,
            super::admin_types::NewTeam,
            schemas::admin::TeamList,
            crate::store::ApiKeyRow,
            super::admin_types::CreatedKey,
            schemas::admin::ApiKeyList,
            super::admin_types::KeyDeleted,
            schemas::admin::RequestRecord,
            schemas::admin::RequestRecordList,
            super::ops::Health,
            super::ops::Ready,
            schemas::prompts::LabelTarget,
            schemas::prompts::PromptSummary,
            schemas::prompts::PromptList,
            schemas::prompts::VariablesSchema,
            schemas::prompts::NewPromptVersion,
            schemas::prompts::PromptVersion,
            schemas::prompts::PromptVersionList,
            schemas::prompts::LabelMoved,
            schemas::prompts::LabelHistory,
            schemas::prompts::PromptDiff,
            super::prompts::RenderRequest,
            schemas::prompts::RenderResult,
            schemas::admin::CostRow,
            schemas::admin::CostReport,
            super::admin_types::NewBudget,
            schemas::admin::Budget,
            super::admin_types::BudgetDeleted,
            schemas::admin::CacheCleared,
            super::grounding::ScoreRequest,
            schemas::grounding::GroundingClaim,
            schemas::grounding::GroundingReport,
            schemas::grounding::JudgeClaim,
            schemas::grounding::JudgeReport,
            schemas::grounding::JudgeError,
            schemas::grounding::GroundingCombined,
            schemas::grounding::GroundingScoreResponse,
            schemas::prompts::Guard,
            schemas::prompts::MetricEstimate,
            schemas::prompts::MetricComparison,
            schemas::prompts::RolloutReport,
            schemas::prompts::DriftList,
            schemas::model::AnthropicError,
            schemas::model::MessagesRequest
        ),
        responses(
            responses::BadRequest,
            responses::ModelBadRequest,
            responses::Unauthorized,
            responses::Forbidden,
            responses::NotFound,
            responses::ModelNotFound,
            responses::Conflict,
            responses::PromptConflict,
            responses::PayloadTooLarge,
            responses::TooManyRequests,
            responses::UpstreamCoolingDown,
            responses::UpstreamClientError,
            responses::BadGateway,
            responses::GatewayTimeout,
            responses::ServiceUnavailable,
            responses::MethodNotAllowed
        ),
    ),
    modifiers(&KeySchemes)
)]
struct Contract;

/// The two ways a key may be sent.
struct KeySchemes;

impl utoipa::Modify for KeySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "`Authorization: Bearer <key>`: a team key (`pg-` + 48 hex digits) or the admin key.",
            ))
            .build();
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
        let header = ApiKey::Header(ApiKeyValue::with_description(
            "x-api-key",
            "The same keys in an `x-api-key` header; read only when no `Authorization` header is present.",
        ));
        components.add_security_scheme("apiKeyHeader", SecurityScheme::ApiKey(header));
    }
}

/// The whole document: the contract's frame plus every documented route.
pub fn document(routes: &[super::routes::Route]) -> utoipa::openapi::OpenApi {
    let mut doc = Contract::openapi();
    for route in routes {
        doc.paths.merge(route.docs.clone());
        let components = doc.components.get_or_insert_with(Default::default);
        for (name, schema) in &route.schemas {
            components
                .schemas
                .entry(name.clone())
                .or_insert_with(|| schema.clone());
        }
    }
    distinct_operation_ids(&mut doc);
    doc
}

/// One handler documented for several methods (the pass-through) is one
/// operation under each; OpenAPI wants each id once, so each gets the
/// method's name appended (`forward` becomes `forwardGet`, `forwardPost`, …).
fn distinct_operation_ids(doc: &mut utoipa::openapi::OpenApi) {
    use std::collections::BTreeMap;
    let mut uses = BTreeMap::<String, usize>::new();
    let each = |doc: &mut utoipa::openapi::OpenApi,
                f: &mut dyn FnMut(&str, &mut utoipa::openapi::path::Operation)| {
        for item in doc.paths.paths.values_mut() {
            let slots = [
                ("Get", &mut item.get),
                ("Put", &mut item.put),
                ("Post", &mut item.post),
                ("Delete", &mut item.delete),
                ("Options", &mut item.options),
                ("Head", &mut item.head),
                ("Patch", &mut item.patch),
                ("Trace", &mut item.trace),
            ];
            for (method, slot) in slots {
                if let Some(op) = slot.as_mut() {
                    f(method, op);
                }
            }
        }
    };
    each(doc, &mut |_, op| {
        if let Some(id) = &op.operation_id {
            *uses.entry(id.clone()).or_default() += 1;
        }
    });
    each(doc, &mut |method, op| {
        if let Some(id) = op.operation_id.as_mut() {
            if uses.get(id.as_str()).is_some_and(|n| *n > 1) {
                id.push_str(method);
            }
        }
    });
}

/// [`document`] as the JSON that `GET /openapi.json` serves and
/// `openapi.json` holds (pretty-printed, with a final newline).
pub fn document_json(routes: &[super::routes::Route]) -> String {
    let mut text = serde_json::to_string_pretty(&document(routes)).unwrap_or_default();
    text.push('\n');
    text
}
