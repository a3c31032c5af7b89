//! JSON parsing whose errors say which field is wrong, in the words an
//! OpenAI client expects (`param` names the field).

use serde::de::DeserializeOwned;

use super::ApiError;

/// Parses `bytes` as `T`; a syntax error says so, a wrong or missing field is
/// named in the error's `param`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::invalid(
                format!("We could not parse the JSON body of your request: {inner}"),
                None,
            );
        }
        let param = if path == "." {
            None
        } else {
            Some(path.as_str())
        };
        let message = inner.to_string();
        // serde names missing fields in its message ("missing field `name`").
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned);
        ApiError::invalid(message, missing.as_deref().or(param))
    })
}

/// Parses the value of the extension field `name` (raw JSON); errors name
/// the field and the path inside it (`cache.ttl`).
pub fn parse_field<T: DeserializeOwned>(raw: &str, name: &str) -> Result<T, ApiError> {
    parse_json::<T>(raw.as_bytes()).map_err(|e| match e {
        ApiError::InvalidRequest { message, param, .. } => {
            let full = match param {
                Some(p) => format!("{name}.{p}"),
                None => name.to_owned(),
            };
            ApiError::invalid(format!("invalid '{name}': {message}"), Some(&full))
        }
        other => other,
    })
}
