//! The judge request: one chat completion asking for a verdict per claim.
//!
//! The user message is JSON (`{"context": [...], "claims": [{"claim": 1,
//! "text": ...}]}`) so that passages and claims cannot be confused with
//! instructions or with each other, and the answer is constrained by a JSON
//! schema where the upstream supports `response_format`.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// First line of the judge's system message; the mock upstream answers
/// requests that carry it with its deterministic judge.
pub const MARKER: &str = "promptgate-judge/v1";

/// The tag on the judge call's request record (`metadata.tags`).
pub const TAG: &str = "grounding-judge";

const INSTRUCTIONS: &str = "You check whether claims are supported by a context. \
The user message is JSON with `context` (passages) and numbered `claims`. For every claim, \
decide whether the context states it (not merely makes it plausible). Answer with JSON only: \
{\"verdicts\": [{\"claim\": <number>, \"supported\": true or false, \"quote\": \"<the context \
sentence that supports the claim, copied exactly; empty when unsupported>\", \"reason\": \
\"<one short sentence>\"}]}, one verdict per claim, in order.";

/// The chat completion body sent to the judge model.
pub fn request_body(model: &str, context: &[String], claims: &[String]) -> Value {
    let numbered: Vec<Value> = claims
        .iter()
        .enumerate()
        .map(|(i, text)| json!({"claim": i + 1, "text": text}))
        .collect();
    let user = json!({"context": context, "claims": numbered});
    json!({
        "model": model,
        "temperature": 0,
        "messages": [
            {"role": "system", "content": format!("{MARKER}\n{INSTRUCTIONS}")},
            {"role": "user", "content": user.to_string()},
        ],
        "response_format": {"type": "json_schema", "json_schema": {
            "name": "faithfulness_verdicts", "strict": true, "schema": schema()}},
        "metadata": {"tags": [TAG]},
        // The judge's own answer has no context to be scored against.
        "grounding": {"mode": "off"},
    })
}

fn schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["verdicts"],
        "properties": {"verdicts": {"type": "array", "items": {
            "type": "object",
            "additionalProperties": false,
            "required": ["claim", "supported", "quote", "reason"],
            "properties": {
                "claim": {"type": "integer"},
                "supported": {"type": "boolean"},
                "quote": {"type": "string"},
                "reason": {"type": "string"},
            },
        }}},
    })
}

/// The verdict cache key: the team scope (`*` for a shared namespace), the
/// judge model, the context and the claims (the answer as the judge sees
/// it). Length-prefixed so no two inputs collide.
pub fn cache_key(scope: &str, model: &str, context: &[String], claims: &[String]) -> String {
    let mut h = Sha256::new();
    let mut part = |s: &str| {
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    };
    part(scope);
    part(model);
    part(&context.len().to_string());
    context.iter().for_each(|p| part(p));
    claims.iter().for_each(|c| part(c));
    format!("judge:{}", hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn the_body_carries_marker_claims_and_schema() {
        let body = request_body("judge-model", &s(&["ctx"]), &s(&["a", "b"]));
        assert_eq!(body["temperature"], 0);
        let system = body["messages"][0]["content"].as_str().unwrap();
        assert!(system.starts_with(MARKER));
        let user: Value =
            serde_json::from_str(body["messages"][1]["content"].as_str().unwrap()).unwrap();
        assert_eq!(user["claims"][1], json!({"claim": 2, "text": "b"}));
        assert_eq!(body["response_format"]["type"], "json_schema");
        assert_eq!(body["metadata"]["tags"][0], TAG);
    }

    #[test]
    fn cache_keys_separate_model_context_and_claims() {
        let k = cache_key("t", "m", &s(&["a b"]), &s(&["c"]));
        assert_eq!(k, cache_key("t", "m", &s(&["a b"]), &s(&["c"])));
        assert_ne!(k, cache_key("u", "m", &s(&["a b"]), &s(&["c"])));
        assert_ne!(k, cache_key("t", "m2", &s(&["a b"]), &s(&["c"])));
        assert_ne!(k, cache_key("t", "m", &s(&["a", "b"]), &s(&["c"])));
        assert_ne!(k, cache_key("t", "m", &s(&["a b", "c"]), &s(&[])));
        assert_ne!(k, cache_key("t", "m", &s(&["a b"]), &s(&["d"])));
    }
}
