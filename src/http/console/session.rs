//! Console sessions. Signing in with a key makes a session: the browser
//! holds only a random id (an `HttpOnly`, `SameSite=Strict` cookie scoped to
//! `/ui`), the server keeps the key's hash (never the key) and the session's
//! CSRF token. Every page looks the hash up in the key cache, so revoking a
//! key ends its sessions too.
//!
//! Sessions live in this process's memory, with an expiry. With several
//! replicas behind a load balancer the console needs session affinity for
//! `/ui` (or a browser signs in again on the replica it lands on); nothing
//! else depends on it, and no secret ever reaches the store for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use rand::RngCore;

use super::html::{forbidden, notice, shell};
use crate::api::ApiError;
use crate::auth::Caller;
use crate::state::AppState;

/// The session cookie's name.
pub const COOKIE: &str = "pg_session";
/// The sign-in form's double-submit cookie (there is no session yet to hold
/// its token).
pub const LOGIN_COOKIE: &str = "pg_login_csrf";
/// How long a session lasts after sign-in.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// Sessions one process keeps at most; past it the oldest are dropped.
const MAX_SESSIONS: usize = 10_000;

struct Session {
    key_hash: String,
    csrf: String,
    expires: Instant,
}

/// Every session of this process, by id.
#[derive(Clone, Default)]
pub struct Sessions(Arc<Mutex<HashMap<String, Session>>>);

impl Sessions {
    /// A new session for the key with this hash; returns its id.
    pub fn create(&self, key_hash: String) -> String {
        let id = random_token();
        let now = Instant::now();
        if let Ok(mut map) = self.0.lock() {
            map.retain(|_, s| s.expires > now);
            if map.len() >= MAX_SESSIONS {
                if let Some(oldest) = map
                    .iter()
                    .min_by_key(|(_, s)| s.expires)
                    .map(|(k, _)| k.clone())
                {
                    map.remove(&oldest);
                }
            }
            map.insert(
                id.clone(),
                Session {
                    key_hash,
                    csrf: random_token(),
                    expires: now + SESSION_TTL,
                },
            );
        }
        id
    }

    pub fn remove(&self, id: &str) {
        if let Ok(mut map) = self.0.lock() {
            map.remove(id);
        }
    }

    /// The key hash and CSRF token of a live session.
    fn get(&self, id: &str) -> Option<(String, String)> {
        let map = self.0.lock().ok()?;
        let s = map.get(id).filter(|s| s.expires > Instant::now())?;
        Some((s.key_hash.clone(), s.csrf.clone()))
    }
}

/// 128 random bits, hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The value of cookie `name` in the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value for the console: never readable by scripts, never
/// sent on cross-site requests, and `Secure` when the browser reached us
/// over HTTPS (a TLS proxy saying so with `X-Forwarded-Proto`).
pub fn set_cookie(
    headers: &HeaderMap,
    name: &str,
    value: &str,
    path: &str,
    max_age_s: u64,
) -> String {
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let secure = if https { "; Secure" } else { "" };
    format!("{name}={value}; Path={path}; Max-Age={max_age_s}; HttpOnly; SameSite=Strict{secure}")
}

/// Equal strings, compared in time independent of where they differ.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The signed-in caller of a console page.
pub struct Viewer {
    pub caller: Caller,
    pub session: String,
    /// The token every form of this session posts back.
    pub csrf: String,
}

impl Viewer {
    fn read(parts: &Parts, state: &AppState) -> Option<Viewer> {
        let sessions = parts.extensions.get::<Sessions>()?;
        let id = cookie(&parts.headers, COOKIE)?;
        let (hash, csrf) = sessions.get(id)?;
        let caller = state.keys.lookup_hash(&hash)?;
        Some(Viewer {
            caller,
            session: id.to_owned(),
            csrf,
        })
    }

    pub fn is_admin(&self) -> bool {
        matches!(self.caller, Caller::Admin)
    }
}

/// A whole page for `viewer`; `active` is the navigation entry to mark.
pub fn page(viewer: &Viewer, active: &str, title: &str, body: &str) -> Response {
    shell(&viewer.caller, &viewer.csrf, active, title, body)
}

/// A page saying why `err` stopped it, with the API's status for it (a
/// client mistake is a 4xx naming the field, our own failure a logged 500).
pub fn error_page(viewer: &Viewer, active: &str, title: &str, err: ApiError) -> Response {
    if let ApiError::Internal(cause) = &err {
        tracing::error!(error = ?cause, "internal error in the console");
    }
    let mut resp = page(viewer, active, title, &notice("error", &err.to_string()));
    *resp.status_mut() = err.status();
    resp
}

impl FromRequestParts<AppState> for Viewer {
    /// A page without a live session goes to the sign-in form.
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Viewer::read(parts, state).ok_or_else(|| Redirect::to("/ui/login").into_response())
    }
}

/// A console form post: only from a signed-in session, only with its CSRF
/// token (`csrf` field), and only from our own origin when the browser
/// says where it came from. Anything else is a 403: a cross-site page can
/// make a browser post, but it cannot read the token to post with it.
pub struct Posted {
    pub viewer: Viewer,
    pub fields: Vec<(String, String)>,
}

impl Posted {
    /// The first value of field `name`, trimmed; `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        field(&self.fields, name)
    }
}

/// The first value of form field `name`, trimmed; `None` when absent or empty.
pub fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// Whether the request's `Origin` (when the browser sent one) is this host.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
    !host.is_empty() && origin_host == host
}

impl FromRequest<AppState> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        if !same_origin(&parts.headers) {
            return Err(forbidden("This form was posted from another site."));
        }
        let Some(viewer) = Viewer::read(&parts, state) else {
            return Err(forbidden("No session: sign in first."));
        };
        let Form(fields) =
            Form::<Vec<(String, String)>>::from_request(Request::from_parts(parts, body), state)
                .await
                .map_err(|_| forbidden("The form could not be read."))?;
        let token = field(&fields, "csrf").unwrap_or("");
        if !same_token(token, &viewer.csrf) {
            return Err(forbidden(
                "The form's security token is missing or stale: reload the page and try again.",
            ));
        }
        Ok(Posted { viewer, fields })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; pg_session=abc; pg_login_csrf=x".parse().unwrap(),
        );
        assert_eq!(cookie(&h, COOKIE), Some("abc"));
        assert_eq!(cookie(&h, LOGIN_COOKIE), Some("x"));
        assert_eq!(cookie(&h, "b"), None);
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_behind_tls() {
        let mut h = HeaderMap::new();
        let plain = set_cookie(&h, COOKIE, "id", "/ui", 60);
        assert_eq!(
            plain,
            "pg_session=id; Path=/ui; Max-Age=60; HttpOnly; SameSite=Strict"
        );
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        assert!(set_cookie(&h, COOKIE, "id", "/ui", 60).ends_with("; Secure"));
    }

    #[test]
    fn tokens_compare_equal_only_when_equal() {
        assert!(same_token("abcd", "abcd"));
        assert!(!same_token("abcd", "abce"));
        assert!(!same_token("abc", "abcd"));
        assert!(!same_token("", "a"));
    }

    #[test]
    fn sessions_expire_and_are_removed() {
        let s = Sessions::default();
        let id = s.create("h".into());
        assert_eq!(s.get(&id).map(|(h, _)| h), Some("h".into()));
        s.remove(&id);
        assert!(s.get(&id).is_none());
    }

    #[test]
    fn a_foreign_origin_is_not_ours() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, "http://127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, "http://evil.example".parse().unwrap());
        assert!(!same_origin(&h));
    }
}
