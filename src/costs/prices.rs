//! The price table: which model costs what, per million tokens.
//!
//! The numbers are data (`prices.toml`, embedded at build time), not code, so
//! a price change is a one-line diff with its source and date beside it.
//! Config overrides extend or replace entries (self-hosted models, negotiated
//! prices, vendors we do not ship).
//!
//! This file holds the table and its lookup; one entry's shape is in
//! `prices/entry.rs`, the checks on its decimal strings in `prices/parse.rs`,
//! and the name-matching rules (case, wildcards, snapshots) in `prices/names.rs`.

mod entry;
mod names;
mod parse;

use std::collections::HashMap;

use serde::Deserialize;
use wildmatch::WildMatch;

pub use entry::{Price, PriceOverride, MAX_PRICE_DECIMALS};
use names::{is_pattern, normalize, strip_date, strip_latest};
use parse::build_price;
pub use parse::PriceError;

const BUILTIN_TOML: &str = include_str!("prices.toml");

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
    cache_write: Option<String>,
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
                [
                    &e.input,
                    &e.cached_input,
                    &e.cache_write,
                    &e.output,
                    &e.reasoning,
                ],
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
                [
                    &o.input,
                    &o.cached_input,
                    &o.cache_write,
                    &o.output,
                    &o.reasoning,
                ],
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

#[cfg(test)]
mod tests;
