//! # costs
//!
//! The pure core of the cost ledger: no I/O, and nothing of the crate but
//! the leaf [`crate::api`], so it is tested on its own.
//!
//! - [`prices`]: the price table, shipped as data (`prices.toml`, embedded at
//!   build time) with a source URL and date per entry, overridable from
//!   config; resolves aliases, dated snapshots, `-latest` and `provider/`
//!   prefixes.
//! - [`cost`]: what one call cost, exactly, as a `Decimal` (never `f64`);
//!   an unpriced model gives `None`, never 0.
//! - [`money`]: the plain decimal-string spelling of USD for JSON and CSV.
//! - [`tokens`]: counting tokens with OpenAI's encodings when an upstream
//!   did not report usage (and for budget pre-checks).
//! - [`budget`]: worst-case cost of a call before it runs, and UTC budget
//!   periods.
//!
//! - [`enforcer`]: budgets at run time (reserve the worst case, settle the
//!   real cost) against a counter shared by replicas; the one part with I/O.
//! - [`holder`]: this process's lease on what it holds against the shared
//!   PostgreSQL counters, so a killed process's reservations lapse (I/O too).
//! - [`redis_counter`]: the counters in Redis, with per-process holds under
//!   a lease (I/O too).
//! - [`pico`]: the ledger's storage unit.
//! - [`report`]: the cost report's query and metric columns, shared by the
//!   `GET /v1/costs` route and the `costs report` command.
//!
//! Token counts are [`crate::api::Usage`], the struct the gateway parses.

mod budget;
mod cost;
mod enforcer;
mod holder;
mod money;
pub mod pico;
mod prices;
mod redis_counter;
pub mod report;
mod tokens;

pub use budget::{worst_case_cost, Period, PeriodError};
pub use cost::{cost, cost_for};
pub use enforcer::{Budgets, Limit, Reservation};
pub use money::{format_usd, parse_usd, MoneyError};
pub use prices::{Price, PriceError, PriceOverride, PriceTable};
pub use tokens::{count_chat_prompt, count_text, encoding_for, warm_up, Encoding};
