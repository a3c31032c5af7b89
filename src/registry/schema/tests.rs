use super::*;
use serde_json::json;

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(o) => o,
        _ => panic!("not an object"),
    }
}

fn rag() -> VariablesSchema {
    VariablesSchema::from_json(&json!({
        "question": "string",
        "docs": {"type": "array", "items": "string"},
        "max_words": {"type": "integer", "optional": true},
    }))
    .unwrap()
}

#[test]
fn accepts_valid_variables() {
    let s = rag();
    s.validate(&obj(json!({"question": "q", "docs": ["a", "b"]})))
        .unwrap();
    s.validate(&obj(json!({"question": "q", "docs": [], "max_words": 3})))
        .unwrap();
    s.validate(&obj(
        json!({"question": "q", "docs": [], "max_words": null}),
    ))
    .unwrap();
    s.validate(&obj(json!({"question": "q", "docs": [], "max_words": 3.0})))
        .unwrap();
}

#[test]
fn names_the_missing_variable() {
    let e = rag().validate(&obj(json!({"docs": []}))).unwrap_err();
    assert_eq!(
        e,
        VarError::Missing {
            name: "question".into()
        }
    );
    assert!(e.to_string().contains("`question`"));
}

#[test]
fn names_the_extra_variable() {
    let e = rag()
        .validate(&obj(json!({"question": "q", "docs": [], "questoin": "x"})))
        .unwrap_err();
    assert_eq!(
        e,
        VarError::Extra {
            name: "questoin".into()
        }
    );
    assert_eq!(e.variable(), "questoin");
}

#[test]
fn says_expected_and_got() {
    let e = rag()
        .validate(&obj(json!({"question": 1, "docs": []})))
        .unwrap_err();
    assert_eq!(
        e,
        VarError::WrongType {
            name: "question".into(),
            expected: "string".into(),
            got: "integer".into()
        }
    );
    let e = rag()
        .validate(&obj(json!({"question": "q", "docs": ["a", 2]})))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "prompt variable `docs`: expected string at index 1, got integer"
    );
    let e = rag()
        .validate(&obj(json!({"question": "q", "docs": [], "max_words": 2.5})))
        .unwrap_err();
    assert!(
        e.to_string().contains("expected integer, got number"),
        "{e}"
    );
    let e = rag()
        .validate(&obj(json!({"question": null, "docs": []})))
        .unwrap_err();
    assert!(e.to_string().contains("got null"), "{e}");
}

#[test]
fn empty_schema_accepts_anything() {
    VariablesSchema::default()
        .validate(&obj(json!({"whatever": [1, {"x": 2}]})))
        .unwrap();
}

#[test]
fn json_form_round_trips() {
    let s = VariablesSchema::from_json(&json!({
        "q": "string",
        "tags": "array<string>",
        "n?": "integer",
        "level": {"type": "enum", "values": ["low", "high"]},
        "meta": {"type": "object", "description": "free form"},
        "grid": {"type": "array", "items": {"type": "array", "items": "number"}},
    }))
    .unwrap();
    let j = s.to_json();
    assert_eq!(j["q"], json!("string"));
    assert_eq!(j["n"], json!({"type": "integer", "optional": true}));
    assert_eq!(j["tags"], json!({"type": "array", "items": "string"}));
    assert_eq!(VariablesSchema::from_json(&j).unwrap(), s);
    let e = s.validate(&obj(
        json!({"q": "", "tags": [], "level": "mid", "meta": {}, "grid": []}),
    ));
    assert!(e.unwrap_err().to_string().contains("one of [low, high]"));
}

#[test]
fn json_schema_form_is_accepted() {
    let s = VariablesSchema::from_json(&json!({
        "type": "object",
        "properties": {"q": {"type": "string"}, "k": {"type": "integer"}},
        "required": ["q"],
    }))
    .unwrap();
    assert!(!s.get("q").unwrap().optional);
    assert!(s.get("k").unwrap().optional);
}

#[test]
fn rejects_bad_schemas_naming_the_field() {
    let e = VariablesSchema::from_json(&json!({"q": "strnig"})).unwrap_err();
    assert_eq!(e.path, "variables_schema.q");
    let e =
        VariablesSchema::from_json(&json!({"q": {"type": "string", "requird": true}})).unwrap_err();
    assert!(e.message.contains("requird"));
    let e = VariablesSchema::from_json(&json!({"bad-name": "string"})).unwrap_err();
    assert_eq!(e.path, "variables_schema.bad-name");
    assert!(VariablesSchema::from_json(&json!(["q"])).is_err());
    let deep = (0..20).fold(
        json!("string"),
        |acc, _| json!({"type": "array", "items": acc}),
    );
    assert!(VariablesSchema::from_json(&json!({ "x": deep })).is_err());
}

