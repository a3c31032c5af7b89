//! The price table: which model costs what, per million tokens.
//!
//! The numbers are data (`prices.toml`, embedded at build time), not code, so
//! a price change is a one-line diff with its source and date beside it.
//! Config overrides extend or replace entries (self-hosted models, negotiated
//! prices, vendors we do not ship).

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde::Deserialize;
use wildmatch::WildMatch;

/// Prices are at most this many decimal places: keeps every cost exact
/// (tokens are integers, so a cost has at most 6 + 6 decimals).
pub const MAX_PRICE_DECIMALS: u32 = 6;

/// A sanity bound (no model costs this), which also keeps cost arithmetic
/// far from overflow.
pub const MAX_PRICE_USD: i64 = 1_000_000;

const BUILTIN_TOML: &str = include_str!("prices.toml");

/// USD per 1,000,000 tokens for one model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    /// The entry's name as written in the table (may be a wildcard like `mock-*`).
    pub model: String,
    pub vendor: String,
    /// Uncached prompt tokens.
    pub input: Decimal,
    /// Prompt tokens served from the vendor's cache. `None`: the vendor has no
    /// (known) discount, so cached tokens are billed at `input`.
    pub cached_input: Option<Decimal>,
    /// Completion tokens.
    pub output: Decimal,
    /// Reasoning tokens, only where a vendor prices them apart from output.
    /// `None`: reasoning tokens are billed as output (they are part of
    /// `completion_tokens` in OpenAI's usage).
    pub reasoning: Option<Decimal>,
    /// Where the numbers come from (a URL, or `config`).
    pub source: String,
    /// When they were checked (`YYYY-MM-DD`; empty for config overrides).
    pub as_of: String,
}

impl Price {
    /// What one cached prompt token costs (per million).
    pub fn cached_input_or_input(&self) -> Decimal {
        self.cached_input.unwrap_or(self.input)
    }
}

