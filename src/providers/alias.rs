//! `[aliases]`: a stable model name for clients, and where it goes. One
//! target (`fast = "gpt-4o-mini"`), or ordered targets tried in turn when
//! one fails before its answer starts (`"gpt-4o" = ["openai/gpt-4o",
//! "azure/gpt-4o"]`, see `resilience`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Alias {
    One(String),
    /// The first target is the model the call is planned (and priced) for;
    /// the others are its fallbacks, in order.
    Targets(Vec<String>),
}

impl Alias {
    /// The target a call goes to first.
    pub fn primary(&self) -> &str {
        self.targets()
            .first()
            .map(String::as_str)
            .unwrap_or_default()
    }

    /// Every target, in the order they are tried.
    pub fn targets(&self) -> &[String] {
        match self {
            Alias::One(t) => std::slice::from_ref(t),
            Alias::Targets(ts) => ts,
        }
    }

    /// The targets after the first.
    pub fn fallbacks(&self) -> &[String] {
        self.targets().get(1..).unwrap_or_default()
    }
}

impl From<&str> for Alias {
    fn from(target: &str) -> Alias {
        Alias::One(target.to_owned())
    }
}

impl From<Vec<&str>> for Alias {
    fn from(targets: Vec<&str>) -> Alias {
        Alias::Targets(targets.into_iter().map(str::to_owned).collect())
    }
}

/// Checks every alias: at least one target, none empty, none itself or
/// another alias, none listed twice. Returns the offending key and why.
pub fn validate(aliases: &BTreeMap<String, Alias>) -> Result<(), (String, &'static str)> {
    for (alias, targets) in aliases {
        let key = format!("aliases.{alias}");
        let targets = targets.targets();
        if targets.is_empty() {
            return Err((key, "must name at least one model"));
        }
        for (i, target) in targets.iter().enumerate() {
            if target.is_empty() || target == alias {
                return Err((key, "must name another, non-empty model"));
            }
            if aliases.contains_key(target) {
                return Err((key, "must not point at another alias"));
            }
            if targets[..i].contains(target) {
                return Err((key, "must not list a target twice"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_target_or_ordered_targets() {
        let one: Alias = serde_json::from_str("\"gpt-4o-mini\"").unwrap();
        assert_eq!(one.primary(), "gpt-4o-mini");
        assert!(one.fallbacks().is_empty());
        let many: Alias = serde_json::from_str(r#"["a/x", "b/x", "c/y"]"#).unwrap();
        assert_eq!(many.primary(), "a/x");
        assert_eq!(many.fallbacks(), ["b/x", "c/y"]);
    }

    #[test]
    fn bad_aliases_are_named() {
        let mut aliases = BTreeMap::new();
        aliases.insert("g".to_owned(), Alias::from(vec!["a/x", "a/x"]));
        assert_eq!(validate(&aliases).unwrap_err().0, "aliases.g");
        aliases.insert("g".to_owned(), Alias::Targets(vec![]));
        assert!(validate(&aliases).is_err());
        aliases.insert("g".to_owned(), Alias::from(vec!["a/x", "h"]));
        aliases.insert("h".to_owned(), Alias::from("b"));
        assert_eq!(
            validate(&aliases).unwrap_err().1,
            "must not point at another alias"
        );
    }
}
