//! The model an answer names, for a call that named none (a model-less
//! Responses call: a stored prompt, `previous_response_id` or `conversation`
//! chose it upstream). The record and the price use it.

use bytes::Bytes;

/// The top-level `model` of a JSON answer.
pub fn of_answer(bytes: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Named {
        model: Option<String>,
    }
    serde_json::from_slice::<Named>(bytes).ok()?.model
}

/// The model a stream names: in its first event (`response.created`), else
/// in its last (`response.completed`). Only those two are parsed: the events
/// between them (the deltas) never carry it, and a long stream has many.
pub fn of_stream(payloads: &[Bytes]) -> Option<String> {
    let first = payloads.first()?;
    of_event(first).or_else(|| {
        payloads
            .last()
            .filter(|last| *last != first)
            .and_then(|last| of_event(last))
    })
}

/// `response.model` of a Responses stream event (a chat chunk's top-level
/// `model` too, so any stream that names its model is read).
fn of_event(payload: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Event {
        model: Option<String>,
        response: Option<Named>,
    }
    #[derive(serde::Deserialize)]
    struct Named {
        model: Option<String>,
    }
    let event = serde_json::from_slice::<Event>(payload).ok()?;
    event.response.and_then(|r| r.model).or(event.model)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(list: &[&str]) -> Vec<Bytes> {
        list.iter().map(|e| Bytes::from(e.to_string())).collect()
    }

    #[test]
    fn a_stream_names_its_model_in_its_first_or_last_event() {
        let created = r#"{"type":"response.created","response":{"id":"r","model":"gpt-4o-mini","usage":null}}"#;
        let delta = r#"{"type":"response.output_text.delta","delta":"hi"}"#;
        let completed = r#"{"type":"response.completed","response":{"id":"r","model":"gpt-4o","usage":{"input_tokens":1}}}"#;
        assert_eq!(
            of_stream(&events(&[created, delta, completed])).as_deref(),
            Some("gpt-4o-mini")
        );
        let unnamed = r#"{"type":"response.created","response":{"id":"r"}}"#;
        assert_eq!(
            of_stream(&events(&[unnamed, delta, completed])).as_deref(),
            Some("gpt-4o")
        );
        assert_eq!(of_stream(&events(&[unnamed, delta])), None);
        assert_eq!(of_stream(&events(&[unnamed])), None);
        assert_eq!(of_stream(&[]), None);
        let chunk = r#"{"object":"chat.completion.chunk","model":"m","choices":[]}"#;
        assert_eq!(of_stream(&events(&[chunk])).as_deref(), Some("m"));
        assert_eq!(of_stream(&events(&["not json"])), None);
    }

    #[test]
    fn an_answer_names_its_top_level_model() {
        assert_eq!(
            of_answer(br#"{"model":"gpt-4o","output":[]}"#).as_deref(),
            Some("gpt-4o")
        );
        assert_eq!(of_answer(br#"{"output":[]}"#), None);
        assert_eq!(of_answer(b"<html>"), None);
    }
}
