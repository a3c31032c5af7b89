//! Token counting with OpenAI's BPE encodings (tiktoken-rs).
//!
//! Used where the upstream did not (or cannot yet) report usage: budget
//! pre-checks before a call and streams cut before their usage chunk. For
//! non-OpenAI models the count is an estimate (their tokenizers differ);
//! o200k_base is the default because it is the current OpenAI encoding.
//!
//! The BPE tables are compiled into tiktoken-rs (`include_str!` of its
//! `assets/*.tiktoken`): nothing is downloaded at run time, so this works
//! offline. Building an encoder parses ~200k merges (tens of ms in release),
//! so each is built once, lazily, and [`warm_up`] lets startup pay that cost
//! instead of the first request.

use serde_json::Value;
use tiktoken_rs::CoreBPE;

/// The encodings promptgate counts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// gpt-4o, gpt-4.1, gpt-4.5, gpt-5, o1/o3/o4 and unknown models.
    O200kBase,
    /// gpt-4, gpt-3.5-turbo, text-embedding-3 / ada-002 and older.
    Cl100kBase,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::O200kBase => "o200k_base",
            Encoding::Cl100kBase => "cl100k_base",
        }
    }

    /// The shared encoder, built on first use (tiktoken-rs keeps it in a
    /// `LazyLock`).
    fn bpe(self) -> &'static CoreBPE {
        match self {
            Encoding::O200kBase => tiktoken_rs::o200k_base_singleton(),
            Encoding::Cl100kBase => tiktoken_rs::cl100k_base_singleton(),
        }
    }

    /// Token ids of `text`. Special-token strings such as `<|endoftext|>` in
    /// user text are counted as the plain text they are, as the API does.
    pub fn encode(self, text: &str) -> Vec<u32> {
        self.bpe().encode_ordinary(text)
    }

    pub fn count(self, text: &str) -> i64 {
        i64::try_from(self.encode(text).len()).unwrap_or(i64::MAX)
    }
}

/// Prefixes of model names that use o200k_base, checked before the cl100k
/// ones (`gpt-4o` must not match `gpt-4`).
const O200K_PREFIXES: &[&str] = &[
    "gpt-4o",
    "chatgpt-4o",
    "gpt-4.1",
    "gpt-4.5",
    "gpt-5",
    "gpt-oss",
    "o1",
    "o3",
    "o4",
    "mock-",
];
const CL100K_PREFIXES: &[&str] = &[
    "gpt-4",
    "gpt-3.5",
    "gpt-35",
    "text-embedding-3",
    "text-embedding-ada-002",
    "davinci-002",
    "babbage-002",
];

/// Which encoding `model` uses (a `provider/` prefix is ignored).
pub fn encoding_for(model: &str) -> Encoding {
    let lower = model.trim().to_ascii_lowercase();
    let bare = lower.rsplit('/').next().unwrap_or(&lower);
    if O200K_PREFIXES.iter().any(|p| bare.starts_with(p)) {
        Encoding::O200kBase
    } else if CL100K_PREFIXES.iter().any(|p| bare.starts_with(p)) {
        Encoding::Cl100kBase
    } else {
        Encoding::O200kBase
    }
}

/// Builds both encoders now. Call once at startup (off the request path,
/// e.g. in `spawn_blocking`), so no request pays the parse.
///
/// Only o200k_base (current OpenAI models, and the fallback for everything
/// else) is loaded up front: each encoder holds tens of MiB, and cl100k_base
/// serves only older models, so it loads on its first use.
pub fn warm_up() {
    let _ = Encoding::O200kBase.count("warm up");
}

/// Tokens in `text` for `model`.
pub fn count_text(model: &str, text: &str) -> i64 {
    encoding_for(model).count(text)
}

/// Per OpenAI's cookbook ("How to count tokens with tiktoken", §6,
/// `num_tokens_from_messages`) for gpt-3.5-turbo-0125, gpt-4, gpt-4o and later.
const TOKENS_PER_MESSAGE: i64 = 3;
const TOKENS_PER_NAME: i64 = 1;
/// "every reply is primed with <|start|>assistant<|message|>".
const REPLY_PRIMING: i64 = 3;

