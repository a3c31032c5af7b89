//! Typed variables of a prompt, and the Picoschema (dotprompt) → JSON Schema
//! conversion used for `output.schema`.
//!
//! Deliberately small: a flat map of variable name → type. Callers send
//! variables as JSON; what matters at request time is "is it there, is it the
//! kind of value the template expects", checked in one pass with errors that
//! name the variable (they become 400s).
//!
//! Accepted JSON forms (what `POST /versions` stores as `variables_schema`):
//!
//! ```json
//! {"question": "string",
//!  "docs": {"type": "array", "items": "string"},
//!  "max_words": {"type": "integer", "optional": true, "description": "…"},
//!  "tone?": "string",
//!  "tags": "array<string>",
//!  "level": {"type": "enum", "values": ["low", "high"]}}
//! ```
//!
//! and the Picoschema form from `.prompt` files (`docs(array): string`,
//! `name?: string, a description`, `level(enum): [low, high]`).
//!
//! An **empty** schema means "undeclared": any variables are accepted and a
//! variable the template uses but the caller omits still fails at render time
//! (strict mode). A non-empty schema is closed: undeclared variables are errors.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// Longest variable name we accept; names become template paths and error text.
const MAX_VAR_NAME: usize = 64;
/// Nesting bound for `array<array<…>>` and nested Picoschema objects: schemas
/// come from clients, recursion depth must not.
const MAX_DEPTH: usize = 8;

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
}

