use std::path::{Path, PathBuf};

use super::*;
use crate::registry::model::{
    KindTag, Message, ModelError, PromptKind, PromptVersion, Role, Source,
};
use crate::registry::render::{render, Rendered};
use crate::registry::schema::VarType;
use serde_json::json;

const SPEC_EXAMPLE: &str = r#"---
model: gpt-4o-mini
config: {temperature: 0.2, maxOutputTokens: 400}
input:
  schema:
    question: string
    docs(array): string
promptgate.labels: [production]
promptgate.grounding: docs          # this variable is the RAG context
---
{{role "system"}}
Answer only from the documents below.
{{#each docs}}- {{this}}
{{/each}}
{{role "user"}}
{{question}}
"#;

fn err(src: &str) -> ModelError {
    parse("p", src).unwrap_err()
}

#[test]
fn parses_the_design_example() {
    let nv = parse("support-answer", SPEC_EXAMPLE).unwrap();
    assert_eq!(nv.kind, KindTag::Chat);
    assert_eq!(
        nv.config,
        *json!({"model": "gpt-4o-mini", "temperature": 0.2, "max_tokens": 400})
            .as_object()
            .unwrap()
    );
    assert_eq!(nv.labels, vec!["production"]);
    assert_eq!(nv.grounding_variable.as_deref(), Some("docs"));
    assert_eq!(
        nv.variables_schema.get("docs").unwrap().ty,
        VarType::Array(Box::new(VarType::String))
    );
    let m = nv.messages.clone().unwrap();
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].role, Role::System);
    assert_eq!(
        m[0].content,
        "Answer only from the documents below.\n{{#each docs}}- {{this}}\n{{/each}}"
    );
    assert_eq!(
        m[1],
        Message {
            role: Role::User,
            content: "{{question}}".into()
        }
    );

    let v = PromptVersion::new(
        "support-answer",
        1,
        nv.validate().unwrap(),
        None,
        None,
        0,
        Source::File,
    );
    let r = render(
        &v,
        json!({"question": "Q", "docs": ["a", "b"]})
            .as_object()
            .unwrap(),
    )
    .unwrap();
    let Rendered::Messages(m) = r else { panic!() };
    assert_eq!(
        m[0].content,
        "Answer only from the documents below.\n- a\n- b\n"
    );
    assert_eq!(m[1].content, "Q");
}

#[test]
fn nested_role_markers_stay_in_the_template() {
    let nv = parse(
        "p",
        "{{role \"system\"}}S{{#if ex}}{{role \"user\"}}E{{/if}}\n{{role 'user'}}\n{{q}}",
    )
    .unwrap();
    let m = nv.messages.unwrap();
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].content, "S{{#if ex}}{{role \"user\"}}E{{/if}}");
    assert_eq!(m[1].content, "{{q}}");
}

#[test]
fn body_without_markers_is_one_user_message_and_comments_are_skipped() {
    let nv = parse(
        "p",
        "---\nmodel: m\n---\n{{!-- {{role \"system\"}} --}}Hello {{name}}\n",
    )
    .unwrap();
    assert_eq!(
        nv.messages.unwrap(),
        vec![Message {
            role: Role::User,
            content: "{{!-- {{role \"system\"}} --}}Hello {{name}}".into()
        }]
    );
    // Whitespace control and text before the first marker.
    let nv = parse("p", "Intro\n{{~role \"assistant\"~}}\nHi").unwrap();
    let m = nv.messages.unwrap();
    assert_eq!(
        m[0],
        Message {
            role: Role::User,
            content: "Intro".into()
        }
    );
    assert_eq!(
        m[1],
        Message {
            role: Role::Assistant,
            content: "Hi".into()
        }
    );
}