/// A price from config: `[prices."my-model"] input = "0.5" output = "1.5"`.
/// Decimal strings, never floats, so "0.075" stays 0.075.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PriceOverride {
    #[serde(default)]
    pub input: Option<String>,
    #[serde(default)]
    pub cached_input: Option<String>,
    #[serde(default)]
    pub output: Option<String>,
    #[serde(default)]
    pub reasoning: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PriceError {
    #[error("price table is not valid TOML: {0}")]
    Toml(String),
    #[error("price for model {model:?}: field {field} is missing")]
    Missing { model: String, field: &'static str },
    #[error("price for model {model:?}: field {field} = {value:?} is not a decimal number")]
    NotDecimal {
        model: String,
        field: &'static str,
        value: String,
    },
    #[error("price for model {model:?}: field {field} = {value} is negative")]
    Negative {
        model: String,
        field: &'static str,
        value: Decimal,
    },
    #[error("price for model {model:?}: field {field} = {value} has more than {MAX_PRICE_DECIMALS} decimal places")]
    TooPrecise {
        model: String,
        field: &'static str,
        value: Decimal,
    },
    #[error("price for model {model:?}: field {field} = {value} is above {MAX_PRICE_USD} USD per million tokens")]
    TooLarge {
        model: String,
        field: &'static str,
        value: Decimal,
    },
    #[error("price table: model name {0:?} is empty or listed twice")]
    BadName(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    model: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    name: String,
    #[serde(default)]
    vendor: String,
    #[serde(default)]
    input: Option<String>,
    #[serde(default)]
    cached_input: Option<String>,
    #[serde(default)]
    output: Option<String>,
    #[serde(default)]
    reasoning: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    as_of: Option<String>,
}

/// Model → price, with alias, snapshot and provider-prefix resolution.
#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    entries: Vec<Price>,
    /// Exact names and aliases (lowercased) → index into `entries`.
    exact: HashMap<String, usize>,
    /// Wildcard names/aliases, tried in order after every exact rule failed.
    patterns: Vec<(String, usize)>,
}

impl PriceTable {
    /// The table shipped with promptgate (`prices.toml`).
    pub fn builtin() -> Result<PriceTable, PriceError> {
        PriceTable::from_toml_str(BUILTIN_TOML)
    }

    /// The built-in table with config overrides applied: an override for a
    /// known name replaces that price (keeping its aliases), any other name
    /// is added. Names may be wildcards (`"ollama/*"`); override wildcards are
    /// tried before built-in ones.
    pub fn with_overrides<'a, I>(overrides: I) -> Result<PriceTable, PriceError>
    where
        I: IntoIterator<Item = (&'a String, &'a PriceOverride)>,
    {
        let mut table = PriceTable::builtin()?;
        table.apply_overrides(overrides)?;
        Ok(table)
    }

    /// A table from TOML text in `prices.toml`'s format.
    pub fn from_toml_str(text: &str) -> Result<PriceTable, PriceError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| PriceError::Toml(e.to_string()))?;
        let mut table = PriceTable::default();
        for e in raw.model {
            let price = build_price(
                &e.name,
                e.vendor,
                [&e.input, &e.cached_input, &e.output, &e.reasoning],
                e.source.unwrap_or_default(),
                e.as_of.unwrap_or_default(),
            )?;
            let idx = table.entries.len();
            table.entries.push(price);
            for key in std::iter::once(&e.name).chain(e.aliases.iter()) {
                table.insert_key(key, idx)?;
            }
        }
        Ok(table)
    }

    /// Applies config overrides in place (see [`PriceTable::with_overrides`]).
    pub fn apply_overrides<'a, I>(&mut self, overrides: I) -> Result<(), PriceError>
    where
        I: IntoIterator<Item = (&'a String, &'a PriceOverride)>,
    {
        // Sorted so that the order wildcard overrides are tried in does not
        // depend on HashMap iteration order.
        let mut list: Vec<_> = overrides.into_iter().collect();
        list.sort_by(|a, b| a.0.cmp(b.0));
        let mut new_patterns = Vec::new();
        for (name, o) in list {
            let price = build_price(
                name,
                "config".to_string(),
                [&o.input, &o.cached_input, &o.output, &o.reasoning],
                "config".to_string(),
                String::new(),
            )?;
            let key = normalize(name);
            if key.is_empty() {
                return Err(PriceError::BadName(name.clone()));
            }
            // Replace an entry of that exact name in place so its aliases follow.
            if let Some(&idx) = self.exact.get(&key) {
                if normalize(&self.entries[idx].model) == key {
                    self.entries[idx] = price;
                    continue;
                }
            }
            if let Some(pos) = self.patterns.iter().position(|(p, _)| *p == key) {
                let idx = self.patterns[pos].1;
                self.entries[idx] = price;
                continue;
            }
            let idx = self.entries.len();
            self.entries.push(price);
            if is_pattern(&key) {
                new_patterns.push((key, idx));
            } else {
                // Shadows an alias of a built-in entry, on purpose.
                self.exact.insert(key, idx);
            }
        }
        new_patterns.append(&mut self.patterns);
        self.patterns = new_patterns;
        Ok(())
    }

    /// Registers a built-in name or alias; a name listed twice is a table bug.
    fn insert_key(&mut self, name: &str, idx: usize) -> Result<(), PriceError> {
        let key = normalize(name);
        if key.is_empty() {
            return Err(PriceError::BadName(name.to_string()));
        }
        if is_pattern(&key) {
            if self.patterns.iter().any(|(p, _)| *p == key) {
                return Err(PriceError::BadName(name.to_string()));
            }
            self.patterns.push((key, idx));
        } else if self.exact.insert(key, idx).is_some() {
            return Err(PriceError::BadName(name.to_string()));
        }
        Ok(())
    }

    /// The price of `model`, or `None` when it is not priced (callers record
    /// the request as unpriced; never treat that as free).
    ///
    /// Tried in order, first on the name as given and then with any
    /// `provider/` prefix removed: the exact name or an alias; the name less
    /// `-latest`; the name less a dated snapshot suffix (`-2024-08-06`,
    /// `-20250514`); then wildcard entries. Case-insensitive.
    pub fn lookup(&self, model: &str) -> Option<&Price> {
        let full = normalize(model);
        let bare = full.rsplit('/').next().unwrap_or(&full);
        let candidates: &[&str] = if bare.len() == full.len() {
            &[&full]
        } else {
            &[&full, bare]
        };
        for name in candidates {
            if let Some(idx) = self.exact_or_stripped(name) {
                return self.entries.get(idx);
            }
        }
        for name in candidates {
            for (pattern, idx) in &self.patterns {
                if WildMatch::new(pattern).matches(name) {
                    return self.entries.get(*idx);
                }
            }
        }
        None
    }

    fn exact_or_stripped(&self, name: &str) -> Option<usize> {
        if let Some(&idx) = self.exact.get(name) {
            return Some(idx);
        }
        let stripped = strip_latest(name).or_else(|| strip_date(name))?;
        self.exact.get(stripped).copied()
    }

    /// Every entry, in table order (built-ins, then added overrides).
    pub fn iter(&self) -> impl Iterator<Item = &Price> {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn normalize(name: &str) -> String {
    name.trim().to_ascii_lowercase()
}

fn is_pattern(name: &str) -> bool {
    name.contains('*') || name.contains('?')
}

fn strip_latest(name: &str) -> Option<&str> {
    name.strip_suffix("-latest").filter(|s| !s.is_empty())
}

/// `gpt-4o-2024-08-06` → `gpt-4o`; `claude-sonnet-4-20250514` → `claude-sonnet-4`.
/// Four-digit suffixes (`gpt-3.5-turbo-1106`) are NOT stripped: OpenAI priced
/// those snapshots differently, so they must be listed to be priced.
fn strip_date(name: &str) -> Option<&str> {
    let bytes = name.as_bytes();
    let is_digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    // -YYYY-MM-DD
    if bytes.len() > 11 {
        let tail = &bytes[bytes.len() - 11..];
        if tail[0] == b'-'
            && is_digits(&tail[1..5])
            && tail[5] == b'-'
            && is_digits(&tail[6..8])
            && tail[8] == b'-'
            && is_digits(&tail[9..11])
        {
            return Some(&name[..name.len() - 11]);
        }
    }
    // -YYYYMMDD (Anthropic)
    if bytes.len() > 9 {
        let tail = &bytes[bytes.len() - 9..];
        if tail[0] == b'-' && is_digits(&tail[1..]) && (tail[1] == b'2') {
            return Some(&name[..name.len() - 9]);
        }
    }
    None
}

fn build_price(
    model: &str,
    vendor: String,
    [input, cached_input, output, reasoning]: [&Option<String>; 4],
    source: String,
    as_of: String,
) -> Result<Price, PriceError> {
    let required = |field: &'static str, v: &Option<String>| -> Result<Decimal, PriceError> {
        match v {
            Some(s) => parse_price(model, field, s),
            None => Err(PriceError::Missing {
                model: model.to_string(),
                field,
            }),
        }
    };
    let optional =
        |field: &'static str, v: &Option<String>| -> Result<Option<Decimal>, PriceError> {
            v.as_deref()
                .map(|s| parse_price(model, field, s))
                .transpose()
        };
    Ok(Price {
        model: model.to_string(),
        vendor,
        input: required("input", input)?,
        cached_input: optional("cached_input", cached_input)?,
        output: required("output", output)?,
        reasoning: optional("reasoning", reasoning)?,
        source,
        as_of,
    })
}