/// Prompt tokens of a Chat Completions `messages` array, by the cookbook
/// rule: 3 per message, the tokens of every string field (role, content,
/// name, tool_call_id, ...), 1 more per `name`, and 3 for the reply priming.
///
/// Beyond the cookbook: array `content` counts the `text` of its parts
/// (images, audio and files are not counted), and `tool_calls` count their
/// function name and arguments. `tools` definitions are outside `messages`
/// and not counted here. Not an array → just the reply priming.
pub fn count_chat_prompt(model: &str, messages: &Value) -> i64 {
    let enc = encoding_for(model);
    let mut total = REPLY_PRIMING;
    let Some(list) = messages.as_array() else {
        return total;
    };
    for message in list {
        total = total.saturating_add(TOKENS_PER_MESSAGE);
        let Some(fields) = message.as_object() else {
            continue;
        };
        for (key, value) in fields {
            let n = match (key.as_str(), value) {
                (_, Value::String(s)) => enc.count(s),
                ("content", Value::Array(parts)) => parts
                    .iter()
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .map(|t| enc.count(t))
                    .fold(0i64, i64::saturating_add),
                ("tool_calls", Value::Array(calls)) => calls
                    .iter()
                    .filter_map(|c| c.get("function"))
                    .flat_map(|f| [f.get("name"), f.get("arguments")])
                    .filter_map(|v| v.and_then(Value::as_str))
                    .map(|t| enc.count(t))
                    .fold(0i64, i64::saturating_add),
                _ => 0,
            };
            total = total.saturating_add(n);
            if key == "name" {
                total = total.saturating_add(TOKENS_PER_NAME);
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Reference token ids from OpenAI's Python `tiktoken`:
    /// - [T] openai/tiktoken `tests/test_encoding.py` (`test_simple`,
    ///   `test_simple_regex`, `test_basic_encode`, `test_encode_surrogate_pairs`)
    /// - [C] openai/openai-cookbook `examples/How_to_count_tokens_with_tiktoken.ipynb`
    ///   (§3–§5, "tiktoken is great!" and `compare_encodings`)
    ///
    /// One fixture a line (encoding, text, ids), hence no rustfmt.
    #[rustfmt::skip]
    const FIXTURES: &[(Encoding, &str, &[u32])] = &[
        // [T] test_simple / test_basic_encode
        (Encoding::Cl100kBase, "hello world", &[15339, 1917]),
        // [T] test_basic_encode: non-ASCII control char + digit
        (Encoding::Cl100kBase, " \u{85}0", &[220, 126, 227, 15]),
        // [T] test_simple_regex: contractions and whitespace runs (code-like layout)
        (Encoding::Cl100kBase, "rer", &[38149]),
        (Encoding::Cl100kBase, "'rer", &[2351, 81]),
        (Encoding::Cl100kBase, "today\n ", &[31213, 198, 220]),
        (Encoding::Cl100kBase, "today\n \n", &[31213, 27907]),
        (Encoding::Cl100kBase, "today\n  \n", &[31213, 14211]),
        // [T] test_encode_surrogate_pairs: emoji
        (Encoding::Cl100kBase, "👍", &[9468, 239, 235]),
        // [C] §3/§4
        (Encoding::Cl100kBase, "tiktoken is great!", &[83, 1609, 5963, 374, 2294, 0]),
        (Encoding::O200kBase, "tiktoken is great!", &[83, 8251, 2488, 382, 2212, 0]),
        // [C] §5 compare_encodings
        (Encoding::Cl100kBase, "antidisestablishmentarianism", &[519, 85342, 34500, 479, 8997, 2191]),
        (Encoding::O200kBase, "antidisestablishmentarianism", &[493, 129901, 376, 160388, 21203, 2367]),
        (Encoding::Cl100kBase, "2 + 2 = 4", &[17, 489, 220, 17, 284, 220, 19]),
        (Encoding::O200kBase, "2 + 2 = 4", &[17, 659, 220, 17, 314, 220, 19]),
        (Encoding::Cl100kBase, "お誕生日おめでとう", &[33334, 45918, 243, 21990, 9080, 33334, 62004, 16556, 78699]),
        (Encoding::O200kBase, "お誕生日おめでとう", &[8930, 9697, 243, 128225, 8930, 17693, 4344, 48669]),
    ];

    #[test]
    fn matches_reference_tokenizer_fixtures() {
        for (enc, text, ids) in FIXTURES {
            assert_eq!(enc.encode(text), *ids, "{} {text:?}", enc.name());
            assert_eq!(enc.count(text), i64::try_from(ids.len()).unwrap_or(-1));
        }
    }

    #[test]
    fn empty_and_special_token_text() {
        assert_eq!(count_text("gpt-4o", ""), 0);
        // Counted as plain text, not as the single special token 100257.
        assert!(count_text("gpt-4", "<|endoftext|>") > 1);
    }

    #[test]
    fn encodings_by_model() {
        use Encoding::*;
        for (m, e) in [
            ("gpt-4o", O200kBase),
            ("gpt-4o-mini-2024-07-18", O200kBase),
            ("openai/gpt-4.1-nano", O200kBase),
            ("o1", O200kBase),
            ("o3-mini", O200kBase),
            ("o4-mini", O200kBase),
            ("gpt-5-mini", O200kBase),
            ("mock-1", O200kBase),
            ("gpt-4", Cl100kBase),
            ("gpt-4-turbo", Cl100kBase),
            ("gpt-3.5-turbo-0125", Cl100kBase),
            ("text-embedding-3-small", Cl100kBase),
            ("claude-sonnet-4-5", O200kBase),
            ("", O200kBase),
        ] {
            assert_eq!(encoding_for(m), e, "{m}");
        }
    }

    /// The cookbook's §6 example: the OpenAI API itself reported 129 prompt
    /// tokens for gpt-3.5-turbo / gpt-4 and 124 for gpt-4o / gpt-4o-mini.
    #[test]
    fn chat_prompt_matches_cookbook_api_counts() {
        let messages = json!([
            {"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
            {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
            {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
            {"role": "system", "name": "example_user", "content": "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
            {"role": "system", "name": "example_assistant", "content": "Let's talk later when we're less busy about how to do better."},
            {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client deliverable."},
        ]);
        assert_eq!(count_chat_prompt("gpt-3.5-turbo", &messages), 129);
        assert_eq!(count_chat_prompt("gpt-4", &messages), 129);
        assert_eq!(count_chat_prompt("gpt-4o", &messages), 124);
        assert_eq!(count_chat_prompt("gpt-4o-mini", &messages), 124);
    }

    #[test]
    fn chat_prompt_content_parts_tool_calls_and_junk() {
        let m = "gpt-4o";
        let plain = json!([{"role": "user", "content": "hello world"}]);
        let parts = json!([{"role": "user", "content": [
            {"type": "text", "text": "hello world"},
            {"type": "image_url", "image_url": {"url": "data:..."}}
        ]}]);
        assert_eq!(count_chat_prompt(m, &plain), count_chat_prompt(m, &parts));
        let calls = json!([{"role": "assistant", "content": null, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}
        ]}]);
        let expected = 3
            + 3
            + count_text(m, "assistant")
            + count_text(m, "get_weather")
            + count_text(m, "{\"city\":\"Paris\"}");
        assert_eq!(count_chat_prompt(m, &calls), expected);
        assert_eq!(count_chat_prompt(m, &json!(null)), 3);
        assert_eq!(count_chat_prompt(m, &json!([])), 3);
        assert_eq!(count_chat_prompt(m, &json!([42])), 6);
    }

    #[test]
    fn warm_up_is_idempotent() {
        warm_up();
        warm_up();
        assert_eq!(count_text("gpt-4", "hello world"), 2);
    }

    /// Throughput on ~1 MB of mixed text (prose, code, CJK, emoji). Run with
    /// `cargo test --release -- --ignored --nocapture tokens_per_second`.
    #[test]
    #[ignore = "benchmark: run in release mode"]
    fn tokens_per_second() {
        let chunk = "The quick brown fox jumps over the lazy dog. 2 + 2 = 4.\n\
            fn main() { let v: Vec<u32> = (0..10).map(|x| x * 2).collect(); println!(\"{v:?}\"); }\n\
            お誕生日おめでとう！请考试我的软件！12345 Привет, мир! 👍🎉\n\
            <div class=\"row\"><span>{{ total_usd }}</span></div>\n";
        let mut text = String::new();
        while text.len() < 1_000_000 {
            text.push_str(chunk);
        }
        warm_up();
        for enc in [Encoding::O200kBase, Encoding::Cl100kBase] {
            let start = std::time::Instant::now();
            let mut tokens = 0i64;
            let rounds = 5;
            for _ in 0..rounds {
                tokens += enc.count(&text);
            }
            let secs = start.elapsed().as_secs_f64();
            #[allow(clippy::cast_precision_loss)]
            let rate = tokens as f64 / secs;
            println!(
                "{}: {} bytes -> {} tokens; {:.0} tokens/s, {:.1} MB/s",
                enc.name(),
                text.len(),
                tokens / rounds,
                rate,
                (text.len() * 5) as f64 / secs / 1e6
            );
        }
    }
}
