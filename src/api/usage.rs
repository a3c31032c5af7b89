//! Token usage of one call: the one struct the gateway parses from upstream
//! answers (in both of OpenAI's spellings, `prompt_tokens`/`completion_tokens`
//! and the Responses API's `input_tokens`/`output_tokens`; Anthropic's usage,
//! whose `input_tokens` leave out the cache reads and writes it reports
//! apart), prices in `costs` and records in the ledger.

use serde::de::IgnoredAny;
use serde::Deserialize;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// All prompt tokens, cached ones included.
    pub prompt_tokens: i64,
    /// All completion tokens, reasoning ones included.
    pub completion_tokens: i64,
    /// The part of `prompt_tokens` served from the vendor's prompt cache.
    pub cached_tokens: i64,
    /// The part of `completion_tokens` spent on hidden reasoning.
    pub reasoning_tokens: i64,
    /// The part of `prompt_tokens` written to the vendor's prompt cache
    /// (Anthropic's `cache_creation_input_tokens`), billed at its own price.
    pub cache_write_tokens: i64,
}

impl Usage {
    /// Field-wise sum (saturating: a ledger total never wraps).
    pub fn saturating_add(self, other: Usage) -> Usage {
        Usage {
            prompt_tokens: self.prompt_tokens.saturating_add(other.prompt_tokens),
            completion_tokens: self
                .completion_tokens
                .saturating_add(other.completion_tokens),
            cached_tokens: self.cached_tokens.saturating_add(other.cached_tokens),
            reasoning_tokens: self.reasoning_tokens.saturating_add(other.reasoning_tokens),
            cache_write_tokens: self
                .cache_write_tokens
                .saturating_add(other.cache_write_tokens),
        }
    }
}

#[derive(Deserialize, Default)]
struct Details {
    #[serde(default)]
    cached_tokens: Option<i64>,
    #[serde(default)]
    reasoning_tokens: Option<i64>,
    /// Cache writes, as the gateway's translation of an Anthropic answer
    /// reports them in OpenAI's shape.
    #[serde(default)]
    cache_write_tokens: Option<i64>,
}

#[derive(Deserialize)]
struct RawUsage {
    #[serde(default, alias = "input_tokens")]
    prompt_tokens: Option<i64>,
    #[serde(default, alias = "output_tokens")]
    completion_tokens: Option<i64>,
    #[serde(default, alias = "input_tokens_details")]
    prompt_tokens_details: Option<Details>,
    #[serde(default, alias = "output_tokens_details")]
    completion_tokens_details: Option<Details>,
    /// Anthropic: prompt tokens read from its cache (not in `input_tokens`).
    #[serde(default)]
    cache_read_input_tokens: Option<i64>,
    /// Anthropic: prompt tokens written to its cache (not in `input_tokens`).
    #[serde(default)]
    cache_creation_input_tokens: Option<i64>,
}

impl From<RawUsage> for Usage {
    fn from(r: RawUsage) -> Usage {
        let read = r.cache_read_input_tokens.unwrap_or(0).max(0);
        let created = r.cache_creation_input_tokens.unwrap_or(0).max(0);
        let details = r.prompt_tokens_details.unwrap_or_default();
        Usage {
            prompt_tokens: r
                .prompt_tokens
                .unwrap_or(0)
                .saturating_add(read)
                .saturating_add(created),
            completion_tokens: r.completion_tokens.unwrap_or(0),
            cached_tokens: details.cached_tokens.unwrap_or(0).saturating_add(read),
            reasoning_tokens: r
                .completion_tokens_details
                .and_then(|d| d.reasoning_tokens)
                .unwrap_or(0),
            cache_write_tokens: details
                .cache_write_tokens
                .unwrap_or(0)
                .saturating_add(created),
        }
    }
}

/// `{"usage": {...}, "choices": [...]}`: the other fields are skipped unparsed.
#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    usage: Option<RawUsage>,
    #[serde(default)]
    choices: Option<Vec<IgnoredAny>>,
    /// Responses API stream events carry the usage inside `response`.
    #[serde(default)]
    response: Option<Box<Envelope>>,
    /// Anthropic's `message_start` carries it inside `message`.
    #[serde(default)]
    message: Option<Box<Envelope>>,
    /// The event type of a Messages API stream (`message_delta`, …).
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

/// Usage of a complete JSON answer, if it has one.
pub fn from_body(body: &[u8]) -> Option<Usage> {
    of_answer(body).ok().flatten()
}

/// A body that is not JSON at all (an HTML error page, a truncated answer).
#[derive(Debug, PartialEq, Eq)]
pub struct NotJson;

/// Usage of an upstream's answer, and whether the answer is JSON. The one
/// parse that reads the usage also checks the syntax; a body it refuses is
/// parsed again, for its syntax only, to tell "not JSON" from "JSON that is
/// not an OpenAI object" (which is passed on).
pub fn of_answer(body: &[u8]) -> Result<Option<Usage>, NotJson> {
    match serde_json::from_slice::<Envelope>(body) {
        Ok(env) => Ok(env.usage.map(Usage::from)),
        Err(_) => match serde_json::from_slice::<IgnoredAny>(body) {
            Ok(_) => Ok(None),
            Err(_) => Err(NotJson),
        },
    }
}

