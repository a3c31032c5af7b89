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
//!
//! Files: [`types`] (variable types, errors, name rules), [`json_form`] (the
//! JSON form), [`picoschema`] (the `.prompt` form and output JSON Schema).

mod json_form;
mod picoschema;
mod types;

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

pub use picoschema::picoschema_to_json_schema;
pub use types::{SchemaError, VarError, VarSpec, VarType};

use json_form::{json_schema_type, parse_json_spec, secret_flag, spec_to_json};
use picoschema::parse_pico_object;
use types::{check_secret_type, check_var_name, err};

/// Declared variables of a prompt (see the module docs for the forms).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VariablesSchema {
    vars: BTreeMap<String, VarSpec>,
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

    /// Marks the declared variables `names` secret (a `.prompt` file's
    /// `promptgate.secret`); `path` names the list in errors.
    pub fn mark_secret(&mut self, names: &[String], path: &str) -> Result<(), SchemaError> {
        for (i, name) in names.iter().enumerate() {
            let at = format!("{path}[{i}]");
            let Some(spec) = self.vars.get_mut(name) else {
                return Err(err(&at, &format!("`{name}` is not a declared variable")));
            };
            check_secret_type(&spec.ty, &at)?;
            spec.secret = true;
        }
        Ok(())
    }

    /// Whether any variable is secret.
    pub fn has_secrets(&self) -> bool {
        self.vars.values().any(|s| s.secret)
    }

    /// The values a request gives its secret variables: what must be struck
    /// from everything the gateway writes or shows about the request. Empty
    /// strings are left out (there is nothing to strike).
    pub fn secret_values(&self, vars: &Map<String, Value>) -> Vec<String> {
        self.vars
            .iter()
            .filter(|(_, spec)| spec.secret)
            .filter_map(|(name, _)| vars.get(name)?.as_str())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// `vars` with each secret variable's string value replaced by
    /// `[secret:name]`, for previews: the template renders the same way.
    pub fn masked(&self, vars: &Map<String, Value>) -> Map<String, Value> {
        let mut out = vars.clone();
        for (name, spec) in &self.vars {
            if let (true, Some(Value::String(v))) = (spec.secret, out.get_mut(name)) {
                *v = format!("[secret:{name}]");
            }
        }
        out
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
            let parsed = parse_json_spec(spec, &path, 0)?;
            optional |= parsed.optional;
            if vars
                .insert(
                    name.to_string(),
                    VarSpec {
                        ty: parsed.ty,
                        optional,
                        description: parsed.description,
                        secret: parsed.secret,
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
            let secret = match prop {
                Value::Object(o) => secret_flag(o, &ty, &path)?,
                _ => false,
            };
            vars.insert(
                name.clone(),
                VarSpec {
                    ty,
                    optional: !required.contains(&name.as_str()),
                    description,
                    secret,
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
                    // Picoschema has no such flag: `promptgate.secret` sets it.
                    secret: false,
                },
            );
        }
        Ok(VariablesSchema { vars })
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
mod tests;
