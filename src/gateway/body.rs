//! The client's request body, read once at the top level only.
//!
//! Every field stays a raw JSON slice, so unknown fields reach the upstream
//! byte for byte and the proxy never pays for parsing `messages`. Only
//! promptgate's own extension fields are taken out.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::api::{ApiError, EXTENSION_FIELDS};

/// Top-level fields in their original order, values untouched unless the
/// proxy set them (prompt rendering, stream options).
pub struct RequestBody<'a> {
    fields: Vec<(String, Cow<'a, RawValue>)>,
    /// True once a field was changed or removed; otherwise the original bytes are sent.
    changed: bool,
}

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Vec<(String, &'de RawValue)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some((k, v)) = map.next_entry::<String, &'de RawValue>()? {
            out.push((k, v));
        }
        Ok(out)
    }
}

struct Fields<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(FieldsVisitor).map(Fields)
    }
}

impl<'a> RequestBody<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<RequestBody<'a>, ApiError> {
        let fields = serde_json::from_slice::<Fields<'a>>(bytes).map_err(|e| {
            let message = if e.classify() == serde_json::error::Category::Data {
                "The request body must be a JSON object.".to_owned()
            } else {
                format!("We could not parse the JSON body of your request: {e}")
            };
            ApiError::invalid(message, None)
        })?;
        if let Some(name) = first_repeated(&fields.0) {
            // JSON parsers disagree on a repeated member (most keep the last,
            // this one reads the first): the gateway would route, price and
            // check one `model` or `stream` while the upstream runs another.
            return Err(ApiError::invalid(
                format!("'{name}' appears more than once in the request body."),
                Some(name),
            ));
        }
        Ok(RequestBody {
            fields: fields
                .0
                .into_iter()
                .map(|(k, v)| (k, Cow::Borrowed(v)))
                .collect(),
            changed: false,
        })
    }

    /// The top-level fields as (name, raw JSON) pairs, in order.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(k, v)| (k.as_str(), v.get()))
    }

    pub fn get(&self, name: &str) -> Option<&RawValue> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
    }

    pub fn has(&self, name: &str) -> bool {
        self.fields.iter().any(|(k, _)| k == name)
    }

    /// A string field; `Ok(None)` when absent or null, 400 naming it when not a string.
    pub fn str_field(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(raw) if raw.get() == "null" => Ok(None),
            Some(raw) => serde_json::from_str::<String>(raw.get())
                .map(Some)
                .map_err(|_| ApiError::invalid(format!("'{name}' must be a string."), Some(name))),
        }
    }

    pub fn bool_field(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name).map(RawValue::get) {
            None | Some("null") => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(_) => Err(ApiError::invalid(
                format!("'{name}' must be a boolean."),
                Some(name),
            )),
        }
    }

    /// Requires `name` to be present and a non-empty JSON array.
    pub fn require_array(&self, name: &str) -> Result<(), ApiError> {
        match self.get(name).map(|r| r.get().trim_start()) {
            None | Some("null") => Err(ApiError::invalid(
                format!("Missing required parameter: '{name}'."),
                Some(name),
            )),
            Some(v) if v.starts_with('[') => {
                if v[1..].trim_start().starts_with(']') {
                    Err(ApiError::invalid(
                        format!("'{name}' must not be empty."),
                        Some(name),
                    ))
                } else {
                    Ok(())
                }
            }
            Some(_) => Err(ApiError::invalid(
                format!("'{name}' must be an array."),
                Some(name),
            )),
        }
    }

    pub fn require_present(&self, name: &str) -> Result<(), ApiError> {
        match self.get(name).map(RawValue::get) {
            None | Some("null") => Err(ApiError::invalid(
                format!("Missing required parameter: '{name}'."),
                Some(name),
            )),
            Some(_) => Ok(()),
        }
    }

    /// Takes a field out of the upstream body, returning it.
    pub fn take(&mut self, name: &str) -> Option<Cow<'a, RawValue>> {
        let pos = self.fields.iter().position(|(k, _)| k == name)?;
        self.changed = true;
        Some(self.fields.remove(pos).1)
    }

    /// Removes promptgate's extension fields. An object-valued `prompt` is
    /// promptgate's prompt reference, except on the Responses API where
    /// OpenAI defines the same field (`keep_prompt_object`).
    pub fn strip_extensions(&mut self, keep_prompt_object: bool) {
        let before = self.fields.len();
        self.fields.retain(|(k, v)| {
            if k == "prompt" {
                return keep_prompt_object || !v.get().trim_start().starts_with('{');
            }
            !EXTENSION_FIELDS.contains(&k.as_str())
        });
        self.changed |= self.fields.len() != before;
    }

    /// Sets `name` to an already-serialized JSON value, keeping its position.
    pub fn set(&mut self, name: &str, value: Box<RawValue>) {
        self.changed = true;
        match self.fields.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = Cow::Owned(value),
            None => self.fields.push((name.to_owned(), Cow::Owned(value))),
        }
    }

    /// The body for the upstream: the original bytes when nothing changed.
    pub fn to_bytes(&self, original: &axum::body::Bytes) -> axum::body::Bytes {
        if !self.changed {
            return original.clone();
        }
        let mut out = Vec::with_capacity(original.len() + 48);
        out.push(b'{');
        for (i, (k, v)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            // Keys came out of valid JSON, so re-escaping them cannot fail.
            let _ = serde_json::to_writer(&mut out, k);
            out.push(b':');
            out.extend_from_slice(v.get().as_bytes());
        }
        out.push(b'}');
        out.into()
    }
}