#[test]
fn output_schema_becomes_response_format() {
    let nv = parse(
        "support/classify",
        "---\noutput:\n  format: json\n  schema:\n    label(enum): [a, b]\n    score: number\n---\nClassify {{x}}",
    )
    .unwrap();
    let rf = &nv.config["response_format"];
    assert_eq!(rf["type"], "json_schema");
    assert_eq!(rf["json_schema"]["name"], "support_classify");
    assert_eq!(rf["json_schema"]["strict"], true);
    assert_eq!(
        rf["json_schema"]["schema"]["properties"]["label"]["enum"],
        json!(["a", "b"])
    );
    assert_eq!(
        rf["json_schema"]["schema"]["required"],
        json!(["label", "score"])
    );
    let nv = parse("p", "---\noutput: {format: json}\n---\nx").unwrap();
    assert_eq!(nv.config["response_format"], json!({"type": "json_object"}));
    let nv = parse("p", "---\noutput: {format: text}\n---\nx").unwrap();
    assert!(!nv.config.contains_key("response_format"));
    assert_eq!(
        err("---\noutput: {format: text, schema: {a: string}}\n---\nx").field,
        "output.schema"
    );
    assert_eq!(
        err("---\noutput: {format: yaml}\n---\nx").field,
        "output.format"
    );
}

#[test]
fn config_mapping() {
    let nv = parse(
        "p",
        "---\nconfig:\n  topP: 0.9\n  topK: 40\n  stopSequences: [\"\\n\\n\"]\n  seed: 7\n  presencePenalty: 0.1\n---\nx",
    )
    .unwrap();
    assert_eq!(nv.config["top_p"], 0.9);
    assert_eq!(nv.config["top_k"], 40);
    assert_eq!(nv.config["stop"], json!(["\n\n"]));
    assert_eq!(nv.config["seed"], 7);
    assert_eq!(nv.config["presence_penalty"], 0.1);
    assert_eq!(
        err("---\nconfig: {maxTokens: 5}\n---\nx").field,
        "config.maxTokens"
    );
    assert_eq!(
        err("---\nconfig: {stop: x, stopSequences: [y]}\n---\nx").field,
        "config.stopSequences"
    );
    assert_eq!(
        err("---\nmodel: a\nconfig: {model: b}\n---\nx").field,
        "config.model"
    );
    assert_eq!(
        err("---\nconfig: {temperature: hot}\n---\nx").field,
        "config.temperature"
    );
}

#[test]
fn promptgate_keys() {
    let nv = parse(
        "p",
        "---\npromptgate:\n  labels: [staging, production]\n  cache: {ttl: 600}\n  commit_message: hi\ninput: {schema: {t: string}}\n---\n{{t}}",
    )
    .unwrap();
    assert_eq!(nv.labels, vec!["staging", "production"]);
    assert_eq!(nv.config["promptgate_cache"], json!({"ttl": 600}));
    assert_eq!(nv.commit_message.as_deref(), Some("hi"));
    let nv = parse("p", "---\npromptgate.type: text\n---\nComplete: {{x}}\n").unwrap();
    assert_eq!(nv.kind, KindTag::Text);
    assert_eq!(nv.template.as_deref(), Some("Complete: {{x}}"));
    assert_eq!(
        err("---\npromptgate.type: text\n---\n{{role \"user\"}}x").field,
        "template"
    );
    assert_eq!(
        err("---\npromptgate.lables: [x]\n---\nx").field,
        "promptgate.lables"
    );
    assert_eq!(
        err("---\npromptgate.labels: [latest]\n---\nx").field,
        "promptgate.labels[0]"
    );
    assert_eq!(
        err("---\npromptgate.grounding: q\n---\nx").field,
        "promptgate.grounding"
    );
    assert_eq!(
        err("---\npromptgate.cache: {tll: 1}\n---\nx").field,
        "config.promptgate_cache.tll"
    );
}

