//! Striking the values of secret prompt variables from what the gateway
//! keeps or shows about a call: the answer text the grounding check scores
//! (so no claim, evidence or reason quotes the value), its request record
//! (the error text, and the grounding report once more, after a judge's
//! patch too) and the error messages it answers with. The value itself
//! reaches only the upstream, inside the rendered messages.

use serde_json::Value;

use crate::store::RequestRecord;

/// What a struck value is replaced by.
pub const STRUCK: &str = "[secret]";

/// `text` with every occurrence of each of `secrets` replaced by [`STRUCK`].
pub fn strike(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), STRUCK);
        }
    }
    out
}

/// Strikes `secrets` from every string (and object key) of a JSON value.
/// Done on the parsed value, not on JSON text: a value such as `"true"` or
/// `":"` must not be able to break the document's syntax.
fn strike_json(v: &mut Value, secrets: &[String]) {
    match v {
        Value::String(s) => *s = strike(s, secrets),
        Value::Array(items) => items.iter_mut().for_each(|x| strike_json(x, secrets)),
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (k, mut x) in entries {
                strike_json(&mut x, secrets);
                map.insert(strike(&k, secrets), x);
            }
        }
        _ => {}
    }
}

/// Strikes `secrets` from the free-text fields of a request record.
pub fn strike_record(record: &mut RequestRecord, secrets: &[String]) {
    if secrets.is_empty() {
        return;
    }
    if let Some(error) = &mut record.error {
        *error = strike(error, secrets);
    }
    if let Some(text) = &record.grounding {
        record.grounding = match serde_json::from_str::<Value>(text) {
            Ok(mut report) => {
                strike_json(&mut report, secrets);
                serde_json::to_string(&report).ok()
            }
            // Not JSON (never written so): keep nothing rather than the value.
            Err(_) => None,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn every_occurrence_is_struck_and_other_text_kept() {
        let got = strike(
            "tok-1 then tok-1 and tok-2",
            &secrets(&["tok-1", "tok-2", ""]),
        );
        assert_eq!(got, "[secret] then [secret] and [secret]");
    }

    #[test]
    fn a_record_keeps_valid_json_whatever_the_value() {
        let mut record = RequestRecord {
            error: Some("upstream said: \"quote\" is bad".into()),
            grounding: Some(
                r#"{"claims":[{"text":"the value is \"quote\"","supported":true}]}"#.into(),
            ),
            ..RequestRecord::default()
        };
        strike_record(&mut record, &secrets(&["\"quote\"", "true"]));
        assert_eq!(
            record.error.as_deref(),
            Some("upstream said: [secret] is bad")
        );
        let report: Value = serde_json::from_str(record.grounding.as_deref().unwrap()).unwrap();
        assert_eq!(report["claims"][0]["text"], "the value is [secret]");
        assert_eq!(
            report["claims"][0]["supported"], true,
            "only strings change"
        );
    }
}
