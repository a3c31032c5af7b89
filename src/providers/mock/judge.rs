//! The mock's judge: a chat request whose system message starts with the
//! judge marker ([`crate::grounding::judge::MARKER`]) gets verdicts instead
//! of words. Per claim: supported when at least 3/4 of its words (letters and
//! digits, lower-cased, small function words left out) occur in the context,
//! quoting the context sentence that shares the most words with it.
//!
//! Words in a claim make the judge misbehave, for tests:
//! `judge-fabricate` (supported, with a quote that is not in the context),
//! `judge-500` (fails with 500), `judge-hang` (never answers), `judge-garbage`
//! (answers with text that is not JSON).

use std::collections::HashSet;
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::answer::{estimate_tokens, CREATED};
use super::wire::error;
use crate::grounding::judge::MARKER;

/// Share of a claim's words the context must hold for "supported".
const SUPPORTED_SHARE: f64 = 0.75;

const FUNCTION_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in", "is",
    "it", "its", "of", "on", "or", "that", "the", "this", "to", "was", "were", "with",
];

/// Whether `messages` is a judge request.
pub fn is_judge_request(messages: &Value) -> bool {
    messages
        .pointer("/0/content")
        .and_then(Value::as_str)
        .is_some_and(|s| s.starts_with(MARKER))
}

/// The judge's answer to a judge request (as a chat completion).
pub async fn answer(req: &Value, model: &str, prompt_tokens: u64) -> Response {
    let question = req
        .pointer("/messages/1/content")
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str::<Value>(s).ok());
    let Some(question) = question else {
        return error(
            400,
            "mock judge: the user message is not the judge's JSON",
            "invalid_request_error",
            None,
        );
    };
    let context: Vec<&str> = question["context"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let claims: Vec<(u64, &str)> = question["claims"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| Some((c["claim"].as_u64()?, c["text"].as_str()?)))
        .collect();
    let said = |word: &str| claims.iter().any(|(_, t)| t.to_lowercase().contains(word));
    if said("judge-500") {
        return error(500, "mock judge failed", "server_error", None);
    }
    if said("judge-hang") {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let content = if said("judge-garbage") {
        "Looks fine to me.".to_owned()
    } else {
        let verdicts: Vec<Value> = claims
            .iter()
            .map(|(n, text)| verdict(*n, text, &context))
            .collect();
        json!({ "verdicts": verdicts }).to_string()
    };
    let completion_tokens = estimate_tokens(&content);
    axum::Json(json!({
        "id": "chatcmpl-mockjudge", "object": "chat.completion", "created": CREATED,
        "model": model, "system_fingerprint": "fp_mock",
        "choices": [{"index": 0, "logprobs": null, "finish_reason": "stop",
            "message": {"role": "assistant", "content": content, "refusal": null}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens},
    }))
    .into_response()
}

fn verdict(claim: u64, text: &str, context: &[&str]) -> Value {
    let words = content_words(text);
    let sentences: Vec<&str> = context.iter().flat_map(|p| sentences(p)).collect();
    let all: HashSet<String> = context.iter().flat_map(|p| content_words(p)).collect();
    let best = sentences
        .iter()
        .map(|s| (content_words(s).intersection(&words).count(), *s))
        .fold((0, ""), |best, x| if x.0 > best.0 { x } else { best });
    let found = words.iter().filter(|w| all.contains(*w)).count();
    let share = if words.is_empty() {
        0.0
    } else {
        found as f64 / words.len() as f64
    };
    if text.to_lowercase().contains("judge-fabricate") {
        return json!({"claim": claim, "supported": true,
            "quote": "The context says exactly this.", "reason": "quoted"});
    }
    let supported = share >= SUPPORTED_SHARE;
    json!({
        "claim": claim,
        "supported": supported,
        "quote": if supported { best.1 } else { "" },
        "reason": format!("{found} of {} words in the context", words.len()),
    })
}

fn content_words(text: &str) -> HashSet<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '-')
        .map(|w| w.trim_matches('-').to_lowercase())
        .filter(|w| !w.is_empty() && !FUNCTION_WORDS.contains(&w.as_str()))
        .collect()
}

/// A passage's sentences, as written (ending at `.`, `!` or `?` before a space).
fn sentences(passage: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = passage.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        let end = matches!(b, b'.' | b'!' | b'?')
            && bytes.get(i + 1).is_none_or(|n| n.is_ascii_whitespace());
        if end {
            out.push(passage[start..=i].trim());
            start = i + 1;
        }
    }
    out.push(passage[start..].trim());
    out.retain(|s| !s.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_claims_quote_the_best_sentence() {
        let ctx = ["The Eiffel Tower is 330 metres tall. It opened in 1889."];
        let v = verdict(1, "The tower opened in 1889.", &ctx);
        assert_eq!(v["supported"], true);
        assert_eq!(v["quote"], "It opened in 1889.");
        let v = verdict(2, "It opened in 1925 in Berlin.", &ctx);
        assert_eq!(v["supported"], false);
        assert_eq!(v["quote"], "");
    }
}