/// Declared variables of a prompt (see the module docs for the forms).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VariablesSchema {
    vars: BTreeMap<String, VarSpec>,
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
    fn check(&self, v: &Value) -> Option<(String, String)> {
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
    fn parse_short(s: &str, path: &str, depth: usize) -> Result<VarType, SchemaError> {
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

fn err(path: &str, message: &str) -> SchemaError {
    SchemaError {
        path: path.to_string(),
        message: message.to_string(),
    }
}

fn check_var_name(name: &str, path: &str) -> Result<(), SchemaError> {
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

impl VariablesSchema {
    /// Declared variables, sorted by name.
    pub fn vars(&self) -> &BTreeMap<String, VarSpec> {
        &self.vars
    }

    pub fn get(&self, name: &str) -> Option<&VarSpec> {
        self.vars.get(name)
    }

    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }

    /// Build from explicit specs (used by tests and by callers building schemas in code).
    pub fn from_specs(specs: impl IntoIterator<Item = (String, VarSpec)>) -> Self {
        VariablesSchema {
            vars: specs.into_iter().collect(),
        }
    }

    /// Check a request's variables: every required one present, none undeclared,
    /// each of the declared type. An optional variable may also be `null`.
    /// Errors come in variable-name order so they are deterministic.
    pub fn validate(&self, vars: &Map<String, Value>) -> Result<(), VarError> {
        if self.vars.is_empty() {
            return Ok(());
        }
        for (name, spec) in &self.vars {
            match vars.get(name) {
                None if spec.optional => {}
                None => return Err(VarError::Missing { name: name.clone() }),
                Some(Value::Null) if spec.optional => {}
                Some(v) => {
                    if let Some((expected, got)) = spec.ty.check(v) {
                        return Err(VarError::WrongType {
                            name: name.clone(),
                            expected,
                            got,
                        });
                    }
                }
            }
        }
        // Sorted so the error is stable whatever the map's order.
        let mut extra: Vec<&String> = vars
            .keys()
            .filter(|k| !self.vars.contains_key(*k))
            .collect();
        extra.sort();
        if let Some(name) = extra.first() {
            return Err(VarError::Extra {
                name: (*name).clone(),
            });
        }
        Ok(())
    }

    /// Parse the JSON form (see module docs). Also accepts a JSON Schema object
    /// (`{"type": "object", "properties": {…}, "required": […]}`) because that is
    /// what many clients already have.
    pub fn from_json(v: &Value) -> Result<Self, SchemaError> {
        let obj = match v {
            Value::Null => return Ok(Self::default()),
            Value::Object(o) => o,
            _ => return Err(err("variables_schema", "must be an object")),
        };
        if obj.get("type").and_then(Value::as_str) == Some("object")
            && obj.contains_key("properties")
        {
            return Self::from_json_schema(obj);
        }
        let mut vars = BTreeMap::new();
        for (raw_name, spec) in obj {
            let (name, mut optional) = match raw_name.strip_suffix('?') {
                Some(n) => (n, true),
                None => (raw_name.as_str(), false),
            };
            let path = format!("variables_schema.{name}");
            check_var_name(name, &path)?;
            let (ty, opt, description) = parse_json_spec(spec, &path, 0)?;
            optional |= opt;
            if vars
                .insert(
                    name.to_string(),
                    VarSpec {
                        ty,
                        optional,
                        description,
                    },
                )
                .is_some()
            {
                return Err(err(&path, "declared twice"));
            }
        }
        Ok(VariablesSchema { vars })
    }

    fn from_json_schema(obj: &Map<String, Value>) -> Result<Self, SchemaError> {
        let required: Vec<&str> = obj
            .get("required")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let Some(Value::Object(props)) = obj.get("properties") else {
            return Err(err("variables_schema.properties", "must be an object"));
        };
        let mut vars = BTreeMap::new();
        for (name, prop) in props {
            let path = format!("variables_schema.{name}");
            check_var_name(name, &path)?;
            let ty = json_schema_type(prop, &path, 0)?;
            let description = prop
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_string);
            vars.insert(
                name.clone(),
                VarSpec {
                    ty,
                    optional: !required.contains(&name.as_str()),
                    description,
                },
            );
        }
        Ok(VariablesSchema { vars })
    }

    /// Canonical JSON form: what is stored, hashed and diffed. A required
    /// scalar is a bare string (`"string"`), everything else an object with
    /// `type` (and `items` / `values` / `optional` / `description`).
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        for (name, spec) in &self.vars {
            out.insert(name.clone(), spec_to_json(spec));
        }
        Value::Object(out)
    }

    /// Parse the Picoschema form of a `.prompt` file's `input.schema`.
    /// Nested object fields are accepted but not checked at request time
    /// (the variable is typed `object`).
    pub fn from_picoschema(v: &Value) -> Result<Self, SchemaError> {
        let fields = parse_pico_object(v, "input.schema", 0)?;
        let mut vars = BTreeMap::new();
        for f in fields {
            let path = format!("input.schema.{}", f.name);
            check_var_name(&f.name, &path)?;
            vars.insert(
                f.name,
                VarSpec {
                    ty: f.ty.to_var_type(),
                    optional: f.optional,
                    description: f.description,
                },
            );
        }
        Ok(VariablesSchema { vars })
    }
}

fn type_to_json(ty: &VarType) -> Value {
    match ty {
        VarType::Array(inner) => serde_json::json!({"type": "array", "items": type_to_json(inner)}),
        VarType::Enum(values) => serde_json::json!({"type": "enum", "values": values}),
        other => Value::String(other.to_string()),
    }
}

fn spec_to_json(spec: &VarSpec) -> Value {
    let base = type_to_json(&spec.ty);
    if !spec.optional && spec.description.is_none() {
        return base;
    }
    let mut obj = match base {
        Value::Object(o) => o,
        other => {
            let mut o = Map::new();
            o.insert("type".into(), other);
            o
        }
    };
    if spec.optional {
        obj.insert("optional".into(), Value::Bool(true));
    }
    if let Some(d) = &spec.description {
        obj.insert("description".into(), Value::String(d.clone()));
    }
    Value::Object(obj)
}

