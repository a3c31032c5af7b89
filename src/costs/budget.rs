//! The pure part of team budgets: the most a call can cost before it runs,
//! and the UTC period a spend total belongs to.
//!
//! The gateway checks `spent_this_period + worst_case_cost(...) <= budget`
//! before sending a call, then books the real cost after it.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::cost::cost;
use super::prices::Price;
use crate::api::Usage;

/// Upper bound of what a call can cost: every prompt token billed uncached
/// (or as a cache write, where that is dearer), and `max_output_tokens` all billed at the dearer of the output and
/// reasoning rates.
pub fn worst_case_cost(price: &Price, prompt_tokens: i64, max_output_tokens: i64) -> Decimal {
    let dearer_reasoning = price.reasoning.is_some_and(|r| r > price.output);
    let usage = Usage {
        prompt_tokens,
        completion_tokens: max_output_tokens,
        cached_tokens: 0,
        reasoning_tokens: if dearer_reasoning {
            max_output_tokens
        } else {
            0
        },
        cache_write_tokens: if price.cache_write_or_input() > price.input {
            prompt_tokens
        } else {
            0
        },
    };
    cost(price, &usage)
}

/// A budget period, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Day,
    Month,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown budget period {0:?}: expected \"day\" or \"month\"")]
pub struct PeriodError(pub String);

impl FromStr for Period {
    type Err = PeriodError;
    fn from_str(s: &str) -> Result<Period, PeriodError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "day" | "daily" => Ok(Period::Day),
            "month" | "monthly" => Ok(Period::Month),
            _ => Err(PeriodError(s.to_string())),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Period::Day => "day",
            Period::Month => "month",
        })
    }
}

const MS_PER_DAY: i64 = 86_400_000;

impl Period {
    /// Start (Unix ms, UTC) of the period containing `now_ms`.
    pub fn period_start(self, now_ms: i64) -> i64 {
        let day = now_ms.div_euclid(MS_PER_DAY);
        match self {
            Period::Day => day * MS_PER_DAY,
            Period::Month => {
                let (y, m, _) = civil_from_days(day);
                days_from_civil(y, m, 1) * MS_PER_DAY
            }
        }
    }

    /// Start (Unix ms, UTC) of the period after the one containing `now_ms`;
    /// when a budget resets.
    pub fn next_period_start(self, now_ms: i64) -> i64 {
        match self {
            Period::Day => self.period_start(now_ms) + MS_PER_DAY,
            Period::Month => {
                let (y, m, _) = civil_from_days(now_ms.div_euclid(MS_PER_DAY));
                let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                days_from_civil(y, m, 1) * MS_PER_DAY
            }
        }
    }
}

// Howard Hinnant's `days_from_civil` / `civil_from_days`
// (https://howardhinnant.github.io/date_algorithms.html): proleptic Gregorian,
// exact for any i64 day count we can meet, no time-zone database needed.

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    // In range by construction: 1 ≤ d ≤ 31, 1 ≤ m ≤ 12.
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn price(reasoning: Option<Decimal>) -> Price {
        Price {
            model: "t".into(),
            vendor: "t".into(),
            input: dec!(2.5),
            cached_input: Some(dec!(1.25)),
            cache_write: None,
            output: dec!(10),
            reasoning,
            source: String::new(),
            as_of: String::new(),
        }
    }

    #[test]
    fn worst_case_bills_prompt_uncached_and_full_output() {
        // 1000 × 2.5 + 500 × 10 = 7500 micro
        assert_eq!(worst_case_cost(&price(None), 1000, 500), dec!(0.0075));
        // A dearer reasoning rate is the worst case.
        assert_eq!(
            worst_case_cost(&price(Some(dec!(20))), 1000, 500),
            dec!(0.0125)
        );
        // A cheaper one is not.
        assert_eq!(
            worst_case_cost(&price(Some(dec!(1))), 1000, 500),
            dec!(0.0075)
        );
        assert_eq!(worst_case_cost(&price(None), 0, 0), dec!(0));
    }

    #[test]
    fn parses_and_prints_periods() {
        assert_eq!("day".parse(), Ok(Period::Day));
        assert_eq!(" Month ".parse(), Ok(Period::Month));
        assert_eq!("monthly".parse(), Ok(Period::Month));
        assert!("week".parse::<Period>().is_err());
        assert_eq!(Period::Month.to_string(), "month");
        assert_eq!(
            serde_json::to_string(&Period::Day).ok().as_deref(),
            Some("\"day\"")
        );
        let p: Period = serde_json::from_str("\"month\"").expect("month");
        assert_eq!(p, Period::Month);
    }

    // Reference instants (UTC), checked with `date -u -d @<s>`:
    const T_2024_02_29_13_45_10: i64 = 1_709_214_310_000;
    const T_2024_02_29: i64 = 1_709_164_800_000;
    const T_2024_02_01: i64 = 1_706_745_600_000;
    const T_2024_03_01: i64 = 1_709_251_200_000;

    #[test]
    fn period_starts_in_utc() {
        let now = T_2024_02_29_13_45_10;
        assert_eq!(Period::Day.period_start(now), T_2024_02_29);
        assert_eq!(Period::Month.period_start(now), T_2024_02_01);
        assert_eq!(Period::Day.next_period_start(now), T_2024_03_01);
        assert_eq!(Period::Month.next_period_start(now), T_2024_03_01);
        // Exactly at a boundary the period starts there.
        assert_eq!(Period::Month.period_start(T_2024_03_01), T_2024_03_01);
        assert_eq!(Period::Day.period_start(T_2024_03_01 - 1), T_2024_02_29);
        // Epoch, year end and before the epoch.
        assert_eq!(Period::Month.period_start(0), 0);
        assert_eq!(
            Period::Month.next_period_start(1_703_980_800_000),
            1_704_067_200_000
        ); // 2023-12-31 → 2024-01-01
        assert_eq!(Period::Day.period_start(-1), -MS_PER_DAY);
        assert_eq!(Period::Month.period_start(-1), -31 * MS_PER_DAY); // 1969-12-01
    }

    #[test]
    fn civil_round_trip() {
        for z in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }
}
