//! The web console in the sweep: signed in with team B's key, every page
//! that shows team data, pointed at team A's records, costs and prompts,
//! is refused or shows nothing of A; signed in with A's key, the same pages
//! show A's data (the control) and never a secret variable's value.

use serde_json::json;

use super::secret_vars::SECRET_VALUE;
use super::MARK;
use crate::console::{client, csrf_of, form, Console};
use crate::helpers::TestApp;

/// What the sweep knows of team A.
pub(super) struct TeamA<'a> {
    pub key: &'a str,
    /// A grounded call of A's, and A's call of the secret prompt.
    pub call_id: &'a str,
    pub prompted_id: &'a str,
    /// Strings that are A's alone (ids, figures, the marker).
    pub bytes: Vec<&'a str>,
}

async fn page(console: &Console, session: &str, path: &str) -> (u16, String) {
    let resp = console.get(path, session).await;
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("page"))
}

pub(super) async fn sweep(app: &TestApp, a: &TeamA<'_>, key_b: &str) {
    let console = Console {
        base: app.url(""),
        http: client(),
    };

    // A's own console shows A's records: the pages below do hold team data.
    let (session_a, _) = console.sign_in(a.key).await;
    let (status, one) = page(&console, &session_a, &format!("/ui/requests/{}", a.call_id)).await;
    assert_eq!(status, 200, "{one}");
    assert!(one.contains(MARK), "A's record page shows A's call: {one}");
    let (_, list) = page(&console, &session_a, "/ui/requests").await;
    assert!(list.contains(a.call_id), "A's list shows A's call: {list}");
    let (_, csv) = page(&console, &session_a, "/ui/costs.csv").await;
    assert!(csv.contains("mock-echo"), "A's CSV has A's rows: {csv}");

    // ... but not the secret variable's value, which only went upstream.
    let (_, detail) = page(&console, &session_a, "/ui/prompt?name=sweep").await;
    let vars = json!({"q": MARK, "token": SECRET_VALUE}).to_string();
    let posted = form(&[
        ("csrf", &csrf_of(&detail)),
        ("name", "sweep"),
        ("pick", "label:production"),
        ("variables", &vars),
    ]);
    let cookie = format!("pg_session={session_a}");
    let rendered = console.post("/ui/prompt/render", &cookie, posted).await;
    assert_eq!(rendered.status(), 200);
    let rendered = rendered.text().await.unwrap();
    assert!(rendered.contains("[secret:token]"), "{rendered}");
    assert!(
        !rendered.contains(SECRET_VALUE),
        "the preview shows the secret: {rendered}"
    );
    for path in [
        format!("/ui/requests/{}", a.prompted_id),
        "/ui/requests".to_owned(),
        "/ui/flagged".to_owned(),
    ] {
        let (status, text) = page(&console, &session_a, &path).await;
        assert_eq!(status, 200, "A {path}: {text}");
        assert!(
            !text.contains(SECRET_VALUE),
            "A {path} shows the secret: {text}"
        );
    }

    // B at A's records and team: refused, as if they did not exist.
    let (session_b, _) = console.sign_in(key_b).await;
    for path in [
        format!("/ui/requests/{}", a.call_id),
        format!("/ui/requests/{}", a.prompted_id),
        "/ui/requests?team=alpha".to_owned(),
        "/ui/flagged?team=alpha".to_owned(),
        "/ui/costs?team=alpha".to_owned(),
        "/ui/costs.csv?team=alpha".to_owned(),
        "/ui/costs?team=alpha&by=team".to_owned(),
    ] {
        let (status, text) = page(&console, &session_b, &path).await;
        assert!(matches!(status, 403 | 404), "B {path}: {status} {text}");
        assert_no_a_bytes(a, &path, &text);
    }

    // B's own pages, the shared registry's included, hold nothing of A.
    for path in [
        "/ui/costs",
        "/ui/costs?by=team",
        "/ui/costs.csv",
        "/ui/requests",
        "/ui/flagged",
        "/ui/rollouts",
        "/ui/rollouts?prompt=sweep",
        "/ui/prompts",
        "/ui/prompt?name=sweep",
        "/ui/prompt/diff?name=sweep&from=1&to=2",
    ] {
        let (status, text) = page(&console, &session_b, path).await;
        assert_eq!(status, 200, "B {path}: {text}");
        assert_no_a_bytes(a, path, &text);
        assert!(!text.contains("alpha"), "B {path} names team A: {text}");
    }
}

/// No byte of A's in `text`, except an id B itself sent in `path` (a 404
/// may name it back).
fn assert_no_a_bytes(a: &TeamA<'_>, path: &str, text: &str) {
    let never = [MARK, SECRET_VALUE, a.call_id, a.prompted_id];
    for s in never.iter().chain(&a.bytes).filter(|s| !path.contains(**s)) {
        assert!(!text.contains(s), "B {path} shows {s}: {text}");
    }
}
