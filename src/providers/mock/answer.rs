//! The mock's deterministic text: answers of 8–16 words chosen by a hash of
//! the request, a rough token count, and the pieces a stream sends them in.

/// Every `created` timestamp: 2026-01-01, fixed so answers are reproducible.
pub const CREATED: i64 = 1_767_225_600;

/// The vocabulary answers are drawn from.
pub const WORDS: &[&str] = &[
    "the",
    "gateway",
    "answers",
    "every",
    "request",
    "with",
    "a",
    "short",
    "deterministic",
    "reply",
    "so",
    "tests",
    "can",
    "check",
    "tokens",
    "costs",
    "and",
    "streams",
    "quickly",
    "while",
    "prompts",
    "stay",
    "versioned",
    "cached",
    "grounded",
    "in",
    "context",
];

/// A deterministic answer of 8–16 words chosen by the request's content.
pub fn answer_words(
    seed: &[u8; 32],
    choice: usize,
    max_tokens: Option<u64>,
) -> (Vec<&'static str>, &'static str) {
    let natural = 8 + (seed[0] as usize + choice) % 9;
    let mut words: Vec<&str> = (0..natural)
        .map(|i| WORDS[(seed[(i + choice) % 32] as usize + i) % WORDS.len()])
        .collect();
    match max_tokens {
        Some(max) if (max as usize) < words.len() => {
            words.truncate(max as usize);
            (words, "length")
        }
        _ => (words, "stop"),
    }
}

/// About four characters a token, as OpenAI's rule of thumb says.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

/// Words as the pieces of a stream: the first as it is, each later one after
/// a space, so the pieces put together are the answer's text.
pub fn stream_pieces<'a>(
    words: impl IntoIterator<Item = &'a str> + 'a,
) -> impl Iterator<Item = String> + 'a {
    words.into_iter().enumerate().map(|(i, word)| {
        if i == 0 {
            word.to_owned()
        } else {
            format!(" {word}")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_tokens_cuts_the_answer() {
        let seed = [7u8; 32];
        let (words, finish) = answer_words(&seed, 0, Some(3));
        assert_eq!(words.len(), 3);
        assert_eq!(finish, "length");
    }
}
