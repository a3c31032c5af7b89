//! The JSON form of variables (what `POST /versions` stores): parsing one
//! entry, JSON Schema properties, and the canonical form written back.

use serde_json::{Map, Value};

use super::types::{check_secret_type, err, SchemaError, VarSpec, VarType, MAX_DEPTH};

fn type_to_json(ty: &VarType) -> Value {
    match ty {
        VarType::Array(inner) => serde_json::json!({"type": "array", "items": type_to_json(inner)}),
        VarType::Enum(values) => serde_json::json!({"type": "enum", "values": values}),
        other => Value::String(other.to_string()),
    }
}

pub(super) fn spec_to_json(spec: &VarSpec) -> Value {
    let base = type_to_json(&spec.ty);
    if !spec.optional && spec.description.is_none() && !spec.secret {
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
    if spec.secret {
        obj.insert("secret".into(), Value::Bool(true));
    }
    Value::Object(obj)
}

/// One entry of the JSON form: a type and its flags.
pub(super) struct JsonSpec {
    pub(super) ty: VarType,
    pub(super) optional: bool,
    pub(super) description: Option<String>,
    pub(super) secret: bool,
}

impl JsonSpec {
    fn of(ty: VarType) -> JsonSpec {
        JsonSpec {
            ty,
            optional: false,
            description: None,
            secret: false,
        }
    }
}

/// `true` when `o` says `"secret": true` (only string variables may).
pub(super) fn secret_flag(
    o: &Map<String, Value>,
    ty: &VarType,
    path: &str,
) -> Result<bool, SchemaError> {
    match o.get("secret") {
        None | Some(Value::Bool(false)) => Ok(false),
        Some(Value::Bool(true)) => check_secret_type(ty, path).map(|()| true),
        Some(_) => Err(err(path, "`secret` must be a boolean")),
    }
}

/// One entry of the JSON form (an array's `items` too, where only the type counts).
pub(super) fn parse_json_spec(
    spec: &Value,
    path: &str,
    depth: usize,
) -> Result<JsonSpec, SchemaError> {
    if depth > MAX_DEPTH {
        return Err(err(path, "type nested too deeply"));
    }
    match spec {
        Value::String(s) => Ok(JsonSpec::of(VarType::parse_short(s, path, depth)?)),
        Value::Object(o) => {
            for key in o.keys() {
                if !matches!(
                    key.as_str(),
                    "type" | "items" | "values" | "enum" | "optional" | "description" | "secret"
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
                            let items_path = format!("{path}.items");
                            let items = parse_json_spec(items, &items_path, depth + 1)?;
                            if items.secret {
                                // Array items cannot be secret: arrays cannot.
                                check_secret_type(&VarType::Array(Box::new(VarType::Any)), path)?;
                            }
                            items.ty
                        }
                    };
                    VarType::Array(Box::new(items))
                }
                "enum" | "string" if o.contains_key("values") || o.contains_key("enum") => {
                    enum_values(o.get("values").or_else(|| o.get("enum")), path)?
                }
                other => VarType::parse_short(other, path, depth)?,
            };
            let secret = secret_flag(o, &ty, path)?;
            Ok(JsonSpec {
                ty,
                optional,
                description,
                secret,
            })
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
