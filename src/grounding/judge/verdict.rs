//! Reading the judge's answer: a chat completion whose message content is
//! `{"verdicts": [{"claim", "supported", "quote", "reason"}]}`, one verdict
//! per claim. Anything else (no JSON, a claim left out or judged twice) is an
//! invalid verdict, and the fast tier's result stands.

use serde::Deserialize;
use serde_json::Value;

use super::outcome::{JudgeError, JudgeReport, JudgedClaim};
use super::quote::ContextText;

#[derive(Deserialize)]
struct Verdicts {
    verdicts: Vec<RawVerdict>,
}

#[derive(Deserialize)]
struct RawVerdict {
    claim: usize,
    supported: bool,
    #[serde(default)]
    quote: String,
    #[serde(default)]
    reason: String,
}

fn invalid(message: impl Into<String>) -> JudgeError {
    JudgeError::Invalid(message.into())
}

/// The message content of a chat completion answer.
fn content_of(completion: &[u8]) -> Result<String, JudgeError> {
    let answer: Value = serde_json::from_slice(completion)
        .map_err(|e| invalid(format!("the answer is not JSON: {e}")))?;
    answer
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| invalid("the answer has no message content"))
}

/// Models that ignore `response_format` often fence their JSON.
fn unfenced(content: &str) -> &str {
    let t = content.trim();
    let Some(rest) = t.strip_prefix("```") else {
        return t;
    };
    let rest = rest.strip_prefix("json").unwrap_or(rest);
    rest.strip_suffix("```").unwrap_or(rest).trim()
}

/// Reads a judge's chat completion into a report on `claims`. A claim counts
/// as supported only when the judge says so and its quote is in the context.
pub fn read_verdicts(
    completion: &[u8],
    claims: &[String],
    context: &ContextText,
    model: &str,
    threshold: f64,
) -> Result<JudgeReport, JudgeError> {
    let content = content_of(completion)?;
    let parsed: Verdicts = serde_json::from_str(unfenced(&content)).map_err(|e| {
        let head: String = content.chars().take(80).collect();
        invalid(format!("{e} (content starts {head:?})"))
    })?;
    let mut slots: Vec<Option<RawVerdict>> = claims.iter().map(|_| None).collect();
    for v in parsed.verdicts {
        let slot = v
            .claim
            .checked_sub(1)
            .and_then(|i| slots.get_mut(i))
            .ok_or_else(|| invalid(format!("verdict for claim {} of {}", v.claim, claims.len())))?;
        if slot.is_some() {
            return Err(invalid(format!("claim {} judged twice", v.claim)));
        }
        *slot = Some(v);
    }
    let judged = claims
        .iter()
        .zip(slots)
        .enumerate()
        .map(|(i, (text, v))| {
            let v = v.ok_or_else(|| invalid(format!("no verdict for claim {}", i + 1)))?;
            Ok(judged_claim(text, v, context))
        })
        .collect::<Result<Vec<_>, JudgeError>>()?;
    Ok(JudgeReport::new(model, threshold, judged))
}

fn judged_claim(text: &str, v: RawVerdict, context: &ContextText) -> JudgedClaim {
    let quote_found = context.contains(&v.quote);
    let (supported, reason) = match (v.supported, quote_found) {
        (true, true) | (false, _) => (v.supported, v.reason),
        (true, false) if v.quote.trim().is_empty() => (
            false,
            "judged supported without a quote from the context".to_owned(),
        ),
        (true, false) => {
            metrics::counter!("promptgate_grounding_judge_fabricated_quotes_total").increment(1);
            (false, "the quote is not in the context".to_owned())
        }
    };
    JudgedClaim {
        text: text.to_owned(),
        supported,
        quote: v.quote,
        quote_found,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CONTEXT: [&str; 1] = ["The Eiffel Tower is 330 metres tall. It opened in 1889."];

    fn claims() -> Vec<String> {
        vec!["It is 330 m tall.".into(), "It opened in 1925.".into()]
    }

    fn completion(content: &str) -> Vec<u8> {
        json!({"choices": [{"message": {"role": "assistant", "content": content}}]})
            .to_string()
            .into_bytes()
    }

    /// One verdict as a judge writes it.
    fn v(claim: usize, supported: bool, quote: &str, reason: &str) -> Value {
        json!({"claim": claim, "supported": supported, "quote": quote, "reason": reason})
    }

    fn verdicts(items: Vec<Value>) -> String {
        json!({ "verdicts": items }).to_string()
    }

    fn read(content: &str) -> Result<JudgeReport, JudgeError> {
        let ctx = ContextText::new(&CONTEXT);
        read_verdicts(&completion(content), &claims(), &ctx, "m", 1.0)
    }

    #[test]
    fn supported_claims_with_real_quotes_count() {
        let content = verdicts(vec![
            v(2, false, "", "the context says 1889"),
            v(1, true, "the Eiffel Tower is 330 metres tall.", "stated"),
        ]);
        let r = read(&content).unwrap();
        assert_eq!(r.score, 0.5);
        assert!(r.flagged);
        assert!(r.claims[0].supported && r.claims[0].quote_found);
        assert_eq!(r.claims[0].text, "It is 330 m tall.");
        assert!(!r.claims[1].supported);
        assert_eq!(r.claims[1].reason, "the context says 1889");
    }

    #[test]
    fn a_fabricated_or_missing_quote_makes_the_claim_unsupported() {
        let fabricated = v(1, true, "The tower is 330 m tall.", "x");
        let r = read(&verdicts(vec![fabricated, v(2, true, "", "x")])).unwrap();
        let reasons: Vec<&str> = r.claims.iter().map(|c| c.reason.as_str()).collect();
        assert_eq!((r.score, r.claims[0].quote_found), (0.0, false));
        assert_eq!(
            reasons,
            [
                "the quote is not in the context",
                "judged supported without a quote from the context"
            ]
        );
    }

    #[test]
    fn fenced_json_is_read() {
        let inner = verdicts(vec![
            v(1, true, "It opened in 1889.", ""),
            v(2, false, "", ""),
        ]);
        let r = read(&format!("```json\n{inner}\n```")).unwrap();
        assert_eq!(r.score, 0.5);
    }

    #[test]
    fn garbage_and_incomplete_verdicts_are_errors() {
        let one =
            |claim: usize| json!({"claim": claim, "supported": false, "quote": "", "reason": ""});
        for content in [
            "I think the answer is fine.".to_owned(),
            json!({"verdict": []}).to_string(),
            verdicts(vec![one(1)]),
            verdicts(vec![one(1), one(1), one(2)]),
            verdicts(vec![one(1), one(3)]),
            verdicts(vec![one(0), one(1)]),
            verdicts(vec![json!({"claim": 1, "supported": "yes"}), one(2)]),
        ] {
            assert!(
                matches!(read(&content), Err(JudgeError::Invalid(_))),
                "{content}"
            );
        }
        let ctx = ContextText::new(&CONTEXT);
        let not_a_completion = read_verdicts(b"<html>", &claims(), &ctx, "m", 1.0);
        assert!(matches!(not_a_completion, Err(JudgeError::Invalid(_))));
    }
}
