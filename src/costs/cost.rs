//! What one call cost, exactly.
//!
//! ```text
//! cost = ( (prompt - cached - cache_write) × input
//!        + cached × cached_input
//!        + cache_write × cache_write_price
//!        + (completion - reasoning) × output
//!        + reasoning × reasoning_price )  / 1,000,000
//! ```
//!
//! Reasoning tokens: OpenAI (and DeepSeek, Gemini's OpenAI-compatible API)
//! report them INSIDE `completion_tokens` (`completion_tokens_details.
//! reasoning_tokens` is a breakdown, not an addition), and bill them at the
//! output price. So they are never added on top of `completion_tokens`; only
//! when a price has its own `reasoning` rate is that slice of the completion
//! billed at it instead of `output`. Cached tokens likewise are a part of
//! `prompt_tokens`, and so are the tokens written to the vendor's cache
//! (Anthropic reports them apart, `cache_creation_input_tokens`; the gateway
//! folds them into `prompt_tokens` when it reads the usage).
//!
//! The arithmetic is integer arithmetic in i128 on prices scaled to
//! micro-dollars, then one exact conversion to `Decimal` with scale 12, so
//! costs add up exactly: Σ cost(usage_i) == cost(Σ usage_i) for one price.

use rust_decimal::Decimal;

use super::prices::{Price, PriceTable, MAX_PRICE_DECIMALS};
use crate::api::Usage;

/// Cost in USD of `usage` at `price`. Exact; at most 12 decimal places.
///
/// Upstreams sometimes send inconsistent usage. Rather than fail the ledger
/// write, counts are clamped to what can be true: negatives count as 0,
/// `cached_tokens` at most `prompt_tokens`, `reasoning_tokens` at most
/// `completion_tokens`, `cache_write_tokens` at most what is left of the prompt
/// after the cached part. For consistent usage (the normal case) nothing changes.
pub fn cost(price: &Price, usage: &Usage) -> Decimal {
    let prompt = usage.prompt_tokens.max(0);
    let cached = usage.cached_tokens.clamp(0, prompt);
    let written = usage.cache_write_tokens.clamp(0, prompt - cached);
    let completion = usage.completion_tokens.max(0);
    let reasoning = usage.reasoning_tokens.clamp(0, completion);

    let input = micros(price.input);
    let cached_price = micros(price.cached_input_or_input());
    let write_price = micros(price.cache_write_or_input());
    let output = micros(price.output);

    let (plain_out, reasoning_part) = match price.reasoning {
        Some(r) => (completion - reasoning, i128::from(reasoning) * micros(r)),
        None => (completion, 0),
    };
    // Each term is < 2^63 * 2^63 only for absurd inputs; i128 holds
    // i64::MAX tokens × prices up to ~1.8e13 USD/M without overflow.
    let total = i128::from(prompt - cached - written) * input
        + i128::from(cached) * cached_price
        + i128::from(written) * write_price
        + i128::from(plain_out) * output
        + reasoning_part;
    // micro-USD per million tokens × tokens = USD × 10^12.
    Decimal::try_from_i128_with_scale(total, 2 * MAX_PRICE_DECIMALS)
        .map(|d| d.normalize())
        // Beyond Decimal's 96 bits (> 7.9e16 USD for one call): unreachable in
        // practice, and saturating is the loud-but-safe answer for a ledger.
        .unwrap_or(Decimal::MAX)
}

/// Cost of `usage` on `model`, or `None` when the model is unpriced (the
/// caller records it as unpriced, never as 0).
pub fn cost_for(table: &PriceTable, model: &str, usage: &Usage) -> Option<Decimal> {
    table.lookup(model).map(|p| cost(p, usage))
}