/// `(type, optional, description)` of one entry of the JSON form.
fn parse_json_spec(
    spec: &Value,
    path: &str,
    depth: usize,
) -> Result<(VarType, bool, Option<String>), SchemaError> {
    if depth > MAX_DEPTH {
        return Err(err(path, "type nested too deeply"));
    }
    match spec {
        Value::String(s) => Ok((VarType::parse_short(s, path, depth)?, false, None)),
        Value::Object(o) => {
            for key in o.keys() {
                if !matches!(
                    key.as_str(),
                    "type" | "items" | "values" | "enum" | "optional" | "description"
                ) {
                    return Err(err(path, &format!("unknown key `{key}`")));
                }
            }
            let optional = match o.get("optional") {
                None => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => return Err(err(path, "`optional` must be a boolean")),
            };
            let description = match o.get("description") {
                None => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => return Err(err(path, "`description` must be a string")),
            };
            let ty_name = o
                .get("type")
                .and_then(Value::as_str)
                .ok_or_else(|| err(path, "`type` (a string) is required"))?;
            let ty = match ty_name {
                "array" => {
                    let items = match o.get("items") {
                        None => VarType::Any,
                        Some(items) => {
                            parse_json_spec(items, &format!("{path}.items"), depth + 1)?.0
                        }
                    };
                    VarType::Array(Box::new(items))
                }
                "enum" | "string" if o.contains_key("values") || o.contains_key("enum") => {
                    enum_values(o.get("values").or_else(|| o.get("enum")), path)?
                }
                other => VarType::parse_short(other, path, depth)?,
            };
            Ok((ty, optional, description))
        }
        _ => Err(err(path, "must be a type name or an object with `type`")),
    }
}

fn enum_values(v: Option<&Value>, path: &str) -> Result<VarType, SchemaError> {
    let Some(Value::Array(items)) = v else {
        return Err(err(path, "enum needs a list of string values"));
    };
    let values: Option<Vec<String>> = items
        .iter()
        .map(|x| x.as_str().map(str::to_string))
        .collect();
    match values {
        Some(v) if !v.is_empty() => Ok(VarType::Enum(v)),
        _ => Err(err(path, "enum values must be a non-empty list of strings")),
    }
}

fn json_schema_type(prop: &Value, path: &str, depth: usize) -> Result<VarType, SchemaError> {
    if depth > MAX_DEPTH {
        return Err(err(path, "type nested too deeply"));
    }
    if let Some(values) = prop.get("enum") {
        return enum_values(Some(values), path);
    }
    match prop.get("type").and_then(Value::as_str) {
        None => Ok(VarType::Any),
        Some("array") => {
            let items = match prop.get("items") {
                Some(items) => json_schema_type(items, &format!("{path}.items"), depth + 1)?,
                None => VarType::Any,
            };
            Ok(VarType::Array(Box::new(items)))
        }
        Some(t) => VarType::parse_short(t, path, depth),
    }
}

// ---- Picoschema ---------------------------------------------------------------

/// A Picoschema type tree. Richer than [`VarType`] (nested object fields) because
/// the output side needs it to produce a full JSON Schema.
#[derive(Clone, Debug, PartialEq)]
enum Pico {
    Scalar(VarType),
    Array(Box<Pico>),
    Object(Vec<PicoField>),
    Enum(Vec<Value>),
}

#[derive(Clone, Debug, PartialEq)]
struct PicoField {
    name: String,
    optional: bool,
    description: Option<String>,
    ty: Pico,
}

impl Pico {
    fn to_var_type(&self) -> VarType {
        match self {
            Pico::Scalar(t) => t.clone(),
            Pico::Array(inner) => VarType::Array(Box::new(inner.to_var_type())),
            Pico::Object(_) => VarType::Object,
            Pico::Enum(values) => {
                let strings: Option<Vec<String>> = values
                    .iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect();
                strings.map(VarType::Enum).unwrap_or(VarType::Any)
            }
        }
    }

