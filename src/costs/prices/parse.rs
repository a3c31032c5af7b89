//! Turning a table entry's decimal strings into a checked [`Price`]: every
//! refusal names the model and the field, so a bad `prices.toml` line or
//! config override is found at start, never at billing time.

use rust_decimal::Decimal;

use super::entry::{Price, MAX_PRICE_DECIMALS, MAX_PRICE_USD};
use crate::costs::money::parse_plain_decimal;

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

/// A checked price from its five decimal strings (input, cached input,
/// cache write, output, reasoning): input and output are required, the others optional.
pub(super) fn build_price(
    model: &str,
    vendor: String,
    [input, cached_input, cache_write, output, reasoning]: [&Option<String>; 5],
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
        cache_write: optional("cache_write", cache_write)?,
        output: required("output", output)?,
        reasoning: optional("reasoning", reasoning)?,
        source,
        as_of,
    })
}

fn parse_price(model: &str, field: &'static str, text: &str) -> Result<Decimal, PriceError> {
    let value = parse_plain_decimal(text).ok_or_else(|| PriceError::NotDecimal {
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
