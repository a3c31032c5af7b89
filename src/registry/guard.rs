//! A rollout's guard: `{"rollout": […], "guard": {"metric": "flag_rate",
//! "max_worse_by": 0.05, "min_samples": 100}}`. The guard rides in the
//! label's stored JSON beside its target, so [`Target`] keeps its strict
//! one-key wire form and the request path never looks at it; the
//! experiments module evaluates it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::model::ModelError;
use super::rollout::Target;

/// What a guard watches: the metrics whose getting worse is a reason to
/// stop sending traffic to a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardMetric {
    FlagRate,
    ErrorRate,
    CostPerRequest,
    P95Latency,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guard {
    pub metric: GuardMetric,
    /// How much worse than the baseline (candidate − baseline, in the
    /// metric's unit: a rate, USD, milliseconds) is tolerated; the guard
    /// fires when the whole 95 % interval of the difference is above it.
    #[serde(default)]
    pub max_worse_by: f64,
    /// Records each side needs before the guard judges.
    #[serde(default = "default_min_samples")]
    pub min_samples: i64,
}

fn default_min_samples() -> i64 {
    100
}

/// The `guard` key of a label body or stored label.
const GUARD_KEY: &str = "guard";

fn invalid(field: &str, message: impl Into<String>) -> ModelError {
    ModelError {
        field: field.into(),
        message: message.into(),
    }
}

/// A label's target and guard from its JSON (a `PUT …/labels/{label}` body
/// or a stored label). The target is read as strictly as ever.
pub fn read_label(value: Value) -> Result<(Target, Option<Guard>), ModelError> {
    let Value::Object(mut map) = value else {
        return Err(invalid(
            "version",
            "expected {\"version\": n} or {\"rollout\": […]}",
        ));
    };
    let guard = match map.remove(GUARD_KEY) {
        None | Some(Value::Null) => None,
        Some(g) => Some(
            serde_json::from_value::<Guard>(g).map_err(|e| invalid(GUARD_KEY, e.to_string()))?,
        ),
    };
    let target: Target = serde_json::from_value(Value::Object(map))
        .map_err(|e| invalid("version", e.to_string()))?;
    Ok((target, guard))
}

/// [`read_label`] of stored text.
pub fn read_label_text(text: &str) -> Result<(Target, Option<Guard>), ModelError> {
    let value: Value = serde_json::from_str(text).map_err(|e| invalid("target", e.to_string()))?;
    read_label(value)
}

/// The stored JSON of a target and its guard.
pub fn label_json(target: &Target, guard: Option<&Guard>) -> Value {
    let mut value = serde_json::to_value(target).unwrap_or(Value::Null);
    if let (Some(g), Value::Object(map)) = (guard, &mut value) {
        map.insert(
            GUARD_KEY.into(),
            serde_json::to_value(g).unwrap_or(Value::Null),
        );
    }
    value
}

/// A guard is for a rollout (it zeroes a candidate's weight), with sane figures.
pub fn validate(target: &Target, guard: &Guard) -> Result<(), ModelError> {
    if !matches!(target, Target::Rollout(_)) {
        return Err(invalid(GUARD_KEY, "a guard needs a rollout to watch"));
    }
    if !guard.max_worse_by.is_finite() || guard.max_worse_by < 0.0 {
        return Err(invalid("guard.max_worse_by", "must be a number ≥ 0"));
    }
    if guard.min_samples < 2 {
        return Err(invalid("guard.min_samples", "must be ≥ 2"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn guard_rides_beside_the_target() {
        let body = json!({"rollout": [{"version": 1, "weight": 90}, {"version": 2, "weight": 10}],
                          "guard": {"metric": "flag_rate", "max_worse_by": 0.05, "min_samples": 50}});
        let (target, guard) = read_label(body.clone()).unwrap();
        let guard = guard.unwrap();
        assert_eq!(guard.metric, GuardMetric::FlagRate);
        assert_eq!(target.versions(), vec![1, 2]);
        validate(&target, &guard).unwrap();
        assert_eq!(label_json(&target, Some(&guard)), body);
        let (plain, none) = read_label(json!({"version": 3})).unwrap();
        assert_eq!((plain, none), (Target::Version(3), None));
    }

    #[test]
    fn bad_guards_name_their_field() {
        let err = read_label(json!({"version": 1, "guard": {"metric": "vibes"}})).unwrap_err();
        assert_eq!(err.field, "guard");
        let (t, g) = read_label(json!({"version": 1, "guard": {"metric": "error_rate"}})).unwrap();
        assert_eq!(validate(&t, &g.unwrap()).unwrap_err().field, "guard");
        assert_eq!(
            read_label(json!({"version": 1, "extra": 1}))
                .unwrap_err()
                .field,
            "version"
        );
    }
}
