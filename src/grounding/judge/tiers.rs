//! `tiers`: which grounding tiers a request asks for (`["fast"]`,
//! `["judge"]` or both).

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiers {
    pub fast: bool,
    pub judge: bool,
}

impl Default for Tiers {
    fn default() -> Self {
        Tiers {
            fast: true,
            judge: false,
        }
    }
}

impl Tiers {
    /// Reads a `tiers` value; the error says what is wrong with it.
    pub fn parse(value: &Value) -> Result<Tiers, String> {
        const SHAPE: &str = "must be a non-empty array of \"fast\" and \"judge\"";
        let Value::Array(items) = value else {
            return Err(SHAPE.to_owned());
        };
        let mut tiers = Tiers {
            fast: false,
            judge: false,
        };
        for item in items {
            let slot = match item.as_str() {
                Some("fast") => &mut tiers.fast,
                Some("judge") => &mut tiers.judge,
                Some(other) => return Err(format!("{SHAPE}; unknown tier {other:?}")),
                None => return Err(SHAPE.to_owned()),
            };
            if *slot {
                return Err(format!("{SHAPE}; {item} is listed twice"));
            }
            *slot = true;
        }
        if !(tiers.fast || tiers.judge) {
            return Err(SHAPE.to_owned());
        }
        Ok(tiers)
    }

    pub fn names(self) -> Vec<&'static str> {
        [(self.fast, "fast"), (self.judge, "judge")]
            .into_iter()
            .filter_map(|(on, name)| on.then_some(name))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_three_forms_and_rejects_the_rest() {
        let t = |v: Value| Tiers::parse(&v);
        assert_eq!(t(json!(["fast"])).unwrap(), Tiers::default());
        assert_eq!(t(json!(["judge"])).unwrap().names(), vec!["judge"]);
        assert_eq!(
            t(json!(["judge", "fast"])).unwrap().names(),
            vec!["fast", "judge"]
        );
        for bad in [
            json!([]),
            json!("fast"),
            json!(["slow"]),
            json!([1]),
            json!(["fast", "fast"]),
        ] {
            assert!(t(bad.clone()).is_err(), "{bad}");
        }
        assert!(t(json!(["slow"])).unwrap_err().contains("\"slow\""));
    }
}
