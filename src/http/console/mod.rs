//! The web console at `/ui`: server-rendered pages over the same domain
//! code the JSON API uses (the cost report, the registry, rollout reports,
//! drift, request records). No scripts and nothing from the network: the
//! stylesheet is embedded and the cost chart is SVG drawn here.
//!
//! Pages need a session made by signing in with a team key (which sees its
//! own team only, as on the API) or the admin key; every form carries the
//! session's CSRF token ([`session::Posted`]).

mod chart;
mod claims;
mod costs;
mod flagged;
mod html;
mod labels;
mod login;
mod prompts;
mod requests;
mod rollouts;
mod session;

use axum::extract::DefaultBodyLimit;
use axum::http::header;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Extension, Router};

use crate::state::AppState;

/// The largest form post (a render preview's variables included).
const FORM_LIMIT_BYTES: usize = 256 * 1024;

/// Every `/ui` route, with this process's sessions.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui", get(|| async { Redirect::to("/ui/costs") }))
        .route("/ui/", get(|| async { Redirect::to("/ui/costs") }))
        .route("/ui/style.css", get(style))
        .route("/ui/login", get(login::form).post(login::submit))
        .route("/ui/logout", post(login::logout))
        .route("/ui/costs", get(costs::page))
        .route("/ui/costs.csv", get(costs::csv))
        .route("/ui/prompts", get(prompts::list))
        .route("/ui/prompt", get(prompts::detail))
        .route("/ui/prompt/diff", get(prompts::diff))
        .route("/ui/prompt/render", post(prompts::render))
        .route("/ui/prompt/label", post(labels::confirm))
        .route("/ui/prompt/label/apply", post(labels::apply))
        .route("/ui/rollouts", get(rollouts::page_handler))
        .route("/ui/flagged", get(flagged::page_handler))
        .route("/ui/requests", get(requests::list))
        .route("/ui/requests/{id}", get(requests::one))
        .layer(Extension(session::Sessions::default()))
        // Forms are small; the gateway-wide limit is for model calls.
        .layer(DefaultBodyLimit::max(FORM_LIMIT_BYTES))
}

async fn style() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        html::STYLE,
    )
}
