//! What one request under `/v1/prompts/` brings to its operation: the query,
//! the caller and body, the version it selects (registry write errors become
//! API errors in [`super::prompt_labels`]).

use axum::body::Bytes;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::extract::parse_json;
use crate::api::{ApiError, ApiResult};
use crate::auth::Caller;
use crate::registry::live::Selector;
use crate::state::AppState;

/// What the operations that read the body (writes and render) need of one
/// request under `/v1/prompts/`.
pub struct PromptCall<'a> {
    pub state: &'a AppState,
    pub caller: &'a Caller,
    pub body: &'a Bytes,
}

impl PromptCall<'_> {
    /// The body of a registry write: admin only, checked before the body is
    /// read, so a team key gets its 403 even for a malformed body.
    pub fn admin_body<T: DeserializeOwned>(&self) -> ApiResult<T> {
        self.caller.require_admin()?;
        parse_json(self.body)
    }

    /// Who the registry's history names for a write.
    pub fn actor(&self) -> Option<&'static str> {
        super::prompt_labels::actor_of(self.caller)
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PromptQuery {
    pub label: Option<String>,
    pub version: Option<i64>,
    /// A version (diff) or a time (report).
    pub from: Option<String>,
    pub to: Option<String>,
    /// Report only: the version to compare against, and the team (admin).
    pub baseline: Option<i64>,
    pub team: Option<String>,
}

/// The version a request picks: by number, by label, or the default
/// (`latest`); naming both is refused with `both_message` (the query and the
/// render body spell the two fields differently).
pub fn selector(
    version: Option<i64>,
    label: Option<String>,
    both_message: &str,
) -> ApiResult<Selector> {
    Ok(match (version, label) {
        (Some(_), Some(_)) => return Err(ApiError::invalid(both_message, Some("version"))),
        (Some(v), None) => Selector::Version(v),
        (None, Some(l)) => Selector::Label(l),
        (None, None) => Selector::default(),
    })
}
