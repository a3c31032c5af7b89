//! The web console's sessions over HTTP (the pages themselves are driven in
//! a browser by tests/sdk/test_console.py): sign-in, cookies, CSRF, team
//! scope, sign-out and revocation.

use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::{json, Value};

use crate::helpers::{base_config, spawn_app, TestDb, ADMIN_KEY};

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// The `Set-Cookie` headers of `resp`.
fn set_cookies(resp: &reqwest::Response) -> Vec<String> {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The value `name=` sets in one of `cookies`.
fn cookie_value(cookies: &[String], name: &str) -> Option<String> {
    cookies.iter().find_map(|c| {
        c.strip_prefix(&format!("{name}="))
            .map(|rest| rest.split(';').next().unwrap_or("").to_owned())
    })
}

pub(crate) fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn urlencode(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The CSRF token in a page's forms.
pub(crate) fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..at + 32].to_owned()
}

/// Signs in and browses the console over plain HTTP (shared with the
/// isolation sweep).
pub(crate) struct Console {
    pub(crate) base: String,
    pub(crate) http: reqwest::Client,
}

impl Console {
    pub(crate) async fn post(&self, path: &str, cookie: &str, body: String) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, cookie)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn get(&self, path: &str, session: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, format!("pg_session={session}"))
            .send()
            .await
            .unwrap()
    }

    /// Signs in with `key`; returns the session cookie's value and its `Set-Cookie`.
    pub(crate) async fn sign_in(&self, key: &str) -> (String, String) {
        let form_page = self
            .http
            .get(format!("{}/ui/login", self.base))
            .send()
            .await
            .unwrap();
        let login = cookie_value(&set_cookies(&form_page), "pg_login_csrf").unwrap();
        let token = csrf_of(&form_page.text().await.unwrap());
        assert_eq!(
            login, token,
            "double submit: the same token in cookie and form"
        );
        let resp = self
            .post(
                "/ui/login",
                &format!("pg_login_csrf={login}"),
                form(&[("csrf", &token), ("key", key)]),
            )
            .await;
        assert_eq!(resp.status(), 303);
        assert_eq!(resp.headers()[LOCATION], "/ui/costs");
        let cookies = set_cookies(&resp);
        let line = cookies
            .iter()
            .find(|c| c.starts_with("pg_session="))
            .unwrap()
            .clone();
        (cookie_value(&cookies, "pg_session").unwrap(), line)
    }
}

#[tokio::test]
async fn sessions_csrf_and_team_scope() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let console = Console {
        base: app.url(""),
        http: client(),
    };
    let created: Value = app
        .post(ADMIN_KEY, "/v1/teams", json!({"name": "alpha"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(created["name"], "alpha");
    let key_a: Value = app
        .post(ADMIN_KEY, "/v1/teams/alpha/keys", json!({}))
        .await
        .json()
        .await
        .unwrap();
    let (key_a, key_a_id) = (
        key_a["key"].as_str().unwrap(),
        key_a["id"].as_str().unwrap(),
    );
    let key_b = app.team_key("beta").await;
    let id_a = app.chat(key_a, "mock-1").await.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let id_b = app.chat(&key_b, "mock-1").await.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    app.record(key_a, &id_a).await;
    app.record(&key_b, &id_b).await;

    // No session: pages go to the sign-in form, posts are refused.
    let resp = console.get("/ui/costs", "nope").await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()[LOCATION], "/ui/login");
    let resp = console
        .post("/ui/prompt/label/apply", "", form(&[("name", "x")]))
        .await;
    assert_eq!(resp.status(), 403);

    // Forms are small: a huge one is refused before it is read.
    let resp = console
        .post("/ui/login", "", format!("key={}", "a".repeat(300 * 1024)))
        .await;
    assert_eq!(resp.status(), 413);

    // Sign-in: without the form's token refused, a wrong key 401.
    let resp = console
        .post("/ui/login", "", form(&[("csrf", "x"), ("key", key_a)]))
        .await;
    assert_eq!(resp.status(), 403);
    let page = console.http.get(app.url("/ui/login")).send().await.unwrap();
    let login = cookie_value(&set_cookies(&page), "pg_login_csrf").unwrap();
    let resp = console
        .post(
            "/ui/login",
            &format!("pg_login_csrf={login}"),
            form(&[("csrf", &login), ("key", "pg-0000")]),
        )
        .await;
    assert_eq!(resp.status(), 401);

    let (session, line) = console.sign_in(key_a).await;
    assert!(!line.contains(key_a) && !session.contains(key_a));
    for part in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(line.contains(part), "{line}");
    }

    // A team key sees its own team's records only.
    let list = console.get("/ui/requests", &session).await;
    assert_eq!(list.status(), 200);
    assert_eq!(list.headers()["cache-control"], "no-store");
    let html = list.text().await.unwrap();
    assert!(html.contains(&id_a) && !html.contains(&id_b));
    assert_eq!(
        console
            .get(&format!("/ui/requests/{id_b}"), &session)
            .await
            .status(),
        404
    );
    assert_eq!(
        console
            .get(&format!("/ui/requests/{id_a}"), &session)
            .await
            .status(),
        200
    );
    assert_eq!(
        console.get("/ui/costs?team=beta", &session).await.status(),
        404
    );

    // Posts need the session's token; a team key may not move labels.
    let token = csrf_of(
        &console
            .get("/ui/costs", &session)
            .await
            .text()
            .await
            .unwrap(),
    );
    let cookie = format!("pg_session={session}");
    let body = |csrf: &str| {
        form(&[
            ("csrf", csrf),
            ("name", "p"),
            ("label", "production"),
            ("body", r#"{"version": 1}"#),
        ])
    };
    assert_eq!(
        console
            .post("/ui/prompt/label/apply", &cookie, body(""))
            .await
            .status(),
        403
    );
    assert_eq!(
        console
            .post("/ui/prompt/label/apply", &cookie, body(&"0".repeat(32)))
            .await
            .status(),
        403
    );
    let resp = console
        .post("/ui/prompt/label/apply", &cookie, body(&token))
        .await;
    assert_eq!(resp.status(), 403, "a team key: permission denied");
    assert!(resp.text().await.unwrap().contains("admin key"));
    // Another origin, even with the token.
    let resp = console
        .http
        .post(app.url("/ui/logout"))
        .header(COOKIE, &cookie)
        .header("origin", "http://evil.example")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&[("csrf", &token)]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);

    // Sign-out ends the session.
    let resp = console
        .post("/ui/logout", &cookie, form(&[("csrf", &token)]))
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(console.get("/ui/costs", &session).await.status(), 303);

    // Revoking the key ends its sessions.
    let (session, _) = console.sign_in(key_a).await;
    assert_eq!(console.get("/ui/costs", &session).await.status(), 200);
    let resp = app
        .http
        .delete(app.url(&format!("/v1/keys/{key_a_id}")))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(console.get("/ui/costs", &session).await.status(), 303);

    // The admin key sees every team.
    let (admin, _) = console.sign_in(ADMIN_KEY).await;
    let html = console
        .get("/ui/requests", &admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(&id_a) && html.contains(&id_b));
    app.stop().await;
}
