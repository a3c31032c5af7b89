use super::*;
use serde_json::json;

fn chat_body() -> Value {
    json!({
        "type": "chat",
        "messages": [
            {"role": "system", "content": "Answer from: {{#each docs}}- {{this}}\n{{/each}}"},
            {"role": "user", "content": "{{question}}"}
        ],
        "config": {"model": "gpt-4o-mini", "temperature": 0.2},
        "variables_schema": {"question": "string", "docs": {"type": "array", "items": "string"}},
        "grounding_variable": "docs",
        "labels": ["production"],
        "commit_message": "first"
    })
}

fn parse(v: Value) -> NewVersion {
    serde_json::from_value(v).unwrap()
}

#[test]
fn valid_chat_version() {
    let c = parse(chat_body()).validate().unwrap();
    assert!(matches!(c.kind, PromptKind::Chat { ref messages } if messages.len() == 2));
    let v = PromptVersion::new(
        "support/answer",
        1,
        c,
        None,
        Some("k1".into()),
        5,
        Source::Api,
    );
    assert_eq!(v.sha256.len(), 64);
    assert_eq!(v.display_id(), "support/answer@1");
    // Stored form round-trips and is flat.
    let j = serde_json::to_value(&v).unwrap();
    assert_eq!(j["type"], "chat");
    assert_eq!(j["source"], "api");
    let back: PromptVersion = serde_json::from_value(j).unwrap();
    assert_eq!(back, v);
}

#[test]
fn hash_ignores_metadata_and_key_order() {
    let a = parse(chat_body()).validate().unwrap();
    let mut other = chat_body();
    other["commit_message"] = json!("second");
    other["labels"] = json!([]);
    // Same config, other insertion order.
    other["config"] = json!({"temperature": 0.2, "model": "gpt-4o-mini"});
    other["variables_schema"] =
        json!({"docs": {"type": "array", "items": "string"}, "question": "string"});
    let b = parse(other).validate().unwrap();
    assert_eq!(canonical_sha256(&a), canonical_sha256(&b));
    let mut changed = chat_body();
    changed["config"]["temperature"] = json!(0.3);
    assert_ne!(
        canonical_sha256(&a),
        canonical_sha256(&parse(changed).validate().unwrap())
    );
    let mut changed = chat_body();
    changed["messages"][1]["content"] = json!("{{question}} ");
    assert_ne!(
        canonical_sha256(&a),
        canonical_sha256(&parse(changed).validate().unwrap())
    );
    // Hash is of the documented canonical form.
    assert!(a.canonical_json().starts_with("{\"config\":{\"model\":\"gpt-4o-mini\",\"temperature\":0.2},\"grounding_variable\":\"docs\",\"messages\":["));
}

#[test]
fn rejects_unknown_fields() {
    let mut b = chat_body();
    b["comit_message"] = json!("typo");
    let e = serde_json::from_value::<NewVersion>(b).unwrap_err();
    assert!(e.to_string().contains("comit_message"), "{e}");
    let mut b = chat_body();
    b["messages"][0]["name"] = json!("x");
    assert!(serde_json::from_value::<NewVersion>(b).is_err());
    let mut b = chat_body();
    b["messages"][0]["role"] = json!("tool");
    assert!(serde_json::from_value::<NewVersion>(b).is_err());
}

#[test]
fn validation_names_the_field() {
    let field = |v: Value| parse(v).validate().unwrap_err().field;
    let mut b = chat_body();
    b["template"] = json!("x");
    assert_eq!(field(b), "template");
    let mut b = chat_body();
    b["messages"] = json!([]);
    assert_eq!(field(b), "messages");
    assert_eq!(field(json!({"type": "text"})), "template");
    let mut b = chat_body();
    b["messages"][1]["content"] = json!("{{#if x}}unclosed");
    assert_eq!(field(b), "messages[1].content");
    let mut b = chat_body();
    b["config"]["temperature"] = json!("hot");
    assert_eq!(field(b), "config.temperature");
    let mut b = chat_body();
    b["config"]["stream"] = json!(true);
    assert_eq!(field(b), "config.stream");
    let mut b = chat_body();
    b["config"]["promptgate_cahce"] = json!({});
    assert_eq!(field(b), "config.promptgate_cahce");
    let mut b = chat_body();
    b["config"]["promptgate_cache"] = json!({"ttl": -1});
    assert_eq!(field(b), "config.promptgate_cache.ttl");
    let mut b = chat_body();
    b["grounding_variable"] = json!("question2");
    assert_eq!(field(b), "grounding_variable");
    let mut b = chat_body();
    b["variables_schema"]["docs"] = json!("integer");
    assert_eq!(field(b), "grounding_variable");
    let mut b = chat_body();
    b["variables_schema"]["docs"] = json!({"type": "string", "secret": true});
    assert_eq!(
        field(b),
        "grounding_variable",
        "a secret is no grounding context"
    );
    let mut b = chat_body();
    b["labels"] = json!(["production", "latest"]);
    assert_eq!(field(b), "labels[1]");
    let mut b = chat_body();
    b["labels"] = json!(["Prod"]);
    assert_eq!(field(b), "labels[0]");
}

#[test]
fn text_version() {
    let c = parse(json!({"type": "text", "template": "Summarize: {{text}}"}))
        .validate()
        .unwrap();
    assert_eq!(
        c.kind,
        PromptKind::Text {
            template: "Summarize: {{text}}".into()
        }
    );
    let e = parse(json!({"type": "text", "template": "x", "messages": []}))
        .validate()
        .unwrap_err();
    assert_eq!(e.field, "messages");
}

#[test]
fn prompt_names() {
    for ok in ["a", "support/answer", "rag-v2.1", "a_b/c-d/e.f", "0"] {
        validate_prompt_name(ok).unwrap();
    }
    let long = "a".repeat(129);
    for bad in [
        "", "A", "-a", ".a", "/a", "a/", "a//b", "a/../b", "a..b", "a/.b", "a b", "a\\b", "é",
        &long,
    ] {
        assert!(validate_prompt_name(bad).is_err(), "{bad:?} accepted");
    }
    assert!(validate_prompt_name(&"a".repeat(128)).is_ok());
}

#[test]
fn label_names() {
    for ok in ["production", "staging", "v1.2", "canary_2", "latest"] {
        validate_label(ok).unwrap();
    }
    for bad in ["", "Prod", "-x", "a/b", "a b"] {
        assert!(validate_label(bad).is_err(), "{bad:?}");
    }
    validate_movable_label("production").unwrap();
    assert!(validate_movable_label("latest").is_err());
}