#[test]
fn unknown_and_unsupported_keys_are_errors() {
    assert_eq!(err("---\nmodle: x\n---\nx").field, "modle");
    assert_eq!(
        err("---\ninput: {schema: {a: string}, default: {a: x}}\n---\nx").field,
        "input.default"
    );
    assert_eq!(
        err("---\ninput: {shcema: {}}\n---\nx").field,
        "input.shcema"
    );
    assert_eq!(err("---\ntools: [lookup]\n---\nx").field, "tools[0]");
    assert_eq!(err("---\nvariant: v2\n---\nx").field, "variant");
    assert_eq!(err("---\nother.key: 1\n---\nx").field, "other.key");
    assert_eq!(err("---\nname: other\n---\nx").field, "name");
    // Ignored on purpose.
    parse(
        "p",
        "---\nname: p\ndescription: d\nmetadata: {owner: me}\n---\nx",
    )
    .unwrap();
}

#[test]
fn syntax_errors() {
    assert_eq!(err("---\nmodel: [\n---\nx").field, "front matter");
    assert_eq!(err("---\nmodel: x\nno end").field, "front matter");
    assert_eq!(err("---\n- a\n---\nx").field, "front matter");
    assert!(err("{{role \"system\"}}ok{{role \"user\"}}{{#if x}}")
        .field
        .starts_with("body (messages[1]"));
    assert_eq!(err("---\n---\n   \n").field, "body");
    assert_eq!(
        err("---\ninput: {schema: {a(list): string}}\n---\nx").field,
        "input.schema.a"
    );
}

#[test]
fn openai_tools_pass_through() {
    let nv = parse(
        "p",
        "---\ntools:\n  - type: function\n    function: {name: lookup, parameters: {type: object, properties: {}}}\n---\nx",
    )
    .unwrap();
    assert_eq!(nv.config["tools"][0]["function"]["name"], "lookup");
}

#[test]
fn crlf_and_bom() {
    let nv = parse(
        "p",
        "\u{feff}---\r\nmodel: m\r\n---\r\n{{role \"system\"}}\r\nS\r\n{{role \"user\"}}\r\nU\r\n",
    )
    .unwrap();
    let m = nv.messages.unwrap();
    assert_eq!((m[0].role, m[0].content.as_str()), (Role::System, "S"));
    assert_eq!((m[1].role, m[1].content.as_str()), (Role::User, "U"));
}

#[test]
fn names_from_paths() {
    let root = Path::new("/x/prompts");
    assert_eq!(
        name_from_path(root, Path::new("/x/prompts/support/answer.prompt")).unwrap(),
        "support/answer"
    );
    assert_eq!(
        name_from_path(root, Path::new("/x/prompts/a.b.prompt")).unwrap(),
        "a.b"
    );
    assert!(name_from_path(root, Path::new("/x/prompts/Upper.prompt")).is_err());
    assert!(name_from_path(root, Path::new("/x/prompts/_partial.prompt")).is_err());
    assert!(name_from_path(root, Path::new("/y/a.prompt")).is_err());
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pg-dotprompt-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("sub/deeper")).unwrap();
    d
}

#[test]
fn load_dir_collects_all_errors_naming_files() {
    let d = temp_dir("errors");
    std::fs::write(d.join("good.prompt"), "Hi {{x}}").unwrap();
    std::fs::write(d.join("sub/deeper/ok.prompt"), "---\nmodel: m\n---\nHi").unwrap();
    std::fs::write(d.join("sub/bad.prompt"), "---\ntemprature: 1\n---\nx").unwrap();
    std::fs::write(d.join("Bad.prompt"), "x").unwrap();
    std::fs::write(d.join("notes.txt"), "ignored").unwrap();
    std::fs::write(d.join(".hidden.prompt"), "ignored").unwrap();
    let errs = load_dir(&d).unwrap_err();
    assert_eq!(errs.len(), 2, "{errs:?}");
    let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    assert!(
        text.iter()
            .any(|t| t.contains("sub/bad.prompt: temprature: unknown front-matter key")),
        "{text:?}"
    );
    assert!(
        text.iter().any(|t| t.contains("Bad.prompt: name:")),
        "{text:?}"
    );
    std::fs::remove_file(d.join("sub/bad.prompt")).unwrap();
    std::fs::remove_file(d.join("Bad.prompt")).unwrap();
    let ok = load_dir(&d).unwrap();
    let names: Vec<&str> = ok.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, vec!["good", "sub/deeper/ok"]);
    let _ = std::fs::remove_dir_all(&d);
    assert!(load_dir(&d).is_err());
}