/// A price (≤ 6 decimals, validated at load) as integer micro-dollars.
fn micros(price: Decimal) -> i128 {
    let mut p = price;
    // Exact: the price table refuses more than MAX_PRICE_DECIMALS decimals.
    p.rescale(MAX_PRICE_DECIMALS);
    p.mantissa()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn price(input: Decimal, cached: Option<Decimal>, output: Decimal) -> Price {
        Price {
            model: "t".into(),
            vendor: "t".into(),
            input,
            cached_input: cached,
            cache_write: None,
            output,
            reasoning: None,
            source: String::new(),
            as_of: String::new(),
        }
    }

    fn usage(p: i64, c: i64, cached: i64, r: i64) -> Usage {
        Usage {
            prompt_tokens: p,
            completion_tokens: c,
            cached_tokens: cached,
            reasoning_tokens: r,
            cache_write_tokens: 0,
        }
    }

    #[test]
    fn cache_writes_have_their_own_price() {
        // claude-sonnet-4-5: input 3, cache hit 0.30, cache write 3.75, output 15.
        let t = PriceTable::builtin().expect("builtin");
        let u = Usage {
            prompt_tokens: 1000,
            completion_tokens: 100,
            cached_tokens: 200,
            reasoning_tokens: 0,
            cache_write_tokens: 300,
        };
        // 500×3 + 200×0.30 + 300×3.75 + 100×15 = 1500 + 60 + 1125 + 1500 = 4185 micro
        assert_eq!(cost_for(&t, "claude-sonnet-4-5", &u), Some(dec!(0.004185)));
        // Without a cache-write price, writes are billed at input.
        let p = price(dec!(1), None, dec!(0));
        let mut w = u;
        w.completion_tokens = 0;
        w.cached_tokens = 0;
        assert_eq!(cost(&p, &w), dec!(0.001));
    }

    #[test]
    fn api_doc_example_gpt_4o_mini() {
        // The cost report example of the HTTP contract: 3400 in, 910 out on gpt-4o-mini.
        let t = PriceTable::builtin().expect("builtin");
        let c = cost_for(&t, "gpt-4o-mini", &usage(3400, 910, 0, 0)).expect("priced");
        // 3400 × 0.15 + 910 × 0.60 = 510 + 546 = 1056 micro → 0.001056
        assert_eq!(c, dec!(0.001056));
        assert_eq!(super::super::money::format_usd(c), "0.001056");
    }

    #[test]
    fn cached_tokens_are_part_of_prompt() {
        let p = price(dec!(2.5), Some(dec!(1.25)), dec!(10));
        // 1000 prompt of which 400 cached, 100 out:
        // 600×2.5 + 400×1.25 + 100×10 = 1500 + 500 + 1000 = 3000 / 1e6
        assert_eq!(cost(&p, &usage(1000, 100, 400, 0)), dec!(0.003));
    }

    #[test]
    fn no_cached_price_bills_cached_at_input() {
        let p = price(dec!(1.25), None, dec!(10));
        assert_eq!(
            cost(&p, &usage(1000, 0, 1000, 0)),
            cost(&p, &usage(1000, 0, 0, 0))
        );
    }

    #[test]
    fn reasoning_is_not_double_counted() {
        let p = price(dec!(2), Some(dec!(0.5)), dec!(8));
        // o3: 500 completion tokens of which 400 reasoning → still 500 × 8.
        assert_eq!(cost(&p, &usage(0, 500, 0, 400)), dec!(0.004));
        // A separately priced reasoning rate bills that slice at its own price.
        let mut q = p.clone();
        q.reasoning = Some(dec!(3.5));
        // 100 × 8 + 400 × 3.5 = 800 + 1400 = 2200 micro
        assert_eq!(cost(&q, &usage(0, 500, 0, 400)), dec!(0.0022));
    }

    #[test]
    fn inconsistent_usage_is_clamped_never_negative() {
        let p = price(dec!(1), Some(dec!(0.1)), dec!(2));
        assert_eq!(cost(&p, &usage(-5, -5, -5, -5)), dec!(0));
        // cached > prompt: all prompt billed as cached.
        assert_eq!(cost(&p, &usage(10, 0, 50, 0)), dec!(0.000001));
        // reasoning > completion: capped.
        assert_eq!(cost(&p, &usage(0, 10, 0, 99)), dec!(0.00002));
    }

    #[test]
    fn smallest_amounts_keep_full_precision() {
        let p = price(dec!(0.000001), None, dec!(0));
        assert_eq!(cost(&p, &usage(1, 0, 0, 0)), dec!(0.000000000001));
        assert_eq!(
            super::super::money::format_usd(cost(&p, &usage(1, 0, 0, 0))),
            "0.000000000001"
        );
    }

    #[test]
    fn huge_counts_do_not_panic() {
        let p = price(
            dec!(999999.999999),
            Some(dec!(999999.999999)),
            dec!(999999.999999),
        );
        let c = cost(&p, &usage(i64::MAX, i64::MAX, 0, 0));
        assert!(c > dec!(0));
    }

    #[test]
    fn unpriced_model_is_none() {
        let t = PriceTable::builtin().expect("builtin");
        assert_eq!(cost_for(&t, "no-such-model", &usage(10, 10, 0, 0)), None);
    }

    /// xorshift64*: deterministic, dependency-free randomness for the
    /// property test below.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: u64) -> i64 {
            i64::try_from(self.next() % n).unwrap_or(0)
        }
    }

    #[test]
    fn property_costs_sum_exactly_per_model() {
        let table = PriceTable::builtin().expect("builtin");
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for price in table.iter() {
            for _round in 0..20 {
                let n = 1 + rng.below(50);
                let mut total_cost = Decimal::ZERO;
                let mut total_usage = Usage::default();
                for _ in 0..n {
                    let prompt = rng.below(200_000);
                    let completion = rng.below(50_000);
                    let u = usage(
                        prompt,
                        completion,
                        rng.below(u64::try_from(prompt).unwrap_or(0) + 1),
                        rng.below(u64::try_from(completion).unwrap_or(0) + 1),
                    );
                    total_cost += cost(price, &u);
                    total_usage = total_usage.saturating_add(u);
                }
                assert_eq!(total_cost, cost(price, &total_usage), "{}", price.model);
            }
        }
    }
}
