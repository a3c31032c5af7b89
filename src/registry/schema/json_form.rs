//! The JSON form of variables (what `POST /versions` stores): parsing one
//! entry, JSON Schema properties, and the canonical form written back.

use serde_json::{Map, Value};

use super::types::{err, SchemaError, VarSpec, VarType, MAX_DEPTH};

fn type_to_json(ty: &VarType) -> Value {
    match ty {
        VarType::Array(inner) => serde_json::json!({"type": "array", "items": type_to_json(inner)}),
        VarType::Enum(values) => serde_json::json!({"type": "enum", "values": values}),
        other => Value::String(other.to_string()),
    }
}

pub(super) fn spec_to_json(spec: &VarSpec) -> Value {
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
pub(super) fn parse_json_spec(
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

pub(super) fn json_schema_type(
    prop: &Value,
    path: &str,
    depth: usize,
) -> Result<VarType, SchemaError> {
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