fn parse_price(model: &str, field: &'static str, text: &str) -> Result<Decimal, PriceError> {
    let value = super::money::parse_plain_decimal(text).ok_or_else(|| PriceError::NotDecimal {
        model: model.to_string(),
        field,
        value: text.to_string(),
    })?;
    if value.is_sign_negative() && !value.is_zero() {
        return Err(PriceError::Negative {
            model: model.to_string(),
            field,
            value,
        });
    }
    // "2.500000000" is fine: only significant decimals count.
    let value = value.normalize();
    if value.scale() > MAX_PRICE_DECIMALS {
        return Err(PriceError::TooPrecise {
            model: model.to_string(),
            field,
            value,
        });
    }
    if value > Decimal::from(MAX_PRICE_USD) {
        return Err(PriceError::TooLarge {
            model: model.to_string(),
            field,
            value,
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn builtin() -> PriceTable {
        PriceTable::builtin().expect("built-in prices load")
    }

    #[test]
    fn builtin_loads_and_every_entry_has_source_and_date() {
        let t = builtin();
        assert!(t.len() >= 40, "{}", t.len());
        for p in t.iter() {
            assert!(!p.source.is_empty(), "{} has no source", p.model);
            assert!(p.as_of.len() == 10, "{} as_of {:?}", p.model, p.as_of);
            if p.vendor != "promptgate-mock" {
                assert!(p.source.starts_with("https://"), "{}", p.model);
            }
            if let Some(c) = p.cached_input {
                assert!(c <= p.input, "{}: cached dearer than input", p.model);
            }
        }
    }

    #[test]
    fn exact_alias_and_case() {
        let t = builtin();
        assert_eq!(t.lookup("gpt-4o").map(|p| p.input), Some(dec!(2.5)));
        assert_eq!(t.lookup("GPT-4o-Mini").map(|p| p.output), Some(dec!(0.6)));
        assert_eq!(
            t.lookup("claude-opus-4-0").map(|p| p.model.as_str()),
            Some("claude-opus-4")
        );
        assert_eq!(t.lookup("claude-opus-4.5").map(|p| p.input), Some(dec!(5)));
    }

    #[test]
    fn snapshots_latest_and_provider_prefix_fall_back() {
        let t = builtin();
        let name = |m: &str| t.lookup(m).map(|p| p.model.clone());
        assert_eq!(name("gpt-4o-2024-08-06").as_deref(), Some("gpt-4o"));
        assert_eq!(
            name("gpt-4.1-mini-2025-04-14").as_deref(),
            Some("gpt-4.1-mini")
        );
        assert_eq!(
            name("claude-sonnet-4-20250514").as_deref(),
            Some("claude-sonnet-4")
        );
        assert_eq!(
            name("claude-3-5-haiku-latest").as_deref(),
            Some("claude-3-5-haiku")
        );
        assert_eq!(
            name("claude-3-7-sonnet-20250219").as_deref(),
            Some("claude-3-7-sonnet")
        );
        assert_eq!(name("openai/gpt-4o-mini").as_deref(), Some("gpt-4o-mini"));
        assert_eq!(
            name("openrouter/anthropic/claude-sonnet-4.5").as_deref(),
            Some("claude-sonnet-4-5")
        );
        assert_eq!(
            name("deepseek/deepseek-chat").as_deref(),
            Some("deepseek-chat")
        );
    }

    #[test]
    fn explicit_snapshot_beats_fallback() {
        let t = builtin();
        assert_eq!(
            t.lookup("gpt-4o-2024-05-13").map(|p| p.input),
            Some(dec!(5))
        );
        assert_eq!(
            t.lookup("gpt-4o-2024-11-20").map(|p| p.input),
            Some(dec!(2.5))
        );
    }

    #[test]
    fn unknown_and_near_misses_are_unpriced() {
        let t = builtin();
        for m in [
            "",
            "llama-3-70b",
            "gpt-3.5-turbo-1106",
            "mistral-large-latest",
            "gpt-4o-2024-08",
            "-latest",
            "unknown/",
        ] {
            assert!(t.lookup(m).is_none(), "{m} should be unpriced");
        }
    }

    #[test]
    fn mock_models_use_the_wildcard_price() {
        let t = builtin();
        for m in ["mock-1", "mock-echo", "mock-embedding", "mock/mock-1"] {
            let p = t.lookup(m).expect("mock priced");
            assert_eq!(p.vendor, "promptgate-mock");
            assert_eq!(p.input, dec!(1));
        }
        assert!(t.lookup("mockingbird").is_none());
    }

    fn ov(input: &str, output: &str) -> PriceOverride {
        PriceOverride {
            input: Some(input.into()),
            output: Some(output.into()),
            ..PriceOverride::default()
        }
    }

    #[test]
    fn overrides_replace_extend_and_match_patterns() {
        let mut m = HashMap::new();
        m.insert("gpt-4o".to_string(), ov("1.5", "6"));
        m.insert("llama-3-70b".to_string(), ov("0.59", "0.79"));
        m.insert("ollama/*".to_string(), ov("0", "0"));
        m.insert("mock-*".to_string(), ov("3", "4"));
        let t = PriceTable::with_overrides(&m).expect("valid overrides");
        let gpt = t.lookup("gpt-4o-2024-08-06").expect("priced");
        assert_eq!(
            (gpt.input, gpt.cached_input, gpt.source.as_str()),
            (dec!(1.5), None, "config")
        );
        assert_eq!(t.lookup("llama-3-70b").map(|p| p.output), Some(dec!(0.79)));
        assert_eq!(t.lookup("ollama/qwen2.5").map(|p| p.input), Some(dec!(0)));
        assert_eq!(t.lookup("mock-1").map(|p| p.input), Some(dec!(3)));
        // Untouched entries survive.
        assert_eq!(t.lookup("o3").map(|p| p.input), Some(dec!(2)));
    }

    #[test]
    fn override_errors_name_model_and_field() {
        let check = |o: PriceOverride, want: &str| {
            let mut m = HashMap::new();
            m.insert("my-model".to_string(), o);
            let err = PriceTable::with_overrides(&m).expect_err("invalid");
            let msg = err.to_string();
            assert!(msg.contains("my-model") && msg.contains(want), "{msg}");
        };
        check(ov("-1", "2"), "input");
        check(ov("1", "abc"), "output");
        check(ov("1e3", "1"), "input");
        check(
            PriceOverride {
                input: Some("1".into()),
                ..Default::default()
            },
            "output",
        );
        check(
            PriceOverride {
                cached_input: Some("-0.1".into()),
                ..ov("1", "2")
            },
            "cached_input",
        );
        check(ov("0.0000001", "1"), "decimal places");
        check(ov("1", "1000001"), "above");
    }

    #[test]
    fn toml_errors_name_model_and_field() {
        let err = PriceTable::from_toml_str("[[model]]\nname = \"x\"\ninput = \"1\"\n")
            .expect_err("missing output");
        assert_eq!(
            err,
            PriceError::Missing {
                model: "x".into(),
                field: "output"
            }
        );
        let dup = "[[model]]\nname=\"a\"\ninput=\"1\"\noutput=\"1\"\n[[model]]\nname=\"A\"\ninput=\"1\"\noutput=\"1\"\n";
        assert!(matches!(
            PriceTable::from_toml_str(dup),
            Err(PriceError::BadName(_))
        ));
        assert!(matches!(
            PriceTable::from_toml_str("[[model]]\nname=\"a\"\ninput=1.5\noutput=\"1\"\n"),
            Err(PriceError::Toml(_))
        ));
    }

    #[test]
    fn strip_date_rules() {
        assert_eq!(strip_date("gpt-4o-2024-08-06"), Some("gpt-4o"));
        assert_eq!(
            strip_date("claude-opus-4-1-20250805"),
            Some("claude-opus-4-1")
        );
        assert_eq!(strip_date("gpt-4-0613"), None);
        assert_eq!(strip_date("2024-08-06"), None);
        assert_eq!(strip_date("gemini-1.5-pro-002"), None);
    }
}
