//! Money as exact decimals: parsing and the one JSON/CSV spelling.
//!
//! The ledger never holds an `f64`: 0.1 + 0.2 must stay 0.3 after a million
//! additions. `rust_decimal::Decimal` is a 96-bit integer with a decimal
//! scale, so sums of costs are exact.

use rust_decimal::Decimal;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MoneyError {
    #[error("{0:?} is not a decimal amount of USD")]
    NotDecimal(String),
    #[error("{0} USD is negative")]
    Negative(Decimal),
}

/// The plain decimal string for JSON/CSV: no exponent, no trailing zeros,
/// full precision (`"0.001056"`, `"12.5"`, `"0"`).
///
/// `Decimal`'s `Display` never uses exponent notation, and `normalize` drops
/// the trailing zeros a product of scales leaves behind.
pub fn format_usd(amount: Decimal) -> String {
    amount.normalize().to_string()
}

/// Parses a non-negative USD amount (a budget, a price) from a decimal string.
/// Exponent notation is refused: config and API input should read as money.
pub fn parse_usd(text: &str) -> Result<Decimal, MoneyError> {
    let value =
        parse_plain_decimal(text).ok_or_else(|| MoneyError::NotDecimal(text.to_string()))?;
    if value.is_sign_negative() && !value.is_zero() {
        return Err(MoneyError::Negative(value));
    }
    Ok(value.normalize())
}

/// A decimal written plainly: optional sign, digits, at most one `.`.
/// `Decimal::from_str` also takes `1e3` and `1_000`, which money should not.
pub fn parse_plain_decimal(text: &str) -> Option<Decimal> {
    let t = text.trim();
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    let plain = !digits.is_empty()
        && digits.chars().any(|c| c.is_ascii_digit())
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.matches('.').count() <= 1;
    if !plain {
        return None;
    }
    t.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn formats_plain_decimal_strings() {
        assert_eq!(format_usd(dec!(0.001056000000)), "0.001056");
        assert_eq!(format_usd(dec!(12.50)), "12.5");
        assert_eq!(format_usd(dec!(0.000000000001)), "0.000000000001");
        assert_eq!(format_usd(dec!(0)), "0");
        assert_eq!(format_usd(dec!(0.000)), "0");
        assert_eq!(format_usd(dec!(1000000)), "1000000");
        assert_eq!(format_usd(dec!(-0.5)), "-0.5");
    }

    #[test]
    fn parses_amounts() {
        assert_eq!(parse_usd("100.0"), Ok(dec!(100)));
        assert_eq!(parse_usd(" 0.075 "), Ok(dec!(0.075)));
        assert_eq!(parse_usd("-0"), Ok(dec!(0)));
        assert!(matches!(parse_usd("-1"), Err(MoneyError::Negative(_))));
        assert!(matches!(parse_usd("1e3"), Err(MoneyError::NotDecimal(_))));
        assert!(matches!(parse_usd("abc"), Err(MoneyError::NotDecimal(_))));
        for bad in ["", ".", "1_000", "1.2.3", "--1", "1 000", "NaN"] {
            assert!(parse_plain_decimal(bad).is_none(), "{bad:?}");
        }
        assert_eq!(parse_plain_decimal("+.5"), Some(dec!(0.5)));
    }
}