    /// JSON Schema for OpenAI structured outputs (`strict: true`): every object
    /// lists all its properties as required and forbids extra ones; an optional
    /// field is expressed as "may be null", which is how strict mode spells it.
    fn to_json_schema(&self, nullable: bool) -> Value {
        let mut schema = match self {
            Pico::Scalar(VarType::Any) => return Value::Object(Map::new()),
            Pico::Scalar(t) => serde_json::json!({"type": t.to_string()}),
            Pico::Array(inner) => {
                serde_json::json!({"type": "array", "items": inner.to_json_schema(false)})
            }
            Pico::Enum(values) => {
                let mut values = values.clone();
                if nullable {
                    values.push(Value::Null);
                }
                return serde_json::json!({ "enum": values });
            }
            Pico::Object(fields) => {
                let mut props = Map::new();
                let mut required = Vec::new();
                for f in fields {
                    let mut s = f.ty.to_json_schema(f.optional);
                    if let (Some(d), Value::Object(o)) = (&f.description, &mut s) {
                        o.insert("description".into(), Value::String(d.clone()));
                    }
                    props.insert(f.name.clone(), s);
                    required.push(Value::String(f.name.clone()));
                }
                serde_json::json!({
                    "type": "object",
                    "properties": props,
                    "required": required,
                    "additionalProperties": false,
                })
            }
        };
        if nullable {
            if let Some(Value::String(t)) = schema.get("type").cloned() {
                schema["type"] = serde_json::json!([t, "null"]);
            }
        }
        schema
    }
}

/// Convert a Picoschema (or, passed through unchanged, a JSON Schema whose
/// top level has `"type"`) to JSON Schema suitable for
/// `response_format.json_schema.schema` with `strict: true`.
pub fn picoschema_to_json_schema(v: &Value, path: &str) -> Result<Value, SchemaError> {
    if let Value::Object(o) = v {
        if o.get("type").is_some_and(Value::is_string) {
            return Ok(v.clone());
        }
    }
    if let Value::String(s) = v {
        // A bare type (`schema: string`) is a valid Picoschema.
        return Ok(Pico::Scalar(VarType::parse_short(s, path, 0)?).to_json_schema(false));
    }
    Ok(Pico::Object(parse_pico_object(v, path, 0)?).to_json_schema(false))
}

fn parse_pico_object(v: &Value, path: &str, depth: usize) -> Result<Vec<PicoField>, SchemaError> {
    if depth > MAX_DEPTH {
        return Err(err(path, "schema nested too deeply"));
    }
    let Value::Object(obj) = v else {
        return Err(err(path, "must be a map of field: type"));
    };
    let mut fields = Vec::with_capacity(obj.len());
    for (key, val) in obj {
        fields.push(parse_pico_field(key, val, path, depth)?);
    }
    Ok(fields)
}

/// One `key: value` of a Picoschema map. Key forms: `name`, `name?`,
/// `name(array)`, `name(object, description)`, `name?(enum)`.
/// Value forms: `type`, `type, description`, a nested map, or an enum list.
fn parse_pico_field(
    key: &str,
    val: &Value,
    path: &str,
    depth: usize,
) -> Result<PicoField, SchemaError> {
    let (head, paren) = match key.find('(') {
        Some(i) => {
            let inner = key[i + 1..]
                .strip_suffix(')')
                .ok_or_else(|| err(&format!("{path}.{key}"), "unclosed `(` in field name"))?;
            (&key[..i], Some(inner))
        }
        None => (key, None),
    };
    let (name, optional) = match head.trim().strip_suffix('?') {
        Some(n) => (n.to_string(), true),
        None => (head.trim().to_string(), false),
    };
    let fpath = format!("{path}.{name}");
    if name.is_empty() {
        return Err(err(path, &format!("empty field name in `{key}`")));
    }
    let (container, mut description) = match paren {
        Some(p) => match p.split_once(',') {
            Some((t, d)) => (Some(t.trim()), Some(d.trim().to_string())),
            None => (Some(p.trim()), None),
        },
        None => (None, None),
    };
    let ty = match container {
        Some("array") => {
            let (inner, d) = pico_value(val, &fpath, depth + 1)?;
            description = description.or(d);
            Pico::Array(Box::new(inner))
        }
        Some("object") => Pico::Object(parse_pico_object(val, &fpath, depth + 1)?),
        Some("enum") => {
            let Value::Array(items) = val else {
                return Err(err(&fpath, "enum needs a list of values"));
            };
            if items.is_empty() {
                return Err(err(&fpath, "enum needs at least one value"));
            }
            Pico::Enum(items.clone())
        }
        Some(other) => {
            return Err(err(
                &fpath,
                &format!(
                    "unknown Picoschema container `({other})` (expected array, object or enum)"
                ),
            ))
        }
        None => {
            let (t, d) = pico_value(val, &fpath, depth + 1)?;
            description = description.or(d);
            t
        }
    };
    Ok(PicoField {
        name,
        optional,
        description,
        ty,
    })
}

