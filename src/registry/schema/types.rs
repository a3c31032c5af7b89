//! The types of variables, the errors naming them, and the name and type
//! rules shared by the JSON and Picoschema forms.

use std::fmt;

use serde_json::Value;

/// Longest variable name we accept; names become template paths and error text.
const MAX_VAR_NAME: usize = 64;
/// Nesting bound for `array<array<…>>` and nested Picoschema objects: schemas
/// come from clients, recursion depth must not.
pub(super) const MAX_DEPTH: usize = 8;

/// Type of one variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VarType {
    String,
    Number,
    Integer,
    Boolean,
    /// Any JSON object (fields are not checked).
    Object,
    Array(Box<VarType>),
    /// A string from a fixed set.
    Enum(Vec<String>),
    /// Anything, including null.
    Any,
}

/// One declared variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VarSpec {
    pub ty: VarType,
    pub optional: bool,
    pub description: Option<String>,
    /// The value must not be shown anywhere but inside the rendered messages
    /// sent upstream (see [`super::VariablesSchema::secret_values`]).
    pub secret: bool,
}

/// Why the schema itself is malformed. `path` names the variable (and nested
/// position) so a bad `POST` or `.prompt` file points at the culprit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SchemaError {
    pub path: String,
    pub message: String,
}

/// Why a request's variables do not fit the schema. Each names the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VarError {
    #[error("missing required prompt variable `{name}`")]
    Missing { name: String },
    #[error("unknown prompt variable `{name}` (not declared in the prompt's variables_schema)")]
    Extra { name: String },
    #[error("prompt variable `{name}`: expected {expected}, got {got}")]
    WrongType {
        name: String,
        expected: String,
        got: String,
    },
}

impl VarError {
    /// The variable the error is about (for the OpenAI error's `param`).
    pub fn variable(&self) -> &str {
        match self {
            VarError::Missing { name } | VarError::Extra { name } => name,
            VarError::WrongType { name, .. } => name,
        }
    }
}

impl fmt::Display for VarType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VarType::String => f.write_str("string"),
            VarType::Number => f.write_str("number"),
            VarType::Integer => f.write_str("integer"),
            VarType::Boolean => f.write_str("boolean"),
            VarType::Object => f.write_str("object"),
            VarType::Any => f.write_str("any"),
            VarType::Array(inner) => write!(f, "array<{inner}>"),
            VarType::Enum(values) => write!(f, "one of [{}]", values.join(", ")),
        }
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

impl VarType {
    /// `None` when `v` fits; otherwise a description of the offending part
    /// (for arrays: which element).
    pub(super) fn check(&self, v: &Value) -> Option<(String, String)> {
        let ok = match (self, v) {
            (VarType::Any, _) => true,
            (VarType::String, Value::String(_)) => true,
            (VarType::Number, Value::Number(_)) => true,
            // 3.0 is an integer to a JSON client (JS has one number type).
            (VarType::Integer, Value::Number(n)) => {
                n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            (VarType::Boolean, Value::Bool(_)) => true,
            (VarType::Object, Value::Object(_)) => true,
            (VarType::Enum(values), Value::String(s)) => {
                if values.iter().any(|x| x == s) {
                    true
                } else {
                    return Some((self.to_string(), format!("\"{s}\"")));
                }
            }
            (VarType::Array(inner), Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    if let Some((exp, got)) = inner.check(item) {
                        return Some((format!("{exp} at index {i}"), got));
                    }
                }
                true
            }
            _ => false,
        };
        if ok {
            None
        } else {
            Some((self.to_string(), json_kind(v).to_string()))
        }
    }

    /// Shorthand string form: `string`, `integer`, `array<string>`, ….
    pub(super) fn parse_short(s: &str, path: &str, depth: usize) -> Result<VarType, SchemaError> {
        if depth > MAX_DEPTH {
            return Err(err(path, "type nested too deeply"));
        }
        let s = s.trim();
        Ok(match s {
            "string" => VarType::String,
            "number" => VarType::Number,
            "integer" => VarType::Integer,
            "boolean" => VarType::Boolean,
            "object" => VarType::Object,
            "any" => VarType::Any,
            "array" => VarType::Array(Box::new(VarType::Any)),
            _ => {
                if let Some(inner) = s.strip_prefix("array<").and_then(|r| r.strip_suffix('>')) {
                    VarType::Array(Box::new(VarType::parse_short(inner, path, depth + 1)?))
                } else {
                    return Err(err(
                        path,
                        &format!(
                            "unknown type `{s}` (expected string, number, integer, boolean, object, any, array<T>)"
                        ),
                    ));
                }
            }
        })
    }
}

/// Secret variables are strings: only a string can be masked in a preview
/// and struck from a record without changing what the template does with it.
pub(super) fn check_secret_type(ty: &VarType, path: &str) -> Result<(), SchemaError> {
    if *ty == VarType::String {
        Ok(())
    } else {
        Err(err(path, "a secret variable must be of type string"))
    }
}

pub(super) fn err(path: &str, message: &str) -> SchemaError {
    SchemaError {
        path: path.to_string(),
        message: message.to_string(),
    }
}

pub(super) fn check_var_name(name: &str, path: &str) -> Result<(), SchemaError> {
    // Names are Handlebars paths: keep them to identifiers so `{{name}}` works
    // and so they cannot collide with Handlebars syntax (`this`, `@root`, `../`).
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok
        || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        || name.len() > MAX_VAR_NAME
        || name == "this"
    {
        return Err(err(
            path,
            "variable names must match [A-Za-z_][A-Za-z0-9_]* (≤ 64 chars)",
        ));
    }
    Ok(())
}