/// The example prompts shipped in the repository's `prompts/` folder.
fn repo_prompts_dir() -> PathBuf {
    std::env::var_os("PROMPTGATE_PROMPTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/prompts")))
}

#[test]
fn repo_example_prompts_load_and_render() {
    let files = load_dir(&repo_prompts_dir()).unwrap_or_else(|e| {
        panic!(
            "{}",
            e.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    for want in ["classify-ticket", "summarize", "support/rag-answer"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    let get = |n: &str| {
        let f = files.iter().find(|f| f.name == n).unwrap();
        assert_eq!(f.version.labels, vec!["production"], "{n}");
        assert_eq!(f.version.config["model"], "mock-1", "{n}");
        PromptVersion::new(
            n,
            1,
            f.version.validate().unwrap(),
            None,
            None,
            0,
            Source::File,
        )
    };

    let rag = get("support/rag-answer");
    assert_eq!(rag.grounding_variable.as_deref(), Some("docs"));
    let Rendered::Messages(m) = render(
        &rag,
        json!({"question": "How do I reset my password?", "docs": ["Go to Settings > Security.", "Links expire in 30 min."]})
            .as_object()
            .unwrap(),
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(m.len(), 2);
    assert!(
        m[0].content
            .contains("- Go to Settings > Security.\n- Links expire in 30 min."),
        "{}",
        m[0].content
    );
    assert!(
        m[0].content.starts_with("You are a support assistant."),
        "{}",
        m[0].content
    );
    assert_eq!(m[1].content, "How do I reset my password?");

    let sum = get("summarize");
    let Rendered::Messages(m) = render(
        &sum,
        json!({"text": "Long text.", "max_words": 20})
            .as_object()
            .unwrap(),
    )
    .unwrap() else {
        panic!()
    };
    assert!(m[1].content.contains("in at most 20 words"));
    assert!(render(
        &sum,
        json!({"text": "x", "max_words": "20"}).as_object().unwrap()
    )
    .is_err());

    let cls = get("classify-ticket");
    assert_eq!(cls.config["response_format"]["type"], "json_schema");
    assert_eq!(
        cls.config["response_format"]["json_schema"]["schema"]["properties"]["priority"]["enum"],
        json!(["low", "normal", "high", "urgent"])
    );
    assert!(matches!(cls.kind, PromptKind::Chat { .. }));
    render(
        &cls,
        json!({"subject": "s", "body": "b", "customer_tier": "pro"})
            .as_object()
            .unwrap(),
    )
    .unwrap();
}

#[test]
fn promptgate_secret_marks_declared_string_variables() {
    let src = "---\npromptgate.secret: [token]\ninput:\n  schema:\n    token: string\n    q: string\n---\nUse {{token}} for {{q}}\n";
    let nv = parse("p", src).unwrap();
    assert!(nv.variables_schema.get("token").unwrap().secret);
    assert!(!nv.variables_schema.get("q").unwrap().secret);
    let undeclared =
        err("---\npromptgate.secret: [nope]\ninput:\n  schema:\n    q: string\n---\n{{q}}\n");
    assert_eq!(undeclared.field, "promptgate.secret[0]");
    let typed = err("---\npromptgate.secret: [n]\ninput:\n  schema:\n    n: integer\n---\n{{n}}\n");
    assert_eq!(typed.field, "promptgate.secret[0]");
    assert!(typed.message.contains("string"), "{typed:?}");
}
