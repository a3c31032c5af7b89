//! Signing in and out of the console.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};

use super::html::{bare_page, csrf_field, forbidden, notice};
use super::session::{
    cookie, random_token, same_origin, same_token, set_cookie, Posted, Sessions, COOKIE,
    LOGIN_COOKIE, SESSION_TTL,
};
use crate::state::AppState;

/// How long a sign-in form stays valid.
const LOGIN_FORM_TTL_S: u64 = 3600;

/// The sign-in form, with a fresh double-submit token in a cookie and in
/// the form.
pub async fn form(headers: HeaderMap) -> Response {
    login_page(&headers, StatusCode::OK, None)
}

fn login_page(headers: &HeaderMap, status: StatusCode, error: Option<&str>) -> Response {
    let token = random_token();
    let body = format!(
        "{err}<form method=\"post\" action=\"/ui/login\" class=\"stack\">{csrf}\
         <label for=\"key\">API key (a team key or the admin key)</label>\
         <input id=\"key\" name=\"key\" type=\"password\" autocomplete=\"current-password\" required autofocus>\
         <button type=\"submit\">Sign in</button></form>\
         <p class=\"hint\">The key stays on the server side: the browser gets a session cookie only.</p>",
        err = error.map(|e| notice("error", e)).unwrap_or_default(),
        csrf = csrf_field(&token),
    );
    let mut resp = bare_page(status, "Sign in", &body);
    if let Ok(v) = set_cookie(headers, LOGIN_COOKIE, &token, "/ui/login", LOGIN_FORM_TTL_S).parse()
    {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

pub async fn submit(
    State(state): State<AppState>,
    Extension(sessions): Extension<Sessions>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let posted = super::session::field(&fields, "csrf").unwrap_or("");
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    if !same_origin(&headers) || expected.is_empty() || !same_token(posted, expected) {
        return forbidden("The sign-in form's security token is missing or stale.");
    }
    let key = super::session::field(&fields, "key").unwrap_or("");
    if key.is_empty() {
        return login_page(&headers, StatusCode::BAD_REQUEST, Some("Enter an API key."));
    }
    let known = match state.keys.authenticate(key, state.store.as_ref()).await {
        Ok(caller) => caller.is_some(),
        Err(err) => {
            tracing::warn!(error = %err, "sign-in: the key could not be checked");
            return login_page(
                &headers,
                StatusCode::SERVICE_UNAVAILABLE,
                Some("The key could not be checked: the store did not answer. Try again shortly."),
            );
        }
    };
    if !known {
        return login_page(
            &headers,
            StatusCode::UNAUTHORIZED,
            Some("That key is not valid (unknown, revoked or expired)."),
        );
    }
    let id = sessions.create(crate::auth::hash_key(key));
    let mut resp = Redirect::to("/ui/costs").into_response();
    let cookies = [
        set_cookie(&headers, COOKIE, &id, "/ui", SESSION_TTL.as_secs()),
        set_cookie(&headers, LOGIN_COOKIE, "", "/ui/login", 0),
    ];
    for c in cookies {
        if let Ok(v) = c.parse() {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

pub async fn logout(
    Extension(sessions): Extension<Sessions>,
    headers: HeaderMap,
    posted: Posted,
) -> Response {
    sessions.remove(&posted.viewer.session);
    let mut resp = Redirect::to("/ui/login").into_response();
    if let Ok(v) = set_cookie(&headers, COOKIE, "", "/ui", 0).parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}
