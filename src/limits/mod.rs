//! # limits
//!
//! Rate limits per team, per key and per team × model (`[[rate_limits]]`,
//! see [`config`]): requests per minute, tokens per minute and calls in
//! flight. A call is checked against every rule that matches it before it
//! goes upstream, and counted in all of them at once or in none.
//!
//! Windows slide over 60 s in one-second steps ([`window`]). Tokens are
//! held when the call starts (the prompt estimated with the model's
//! tokenizer, plus `max_tokens` when the request sets it) and settled with
//! the real usage when it ends. With Redis one Lua script does the check
//! and the count for every replica ([`shared`]); without it (or while it
//! is away) each process counts alone.

pub mod config;
mod headers;
mod shared;
pub mod window;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;

use crate::api::ApiError;
use crate::redis_link::RedisLink;

pub use config::{RateLimitRule, Scope, Subject};
use window::{Count, Verdict, Windows};

pub struct Limiter {
    rules: Vec<RateLimitRule>,
    local: Mutex<Windows>,
    shared: Option<Arc<RedisLink>>,
}

/// A call's place in its scopes' counts, until it ends: dropping it frees
/// its place in flight; [`Hold::finish`] also settles its tokens.
pub struct Hold {
    limiter: Arc<Limiter>,
    team: String,
    scopes: Vec<Scope>,
    /// The second its tokens were counted in.
    sec: i64,
    /// Its member in the shared in-flight sets.
    member: i64,
    tokens: u64,
    /// Counted in Redis (else in this process).
    shared: bool,
    counts: Vec<Count>,
    finished: bool,
}

impl Limiter {
    pub fn new(rules: Vec<RateLimitRule>, shared: Option<Arc<RedisLink>>) -> Limiter {
        Limiter {
            rules,
            local: Mutex::new(Windows::default()),
            shared,
        }
    }

    /// No rule at all: the request path does not look further.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The scopes whose counts a call of `who` goes into.
    pub fn scopes(&self, who: &Subject<'_>) -> Vec<Scope> {
        self.rules.iter().filter_map(|r| r.scope(who)).collect()
    }

    /// Counts the call in every scope, or refuses it with OpenAI's 429.
    /// `lease` bounds how long a call may keep its place in flight in the
    /// shared count (a replica that died holding it frees it then).
    pub async fn admit(
        self: &Arc<Self>,
        team: &str,
        scopes: Vec<Scope>,
        tokens: u64,
        lease: Duration,
    ) -> Result<Hold, ApiError> {
        let now_ms = crate::time::now_ms();
        let member = rand::random::<i64>() & i64::MAX;
        let mut verdict = None;
        if let Some(link) = &self.shared {
            let lease_ms = lease.as_millis() as i64;
            verdict = shared::admit(link, team, &scopes, member, tokens, lease_ms, now_ms).await;
        }
        let shared = verdict.is_some();
        let verdict = match verdict {
            Some(v) => v,
            None => match self.local.lock() {
                Ok(mut windows) => windows.admit(&scopes, tokens, now_ms),
                Err(_) => Verdict::Admitted(vec![Count::default(); scopes.len()]),
            },
        };
        match verdict {
            Verdict::Admitted(counts) => Ok(Hold {
                limiter: self.clone(),
                team: team.to_owned(),
                scopes,
                sec: now_ms.div_euclid(1000),
                member,
                tokens,
                shared,
                counts,
                finished: false,
            }),
            Verdict::Limited {
                scope,
                limit,
                retry_ms,
                count,
            } => Err(headers::refusal(
                &scopes[scope],
                limit,
                retry_ms,
                &count,
                tokens,
            )),
        }
    }
}

impl Hold {
    /// The `x-ratelimit-*` headers for the call's answer.
    pub fn headers(&self) -> HeaderMap {
        headers::rate_headers(&self.scopes, &self.counts)
    }

    /// The call ended having used `used` tokens (`None`: unknown, the
    /// held estimate stands).
    pub fn finish(mut self, used: Option<u64>) {
        let delta = used.map_or(0, |u| u as i64 - self.tokens as i64);
        self.release(delta);
    }

    fn release(&mut self, token_delta: i64) {
        if self.finished {
            return;
        }
        self.finished = true;
        let held_tokens = self.scopes.iter().any(|s| s.tpm > 0);
        let token_delta = if held_tokens { token_delta } else { 0 };
        let in_flight = self.scopes.iter().any(|s| s.concurrency > 0);
        if token_delta == 0 && !in_flight {
            return;
        }
        let limiter = &self.limiter;
        match (&limiter.shared, self.shared) {
            (Some(link), true) => {
                let (link, team, scopes) = (
                    link.clone(),
                    self.team.clone(),
                    std::mem::take(&mut self.scopes),
                );
                let (sec, member) = (self.sec, self.member);
                // Drop may run outside a runtime (at shutdown): then the
                // lease frees the place.
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    rt.spawn(async move {
                        shared::finish(&link, &team, &scopes, sec, token_delta, member).await;
                    });
                }
            }
            _ => {
                if let Ok(mut windows) = limiter.local.lock() {
                    windows.finish(&self.scopes, self.sec, token_delta);
                }
            }
        }
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.release(0);
    }
}
