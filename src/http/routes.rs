//! Every route of the gateway, in one table. The router is built from it and
//! so is the OpenAPI document's list of operations: a handler is mounted with
//! the methods its `#[utoipa::path]` names ([`utoipa_axum::routes!`]), so a
//! route cannot be added without its documentation. A route kept out of the
//! API document on purpose (an HTML page) says why ([`Route::undocumented`]).

use axum::http::Method;
use axum::routing::{any, MethodRouter};
use utoipa::openapi::path::Paths;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::RefOr;
use utoipa_axum::router::UtoipaMethodRouter;
use utoipa_axum::routes;

use super::{
    admin, anthropic, audit, cache_admin, console, costs, experiments, grounding, model_api,
    models, ops, passthrough, prompt_path, prompts, requests,
};
use crate::state::AppState;

/// One path of the router.
pub struct Route {
    /// The path as axum matches it; `{*x}` takes the rest, slashes included.
    pub path: &'static str,
    /// The operations served on it, as the document has them.
    pub docs: Paths,
    /// The schemas those operations name.
    pub schemas: Vec<(String, RefOr<Schema>)>,
    /// Set when the route is kept out of the API document: why.
    #[allow(dead_code)] // read by the OpenAPI tests
    pub undocumented: Option<&'static str>,
    /// For a wildcard route that dispatches itself: the operations below it,
    /// as (method, path in the document).
    #[allow(dead_code)] // read by the OpenAPI tests
    pub dispatched: Option<Vec<(Method, String)>>,
    pub handler: MethodRouter<AppState>,
}

impl Route {
    /// Handlers with their `#[utoipa::path]`, each on the methods it documents.
    fn documented(
        path: &'static str,
        (schemas, docs, handler): UtoipaMethodRouter<AppState>,
    ) -> Self {
        Route {
            path,
            docs,
            schemas,
            undocumented: None,
            dispatched: None,
            handler,
        }
    }

    /// A route outside the API contract (not JSON for API clients), with the reason.
    pub fn undocumented(
        path: &'static str,
        why: &'static str,
        handler: MethodRouter<AppState>,
    ) -> Self {
        Route {
            path,
            docs: Paths::new(),
            schemas: Vec::new(),
            undocumented: Some(why),
            dispatched: None,
            handler,
        }
    }

    /// Other methods on the path are OpenAI resources of their own (e.g.
    /// `DELETE /v1/responses` is not, but `GET /v1/responses/{id}` is):
    /// they go to the catch-all upstream like any pass-through path.
    fn forwarding_other_methods(mut self) -> Self {
        self.handler = self.handler.fallback(passthrough::forward);
        self
    }
}

/// The route table. Order matters only where axum says so: the `/v1/{*path}`
/// catch-all matches what no other `/v1` route does.
pub fn table() -> Vec<Route> {
    let mut table = vec![
        Route::documented(
            "/v1/chat/completions",
            routes!(model_api::chat, passthrough::list_stored_chat_completions),
        )
        .forwarding_other_methods(),
        Route::documented("/v1/completions", routes!(model_api::completions))
            .forwarding_other_methods(),
        Route::documented("/v1/embeddings", routes!(model_api::embeddings))
            .forwarding_other_methods(),
        Route::documented("/v1/responses", routes!(model_api::responses))
            .forwarding_other_methods(),
        Route::documented("/v1/messages", routes!(anthropic::messages)),
        Route::documented(
            "/v1/messages/count_tokens",
            routes!(anthropic::count_tokens),
        ),
        Route::documented("/v1/models", routes!(models::list)).forwarding_other_methods(),
        Route::documented(
            "/v1/models/{*id}",
            routes!(models::get_one, passthrough::delete_model),
        ),
        Route::documented("/v1/teams", routes!(admin::create_team, admin::list_teams)),
        Route::documented(
            "/v1/teams/{team}/keys",
            routes!(admin::create_key, admin::list_keys),
        ),
        Route::documented(
            "/v1/teams/{team}/budget",
            routes!(admin::put_budget, admin::get_budget, admin::delete_budget),
        ),
        Route::documented("/v1/keys/{id}", routes!(admin::revoke_key)),
        Route::documented("/v1/keys/{id}/rotate", routes!(admin::rotate_key)),
        Route::documented("/v1/audit", routes!(audit::list)),
        Route::documented("/v1/grounding/score", routes!(grounding::score)),
        Route::documented("/v1/prompts", routes!(prompts::list)),
        prompt_routes(),
        Route::documented("/v1/costs", routes!(costs::report)),
        Route::documented("/v1/monitoring/drift", routes!(experiments::drift)),
        Route::documented("/v1/cache", routes!(cache_admin::clear)),
        Route::documented("/v1/requests", routes!(requests::list)),
        Route::documented("/v1/requests/{id}", routes!(requests::get_one)),
        Route::documented("/healthz", routes!(ops::healthz)),
        Route::documented("/readyz", routes!(ops::readyz)),
        Route::documented("/metrics", routes!(ops::metrics)),
        Route::documented("/openapi.json", routes!(ops::openapi)),
        Route::documented("/v1/{*path}", routes!(passthrough::forward)),
    ];
    table.extend(console::routes().into_iter().map(|(path, handler)| {
        Route::undocumented(
            path,
            "the web console's HTML pages, not part of the API",
            handler,
        )
    }));
    table
}

/// Prompt names contain `/`, so one wildcard route takes everything under
/// `/v1/prompts/` and [`prompts::dispatch`] serves the operations of
/// [`prompt_path::OPERATIONS`]; these are their documents.
fn prompt_routes() -> Route {
    let mut docs = Paths::new();
    let mut schemas = Vec::new();
    add::<prompts::__path_get_prompt>(&mut docs, &mut schemas);
    add::<prompts::__path_list_versions>(&mut docs, &mut schemas);
    add::<prompts::__path_create_version>(&mut docs, &mut schemas);
    add::<prompts::__path_get_version>(&mut docs, &mut schemas);
    add::<prompts::__path_get_label>(&mut docs, &mut schemas);
    add::<prompts::__path_move_label>(&mut docs, &mut schemas);
    add::<prompts::__path_label_history>(&mut docs, &mut schemas);
    add::<prompts::__path_diff>(&mut docs, &mut schemas);
    add::<prompts::__path_render>(&mut docs, &mut schemas);
    add::<experiments::__path_report>(&mut docs, &mut schemas);
    let dispatched = prompt_path::OPERATIONS
        .iter()
        .map(|(method, tail)| (method.clone(), format!("/v1/prompts/{{name}}{tail}")))
        .collect();
    Route {
        path: "/v1/prompts/{*rest}",
        docs,
        schemas,
        undocumented: None,
        dispatched: Some(dispatched),
        handler: any(prompts::dispatch),
    }
}

/// Adds one documented operation that is not an axum handler of its own.
/// (What [`routes!`] does for a handler.)
fn add<P>(docs: &mut Paths, schemas: &mut Vec<(String, RefOr<Schema>)>)
where
    P: utoipa::Path + utoipa::__dev::SchemaReferences + utoipa::__dev::Tags<'static>,
{
    let mut operation = P::operation();
    let tags = P::tags();
    if !tags.is_empty() {
        let own = operation.tags.get_or_insert_with(Vec::new);
        own.extend(tags.iter().map(ToString::to_string));
    }
    docs.add_path_operation(P::path(), P::methods(), operation);
    P::schemas(schemas);
}
