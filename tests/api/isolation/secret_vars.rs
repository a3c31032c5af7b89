//! Team A's use of a prompt with a secret variable: the value goes upstream
//! (the echo model answers with it, so it reaches the grounding claims too)
//! and must then be struck from the record, the render preview and errors.

use reqwest::Method;
use serde_json::{json, Value};

use super::{call, MARK};
use crate::helpers::{TestApp, ADMIN_KEY};

/// The value team A gives the secret variable `token`.
pub(super) const SECRET_VALUE: &str = "tok-secret-var-77d1e0";
/// The word of [`SECRET_VALUE`] found in nothing else the sweep sends.
const SECRET_PIECE: &str = "77d1e0";

/// Version 2 of the sweep prompt: `token` is declared secret.
pub(super) async fn add_secret_version(app: &TestApp) {
    let prompt = json!({"type": "chat",
        "messages": [{"role": "user", "content": "{{q}} with token {{token}}"}],
        "variables_schema": {"q": "string", "token": {"type": "string", "secret": true}},
        "labels": ["production"]});
    let made = call(
        app,
        ADMIN_KEY,
        Method::POST,
        "/v1/prompts/sweep/versions",
        Some(prompt),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.text);
    assert!(made.text.contains("\"secret\":true"), "{}", made.text);
}

/// A's calls with the secret; the ids of the two (whole, streamed) that
/// reached the upstream.
pub(super) async fn use_secret(app: &TestApp, key_a: &str) -> [String; 2] {
    let vars = json!({"q": MARK, "token": SECRET_VALUE});
    let mut ids = Vec::new();
    for stream in [false, true] {
        let body = json!({"model": "mock-echo", "prompt": {"id": "sweep", "variables": vars},
            "grounding": {"context": [format!("{MARK} needs a token.")]}, "stream": stream});
        let used = call(app, key_a, Method::POST, "/v1/chat/completions", Some(body)).await;
        assert_eq!(used.status, 200, "{}", used.text);
        assert!(
            used.text.contains(SECRET_VALUE),
            "the value went upstream (the echo model repeats it): {}",
            used.text
        );
        ids.push(used.id);
    }

    // The preview shows where the value goes, not the value.
    let preview = call(
        app,
        key_a,
        Method::POST,
        "/v1/prompts/sweep/render",
        Some(json!({"variables": vars})),
    )
    .await;
    assert_eq!(preview.status, 200, "{}", preview.text);
    assert!(
        preview.text.contains("with token [secret:token]"),
        "{}",
        preview.text
    );
    assert!(!preview.text.contains(SECRET_VALUE), "{}", preview.text);

    // Refused calls that carry the value: their errors name, never quote it.
    let extra = json!({"q": MARK, "token": SECRET_VALUE, "other": SECRET_VALUE});
    for (path, body) in [
        (
            "/v1/chat/completions",
            json!({"model": "mock-echo", "prompt": {"id": "sweep", "variables": extra}}),
        ),
        ("/v1/prompts/sweep/render", json!({"variables": extra})),
    ] {
        let refused = call(app, key_a, Method::POST, path, Some(body)).await;
        assert_eq!(refused.status, 400, "{path}: {}", refused.text);
        assert!(
            refused.text.contains("prompt.variables.other"),
            "{}",
            refused.text
        );
        assert!(
            !refused.text.contains(SECRET_VALUE),
            "{path}: {}",
            refused.text
        );
    }
    [ids[0].clone(), ids[1].clone()]
}

/// A's own record of the call: the claims repeated the value, the record
/// holds it struck.
pub(super) async fn assert_record_struck(app: &TestApp, key_a: &str, id: &str) {
    let record: Value = app.record(key_a, id).await;
    let text = record.to_string();
    assert!(text.contains("[secret]"), "the claims were struck: {text}");
    assert!(
        !text.contains(SECRET_VALUE),
        "the record keeps the secret: {text}"
    );
    // Reasons quote single words ("words not in context: …"): not even the
    // secret's one piece that no other text here has.
    assert!(
        !text.contains(SECRET_PIECE),
        "the record keeps a piece of the secret: {text}"
    );
}