#[test]
fn picoschema_input() {
    let s = VariablesSchema::from_picoschema(&json!({
        "question": "string, the user's question",
        "docs(array)": "string",
        "max_words?": "integer",
        "tone?(enum)": ["formal", "casual"],
        "user(object)": {"id": "string", "plan?": "string"},
    }))
    .unwrap();
    assert_eq!(
        s.get("docs").unwrap().ty,
        VarType::Array(Box::new(VarType::String))
    );
    assert_eq!(
        s.get("question").unwrap().description.as_deref(),
        Some("the user's question")
    );
    assert!(s.get("max_words").unwrap().optional);
    assert_eq!(
        s.get("tone").unwrap().ty,
        VarType::Enum(vec!["formal".into(), "casual".into()])
    );
    assert_eq!(s.get("user").unwrap().ty, VarType::Object);
    let e = VariablesSchema::from_picoschema(&json!({"docs(list)": "string"})).unwrap_err();
    assert!(e.message.contains("(list)"), "{e}");
}

#[test]
fn picoschema_output_to_strict_json_schema() {
    let s = picoschema_to_json_schema(
        &json!({
            "category(enum)": ["billing", "bug"],
            "confidence": "number",
            "note?": "string, short reason",
            "tags(array)": "string",
        }),
        "output.schema",
    )
    .unwrap();
    assert_eq!(s["type"], "object");
    assert_eq!(s["additionalProperties"], false);
    assert_eq!(s["required"].as_array().unwrap().len(), 4);
    assert_eq!(s["properties"]["note"]["type"], json!(["string", "null"]));
    assert_eq!(s["properties"]["note"]["description"], "short reason");
    assert_eq!(
        s["properties"]["category"]["enum"],
        json!(["billing", "bug"])
    );
    assert_eq!(s["properties"]["tags"]["items"], json!({"type": "string"}));
    // Already JSON Schema: unchanged.
    let js = json!({"type": "object", "properties": {}});
    assert_eq!(picoschema_to_json_schema(&js, "x").unwrap(), js);
}

#[test]
fn a_secret_variable_is_kept_in_the_canonical_form() {
    let s = VariablesSchema::from_json(&json!({
        "token": {"type": "string", "secret": true},
        "note": {"type": "string", "secret": false},
        "q": "string",
    }))
    .unwrap();
    assert!(s.get("token").unwrap().secret);
    assert!(!s.get("note").unwrap().secret);
    assert_eq!(
        s.to_json(),
        json!({"note": "string", "q": "string", "token": {"type": "string", "secret": true}})
    );
    assert_eq!(VariablesSchema::from_json(&s.to_json()).unwrap(), s);
    let js = VariablesSchema::from_json(&json!({"type": "object",
        "properties": {"token": {"type": "string", "secret": true}}, "required": ["token"]}))
    .unwrap();
    assert!(js.get("token").unwrap().secret);
}

#[test]
fn only_a_string_variable_may_be_secret() {
    for bad in [
        json!({"n": {"type": "integer", "secret": true}}),
        json!({"l": {"type": "array", "items": {"type": "string", "secret": true}}}),
        json!({"e": {"type": "enum", "values": ["a"], "secret": true}}),
        json!({"s": {"type": "string", "secret": "yes"}}),
    ] {
        let e = VariablesSchema::from_json(&bad).unwrap_err();
        assert!(e.path.starts_with("variables_schema."), "{bad}: {e}");
        assert!(e.message.contains("secret"), "{bad}: {e}");
    }
}

#[test]
fn secret_values_and_masking_touch_only_secret_strings() {
    let s = VariablesSchema::from_json(&json!({
        "token": {"type": "string", "secret": true},
        "empty?": {"type": "string", "secret": true},
        "q": "string",
    }))
    .unwrap();
    let vars = obj(json!({"token": "tok-9", "empty": "", "q": "tok-9 asked"}));
    assert_eq!(s.secret_values(&vars), vec!["tok-9".to_owned()]);
    let masked = s.masked(&vars);
    assert_eq!(masked["token"], "[secret:token]");
    assert_eq!(masked["empty"], "[secret:empty]");
    assert_eq!(
        masked["q"], "tok-9 asked",
        "other variables are left as they are"
    );
    assert!(s.validate(&masked).is_ok());
    let wrong = obj(json!({"token": 7, "q": "x"}));
    assert_eq!(s.masked(&wrong)["token"], 7, "a wrong type stays wrong");
}
