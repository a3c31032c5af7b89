//! Which team a team-scoped listing (cost report, request records) covers.
//! One rule for every such route: a team key sees its own team only (naming
//! another team is a 404, as if it did not exist); the admin key sees the
//! team it names, or every team.

use crate::api::ApiResult;
use crate::auth::Caller;

/// The team to filter by (`None` = every team) for `caller` asking for `asked`.
pub fn scoped_team(caller: &Caller, asked: Option<String>) -> ApiResult<Option<String>> {
    Ok(match (caller.team(), asked) {
        (Some(own), Some(asked)) => {
            caller.require_team(&asked)?;
            Some(own.to_owned())
        }
        (Some(own), None) => Some(own.to_owned()),
        (None, asked) => asked,
    })
}
