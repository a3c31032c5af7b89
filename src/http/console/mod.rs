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
use axum::routing::{get, post, MethodRouter};
use axum::Extension;

use crate::state::AppState;

/// The largest form post (a render preview's variables included).
const FORM_LIMIT_BYTES: usize = 256 * 1024;

/// Every `/ui` route with its handlers, all sharing this process's sessions.
pub fn routes() -> Vec<(&'static str, MethodRouter<AppState>)> {
    let sessions = session::Sessions::default();
    let pages: Vec<(&'static str, MethodRouter<AppState>)> = vec![
        ("/ui", get(|| async { Redirect::to("/ui/costs") })),
        ("/ui/", get(|| async { Redirect::to("/ui/costs") })),
        ("/ui/style.css", get(style)),
        ("/ui/login", get(login::form).post(login::submit)),
        ("/ui/logout", post(login::logout)),
        ("/ui/costs", get(costs::page)),
        ("/ui/costs.csv", get(costs::csv)),
        ("/ui/prompts", get(prompts::list)),
        ("/ui/prompt", get(prompts::detail)),
        ("/ui/prompt/diff", get(prompts::diff)),
        ("/ui/prompt/render", post(prompts::render)),
        ("/ui/prompt/label", post(labels::confirm)),
        ("/ui/prompt/label/apply", post(labels::apply)),
        ("/ui/rollouts", get(rollouts::page_handler)),
        ("/ui/flagged", get(flagged::page_handler)),
        ("/ui/requests", get(requests::list)),
        ("/ui/requests/{id}", get(requests::one)),
    ];
    pages
        .into_iter()
        .map(|(path, handler)| {
            let handler: MethodRouter<AppState> = handler
                .layer::<_, std::convert::Infallible>(Extension(sessions.clone()))
                // Forms are small; the gateway-wide limit is for model calls.
                .layer::<_, std::convert::Infallible>(DefaultBodyLimit::max(FORM_LIMIT_BYTES));
            (path, handler)
        })
        .collect()
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
