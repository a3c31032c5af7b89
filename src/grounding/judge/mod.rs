//! The judge tier: a language model checks the answer's claims against the
//! context, RAGAS-style (faithfulness = supported claims / claims).
//!
//! The fast tier's claims go to the judge model in one chat completion
//! (temperature 0, a JSON-schema `response_format`); for every claim the
//! model returns a verdict and a quote copied from the context. A quote that
//! is not in the context (after NFKC, case and whitespace normalisation) makes
//! its claim unsupported, so a judge that invents evidence cannot vouch for a
//! claim. Calling the model (routing, costs, budgets) is the gateway's job
//! (`gateway::judge_call`); this module is pure: the request it sends, how the
//! answer is read, and how the tiers' flags combine.
//!
//! - [`config`]: the `grounding.judge` config table.
//! - [`prompt`]: the judge request (its system message carries [`MARKER`]).
//! - [`verdict`]: reading the judge's JSON into a [`JudgeReport`].
//! - [`quote`]: is a quote really in the context?
//! - [`outcome`]: the report, its errors, the combined flag, and how both
//!   are written into a grounding report.
//! - [`tiers`]: the `tiers` field of requests.

mod config;
mod outcome;
mod prompt;
mod quote;
mod tiers;
mod verdict;

pub use config::{FlagRule, JudgeConfig, JudgeMode};
pub use outcome::{annotate, combined_flag, JudgeError, JudgeOutcome, JudgeReport, JudgedClaim};
pub use prompt::{cache_key, request_body, MARKER, TAG};
pub use quote::{normalize, ContextText};
pub use tiers::Tiers;
pub use verdict::read_verdicts;
