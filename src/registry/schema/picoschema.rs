//! Picoschema, the compact schema form of `.prompt` files: parsed into a type
//! tree, turned into variables (input) or into a strict JSON Schema (output).

use serde_json::{Map, Value};

use super::types::{err, SchemaError, VarType, MAX_DEPTH};

/// A Picoschema type tree. Richer than [`VarType`] (nested object fields) because
/// the output side needs it to produce a full JSON Schema.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Pico {
    Scalar(VarType),
    Array(Box<Pico>),
    Object(Vec<PicoField>),
    Enum(Vec<Value>),
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct PicoField {
    pub(super) name: String,
    pub(super) optional: bool,
    pub(super) description: Option<String>,
    pub(super) ty: Pico,
}

impl Pico {
    pub(super) fn to_var_type(&self) -> VarType {
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

pub(super) fn parse_pico_object(
    v: &Value,
    path: &str,
    depth: usize,
) -> Result<Vec<PicoField>, SchemaError> {
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