/// The first top-level name that occurs twice.
fn first_repeated<'f>(fields: &'f [(String, &RawValue)]) -> Option<&'f str> {
    // A body has a handful of members: pairwise is cheapest there, and a set
    // keeps a hostile body with thousands of members linear.
    if fields.len() <= 32 {
        return fields
            .iter()
            .enumerate()
            .find(|(i, (k, _))| fields[..*i].iter().any(|(p, _)| p == k))
            .map(|(_, (k, _))| k.as_str());
    }
    let mut seen = std::collections::HashSet::with_capacity(fields.len());
    fields
        .iter()
        .map(|(k, _)| k.as_str())
        .find(|k| !seen.insert(*k))
}

/// `stream_options` with `include_usage: true`, keeping any other options the client set.
pub fn stream_options_with_usage(existing: Option<&RawValue>) -> Result<Box<RawValue>, ApiError> {
    let mut map = match existing.map(RawValue::get) {
        None | Some("null") => serde_json::Map::new(),
        Some(raw) => serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(raw)
            .map_err(|_| {
                ApiError::invalid(
                    "'stream_options' must be an object.",
                    Some("stream_options"),
                )
            })?,
    };
    map.insert("include_usage".into(), serde_json::Value::Bool(true));
    serde_json::value::to_raw_value(&map).map_err(ApiError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchanged_body_is_forwarded_byte_for_byte() {
        let raw = axum::body::Bytes::from_static(br#"{"model":"m", "x" : [1, 2 ],"z":{"a":1}}"#);
        let body = RequestBody::parse(&raw).unwrap();
        assert_eq!(body.to_bytes(&raw), raw);
    }

    #[test]
    fn extensions_are_stripped_and_order_kept() {
        let raw = axum::body::Bytes::from_static(br#"{"model":"m","cache":{"ttl":1},"unknown_field":{"deep":[1,"\u00e9"]},"grounding":{}}"#);
        let mut body = RequestBody::parse(&raw).unwrap();
        body.strip_extensions(false);
        assert_eq!(
            &body.to_bytes(&raw)[..],
            br#"{"model":"m","unknown_field":{"deep":[1,"\u00e9"]}}"#
        );
        let raw = axum::body::Bytes::from_static(br#"{"prompt":"legacy text","prompt_id":"x"}"#);
        let mut body = RequestBody::parse(&raw).unwrap();
        body.strip_extensions(false);
        assert_eq!(&body.to_bytes(&raw)[..], br#"{"prompt":"legacy text"}"#);
    }

    #[test]
    fn malformed_and_non_object_bodies_are_400() {
        assert!(RequestBody::parse(b"{\"model\": ").is_err());
        assert!(RequestBody::parse(b"[1,2]").is_err());
    }

    /// Found by the `body_fields` fuzz target: the gateway read the first
    /// `user`, an upstream reads the last.
    #[test]
    fn repeated_member_user_null_user_false_is_a_400() {
        let e = RequestBody::parse(br#"{"user":null,"user":false}"#).err();
        assert!(matches!(e, Some(ApiError::InvalidRequest { param: Some(p), .. }) if p == "user"));
        // The case that matters: priced and routed as one model, run as another.
        let many: String = (0..40).map(|i| format!("\"f{i}\":1,")).collect();
        let body = format!(r#"{{{many}"model":"mock-1","model":"gpt-4o"}}"#);
        let e = RequestBody::parse(body.as_bytes()).err();
        assert!(matches!(e, Some(ApiError::InvalidRequest { param: Some(p), .. }) if p == "model"));
        assert!(RequestBody::parse(br#"{"model":"m","a":{"model":1,"model":2}}"#).is_ok());
    }

    #[test]
    fn stream_options_keep_other_fields() {
        let raw =
            serde_json::value::RawValue::from_string(r#"{"include_usage":false,"x":1}"#.into())
                .unwrap();
        let out = stream_options_with_usage(Some(&raw)).unwrap();
        let v: serde_json::Value = serde_json::from_str(out.get()).unwrap();
        assert_eq!(v["include_usage"], true);
        assert_eq!(v["x"], 1);
    }

    #[test]
    fn field_type_errors_name_the_field() {
        let body = RequestBody::parse(br#"{"model":3,"stream":"yes","messages":[]}"#).unwrap();
        let e = body.str_field("model").unwrap_err();
        assert!(matches!(e, ApiError::InvalidRequest { param: Some(p), .. } if p == "model"));
        assert!(body.bool_field("stream").is_err());
        assert!(body.require_array("messages").is_err());
    }
}