/// A Picoschema value: `string`, `string, the description`, or a nested map (object).
fn pico_value(
    val: &Value,
    path: &str,
    depth: usize,
) -> Result<(Pico, Option<String>), SchemaError> {
    match val {
        Value::String(s) => {
            let (t, d) = match s.split_once(',') {
                Some((t, d)) => (t.trim(), Some(d.trim().to_string())),
                None => (s.trim(), None),
            };
            Ok((Pico::Scalar(VarType::parse_short(t, path, depth)?), d))
        }
        Value::Object(_) => Ok((Pico::Object(parse_pico_object(val, path, depth)?), None)),
        _ => Err(err(
            path,
            "expected a type name (`string`, `integer`, …) or a nested map",
        )),
    }
}

impl Serialize for VariablesSchema {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for VariablesSchema {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        VariablesSchema::from_json(&v).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(o) => o,
            _ => panic!("not an object"),
        }
    }

    fn rag() -> VariablesSchema {
        VariablesSchema::from_json(&json!({
            "question": "string",
            "docs": {"type": "array", "items": "string"},
            "max_words": {"type": "integer", "optional": true},
        }))
        .unwrap()
    }

    #[test]
    fn accepts_valid_variables() {
        let s = rag();
        s.validate(&obj(json!({"question": "q", "docs": ["a", "b"]})))
            .unwrap();
        s.validate(&obj(json!({"question": "q", "docs": [], "max_words": 3})))
            .unwrap();
        s.validate(&obj(
            json!({"question": "q", "docs": [], "max_words": null}),
        ))
        .unwrap();
        s.validate(&obj(json!({"question": "q", "docs": [], "max_words": 3.0})))
            .unwrap();
    }

    #[test]
    fn names_the_missing_variable() {
        let e = rag().validate(&obj(json!({"docs": []}))).unwrap_err();
        assert_eq!(
            e,
            VarError::Missing {
                name: "question".into()
            }
        );
        assert!(e.to_string().contains("`question`"));
    }

    #[test]
    fn names_the_extra_variable() {
        let e = rag()
            .validate(&obj(json!({"question": "q", "docs": [], "questoin": "x"})))
            .unwrap_err();
        assert_eq!(
            e,
            VarError::Extra {
                name: "questoin".into()
            }
        );
        assert_eq!(e.variable(), "questoin");
    }

    #[test]
    fn says_expected_and_got() {
        let e = rag()
            .validate(&obj(json!({"question": 1, "docs": []})))
            .unwrap_err();
        assert_eq!(
            e,
            VarError::WrongType {
                name: "question".into(),
                expected: "string".into(),
                got: "integer".into()
            }
        );
        let e = rag()
            .validate(&obj(json!({"question": "q", "docs": ["a", 2]})))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "prompt variable `docs`: expected string at index 1, got integer"
        );
        let e = rag()
            .validate(&obj(json!({"question": "q", "docs": [], "max_words": 2.5})))
            .unwrap_err();
        assert!(
            e.to_string().contains("expected integer, got number"),
            "{e}"
        );
        let e = rag()
            .validate(&obj(json!({"question": null, "docs": []})))
            .unwrap_err();
        assert!(e.to_string().contains("got null"), "{e}");
    }

    #[test]
    fn empty_schema_accepts_anything() {
        VariablesSchema::default()
            .validate(&obj(json!({"whatever": [1, {"x": 2}]})))
            .unwrap();
    }

    #[test]
    fn json_form_round_trips() {
        let s = VariablesSchema::from_json(&json!({
            "q": "string",
            "tags": "array<string>",
            "n?": "integer",
            "level": {"type": "enum", "values": ["low", "high"]},
            "meta": {"type": "object", "description": "free form"},
            "grid": {"type": "array", "items": {"type": "array", "items": "number"}},
        }))
        .unwrap();
        let j = s.to_json();
        assert_eq!(j["q"], json!("string"));
        assert_eq!(j["n"], json!({"type": "integer", "optional": true}));
        assert_eq!(j["tags"], json!({"type": "array", "items": "string"}));
        assert_eq!(VariablesSchema::from_json(&j).unwrap(), s);
        let e = s.validate(&obj(
            json!({"q": "", "tags": [], "level": "mid", "meta": {}, "grid": []}),
        ));
        assert!(e.unwrap_err().to_string().contains("one of [low, high]"));
    }

    #[test]
    fn json_schema_form_is_accepted() {
        let s = VariablesSchema::from_json(&json!({
            "type": "object",
            "properties": {"q": {"type": "string"}, "k": {"type": "integer"}},
            "required": ["q"],
        }))
        .unwrap();
        assert!(!s.get("q").unwrap().optional);
        assert!(s.get("k").unwrap().optional);
    }

    #[test]
    fn rejects_bad_schemas_naming_the_field() {
        let e = VariablesSchema::from_json(&json!({"q": "strnig"})).unwrap_err();
        assert_eq!(e.path, "variables_schema.q");
        let e = VariablesSchema::from_json(&json!({"q": {"type": "string", "requird": true}}))
            .unwrap_err();
        assert!(e.message.contains("requird"));
        let e = VariablesSchema::from_json(&json!({"bad-name": "string"})).unwrap_err();
        assert_eq!(e.path, "variables_schema.bad-name");
        assert!(VariablesSchema::from_json(&json!(["q"])).is_err());
        let deep = (0..20).fold(
            json!("string"),
            |acc, _| json!({"type": "array", "items": acc}),
        );
        assert!(VariablesSchema::from_json(&json!({ "x": deep })).is_err());
    }

    #[test]
    fn picoschema_input() {
        let s = VariablesSchema::from_picoschema(&json!({
            "question": "string, the user's question",
            "docs(array)": "string",
            "max_words?": "integer",
            "tone?(enum)": ["formal", "casual"],
            "user(object)": {"id": "string", "plan?": "string"},
        }))
        .unwrap();
        assert_eq!(
            s.get("docs").unwrap().ty,
            VarType::Array(Box::new(VarType::String))
        );
        assert_eq!(
            s.get("question").unwrap().description.as_deref(),
            Some("the user's question")
        );
        assert!(s.get("max_words").unwrap().optional);
        assert_eq!(
            s.get("tone").unwrap().ty,
            VarType::Enum(vec!["formal".into(), "casual".into()])
        );
        assert_eq!(s.get("user").unwrap().ty, VarType::Object);
        let e = VariablesSchema::from_picoschema(&json!({"docs(list)": "string"})).unwrap_err();
        assert!(e.message.contains("(list)"), "{e}");
    }

    #[test]
    fn picoschema_output_to_strict_json_schema() {
        let s = picoschema_to_json_schema(
            &json!({
                "category(enum)": ["billing", "bug"],
                "confidence": "number",
                "note?": "string, short reason",
                "tags(array)": "string",
            }),
            "output.schema",
        )
        .unwrap();
        assert_eq!(s["type"], "object");
        assert_eq!(s["additionalProperties"], false);
        assert_eq!(s["required"].as_array().unwrap().len(), 4);
        assert_eq!(s["properties"]["note"]["type"], json!(["string", "null"]));
        assert_eq!(s["properties"]["note"]["description"], "short reason");
        assert_eq!(
            s["properties"]["category"]["enum"],
            json!(["billing", "bug"])
        );
        assert_eq!(s["properties"]["tags"]["items"], json!({"type": "string"}));
        // Already JSON Schema: unchanged.
        let js = json!({"type": "object", "properties": {}});
        assert_eq!(picoschema_to_json_schema(&js, "x").unwrap(), js);
    }
}