/// What one stream event's JSON says about usage.
pub struct ChunkUsage {
    pub usage: Usage,
    /// A chunk that exists only to carry usage (`choices: []`); dropped for
    /// clients that did not ask for it.
    pub usage_only: bool,
    /// The Responses API's final event (`response.completed` and kin), which
    /// carries the usage: no `[DONE]` follows it.
    pub terminal: bool,
    /// Anthropic's `message_delta`: the final output count, updating the
    /// usage `message_start` gave (its prompt counts, when present, too).
    pub update: bool,
}

impl ChunkUsage {
    /// The usage after this chunk, given what earlier chunks said.
    pub fn after(&self, earlier: Option<Usage>) -> Usage {
        match earlier {
            Some(before) if self.update && self.usage.prompt_tokens == 0 => Usage {
                completion_tokens: self.usage.completion_tokens,
                ..before
            },
            _ => self.usage,
        }
    }
}

pub fn from_chunk(data: &[u8]) -> Option<ChunkUsage> {
    let env: Envelope = serde_json::from_slice(data).ok()?;
    if let Some(usage) = env.usage {
        let usage_only = env.choices.as_ref().is_some_and(Vec::is_empty);
        return Some(ChunkUsage {
            usage: usage.into(),
            usage_only,
            terminal: false,
            update: env.kind.as_deref() == Some("message_delta"),
        });
    }
    if let Some(usage) = env.message.and_then(|m| m.usage) {
        return Some(ChunkUsage {
            usage: usage.into(),
            usage_only: false,
            terminal: false,
            update: false,
        });
    }
    let usage = env.response?.usage?;
    Some(ChunkUsage {
        usage: usage.into(),
        usage_only: false,
        terminal: true,
        update: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_that_are_not_json_are_told_apart() {
        assert_eq!(of_answer(b"<!DOCTYPE html><html>oops</html>"), Err(NotJson));
        assert_eq!(of_answer(br#"{"id":"x","choices":["#), Err(NotJson));
        assert_eq!(of_answer(b""), Err(NotJson));
        assert_eq!(of_answer(br#"{"id":"x"}"#), Ok(None));
        // JSON, though not an OpenAI object: passed on, without usage.
        assert_eq!(of_answer(br#"{"usage":"n/a"}"#), Ok(None));
        assert_eq!(of_answer(b"[1,2]"), Ok(None));
    }

    #[test]
    fn chat_usage_with_details() {
        let u = from_body(br#"{"id":"x","choices":[{"a":1}],"usage":{"prompt_tokens":10,"completion_tokens":5,
            "prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":2}}}"#)
        .unwrap();
        assert_eq!(
            u,
            Usage {
                prompt_tokens: 10,
                completion_tokens: 5,
                cached_tokens: 4,
                reasoning_tokens: 2,
                cache_write_tokens: 0,
            }
        );
    }

    #[test]
    fn responses_usage_spelling() {
        let u = from_body(br#"{"usage":{"input_tokens":7,"output_tokens":3,"input_tokens_details":{"cached_tokens":1}}}"#).unwrap();
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens, u.cached_tokens),
            (7, 3, 1)
        );
        let c = from_chunk(br#"{"type":"response.completed","response":{"usage":{"input_tokens":7,"output_tokens":3}}}"#).unwrap();
        assert_eq!(c.usage.completion_tokens, 3);
        assert!(!c.usage_only);
    }

    #[test]
    fn anthropic_usage_adds_cache_reads_and_writes_to_the_prompt() {
        let u = from_body(
            br#"{"type":"message","usage":{"input_tokens":10,"output_tokens":5,
            "cache_creation_input_tokens":30,"cache_read_input_tokens":20}}"#,
        )
        .unwrap();
        assert_eq!(
            (
                u.prompt_tokens,
                u.cached_tokens,
                u.cache_write_tokens,
                u.completion_tokens
            ),
            (60, 20, 30, 5)
        );
    }

    #[test]
    fn anthropic_stream_usage_is_start_then_delta() {
        let start = from_chunk(br#"{"type":"message_start","message":{"id":"m","usage":{"input_tokens":10,"cache_read_input_tokens":5,"output_tokens":1}}}"#).unwrap();
        let u = start.after(None);
        assert_eq!(
            (u.prompt_tokens, u.cached_tokens, u.completion_tokens),
            (15, 5, 1)
        );
        let delta = from_chunk(br#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":42}}"#).unwrap();
        let u = delta.after(Some(u));
        assert_eq!(
            (u.prompt_tokens, u.cached_tokens, u.completion_tokens),
            (15, 5, 42)
        );
    }

    #[test]
    fn usage_only_chunk_is_recognised() {
        let c = from_chunk(br#"{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}"#)
            .unwrap();
        assert!(c.usage_only);
        assert!(from_chunk(br#"{"choices":[{"delta":{}}],"usage":null}"#).is_none());
    }
}
