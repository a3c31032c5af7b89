//! Pico-USD (10^-12 USD): the ledger's storage unit. Prices carry at most six
//! decimals per million tokens, so every cost is a whole number of pico-USD and
//! integer sums in SQL stay exact.

use rust_decimal::Decimal;

const SCALE: u32 = 12;

/// Exact for any cost the price table can produce; larger scales round half up.
pub fn to_pico(usd: Decimal) -> i64 {
    let scaled = usd * Decimal::from(1_000_000_000_000i64);
    let rounded =
        scaled.round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    i64::try_from(rounded.mantissa() / 10i128.pow(rounded.scale())).unwrap_or(i64::MAX)
}

pub fn from_pico(pico: i128) -> Decimal {
    Decimal::try_from_i128_with_scale(pico, SCALE)
        .unwrap_or(Decimal::MAX)
        .normalize()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn round_trips_exactly() {
        for s in ["0", "0.000001056", "12.345678901234", "0.000000000001"] {
            let d = Decimal::from_str(s).unwrap();
            assert_eq!(from_pico(to_pico(d) as i128), d.normalize(), "{s}");
        }
        assert_eq!(
            to_pico(Decimal::from_str("0.001056").unwrap()),
            1_056_000_000
        );
    }
}
