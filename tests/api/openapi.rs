//! The served OpenAPI document against the running router: every documented
//! operation reaches a handler (not the router's 404 or 405), and what
//! `GET /openapi.json` serves is the committed `openapi.json`.

use serde_json::Value;

use crate::helpers::*;

/// A value for each path parameter the document names.
fn sample(param: &str) -> &'static str {
    match param {
        "name" => "probe/answer",
        "version" => "1",
        "label" => "production",
        "team" => "probe",
        "id" => "probe-id",
        "path" => "files/probe",
        other => panic!("no sample value for path parameter `{other}`"),
    }
}

fn fill(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').unwrap() + start;
        out.push_str(&rest[..start]);
        out.push_str(sample(&rest[start + 1..end]));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn every_documented_operation_reaches_its_handler() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let served = app.http.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(served.status(), 200);
    let text = served.text().await.unwrap();
    let committed = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json"));
    assert!(
        text == committed,
        "GET /openapi.json is not the committed openapi.json"
    );
    let doc: Value = serde_json::from_str(&text).unwrap();
    let mut probed = 0;
    for (template, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let path = fill(template);
            let resp = app
                .http
                .request(method.clone(), app.url(&path))
                .bearer_auth(ADMIN_KEY)
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            let what = format!("{method} {path} (documented as {template}): {status} {body}");
            assert_ne!(status, 405, "{what}");
            assert_ne!(status, 500, "{what}");
            assert!(!body.contains("no route for"), "{what}");
            assert!(!body.contains("is not allowed here"), "{what}");
            probed += 1;
        }
    }
    assert!(probed >= 46, "only {probed} operations in the document");
    app.stop().await;
}
