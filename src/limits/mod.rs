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

use std::sync::atomic::{AtomicBool, Ordering};
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
    /// Places that may be taken in Redis by admissions it answered too late
    /// (the call was counted here instead), to take out before the next
    /// admission Redis answers. Else each would stay taken for its whole
    /// lease, minutes, refusing the team on every replica.
    strays: Mutex<Vec<Stray>>,
    /// Whether `strays` has any: every admission looks, and an atomic load
    /// keeps the mutex off the path when (as almost always) there are none.
    has_strays: AtomicBool,
}

/// An in-flight member that Redis may hold for a call that has ended.
struct Stray {
    team: String,
    scopes: Vec<Scope>,
    member: i64,
}

/// Beyond this many strays the rest are left to their leases.
const MAX_STRAYS: usize = 10_000;

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
            strays: Mutex::new(Vec::new()),
            has_strays: AtomicBool::new(false),
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
            if self.has_strays.load(Ordering::Relaxed) {
                self.clear_strays(link).await;
            }
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

    /// Takes the strays' members out of Redis; those it does not answer for
    /// wait for the next admission.
    async fn clear_strays(&self, link: &RedisLink) {
        let strays = match self.strays.lock() {
            Ok(mut list) => {
                self.has_strays.store(false, Ordering::Relaxed);
                std::mem::take(&mut *list)
            }
            Err(_) => return,
        };
        let mut left = strays.into_iter();
        while let Some(s) = left.next() {
            if !shared::finish(link, &s.team, &s.scopes, 0, 0, s.member).await {
                for s in std::iter::once(s).chain(left) {
                    self.add_stray(s);
                }
                return;
            }
        }
    }

    fn add_stray(&self, stray: Stray) {
        if let Ok(mut list) = self.strays.lock() {
            if list.len() < MAX_STRAYS {
                list.push(stray);
                self.has_strays.store(true, Ordering::Relaxed);
            }
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

    /// As [`Hold::finish`], and returns once the place is given back. A
    /// client that sends its next call when it has this one's answer must
    /// find the place free: a release still on its way to Redis would
    /// refuse it. The release runs as its own task, so it completes even
    /// if the caller gives up waiting.
    pub async fn finish_before_answer(mut self, used: Option<u64>) {
        let delta = used.map_or(0, |u| u as i64 - self.tokens as i64);
        if let Some(task) = self.release(delta) {
            let _ = task.await;
        }
    }

    /// Gives the call's place and unused tokens back: at once in process,
    /// through a task for Redis (returned, to be awaited or not). A call
    /// counted in process while Redis is there leaves its member as a
    /// stray, in case Redis ran the admission it did not answer in time.
    fn release(&mut self, token_delta: i64) -> Option<tokio::task::JoinHandle<()>> {
        if self.finished {
            return None;
        }
        self.finished = true;
        let held_tokens = self.scopes.iter().any(|s| s.tpm > 0);
        let token_delta = if held_tokens { token_delta } else { 0 };
        let in_flight = self.scopes.iter().any(|s| s.concurrency > 0);
        if token_delta == 0 && !in_flight {
            return None;
        }
        let limiter = &self.limiter;
        if !self.shared {
            if let Ok(mut windows) = limiter.local.lock() {
                windows.finish(&self.scopes, self.sec, token_delta);
            }
            if in_flight && limiter.shared.is_some() {
                limiter.add_stray(Stray {
                    team: self.team.clone(),
                    scopes: std::mem::take(&mut self.scopes),
                    member: self.member,
                });
            }
            return None;
        }
        let link = limiter.shared.clone()?;
        let (team, scopes) = (self.team.clone(), std::mem::take(&mut self.scopes));
        let (sec, member) = (self.sec, self.member);
        // Drop may run outside a runtime (at shutdown): then the lease frees
        // the place.
        let rt = tokio::runtime::Handle::try_current().ok()?;
        let limiter = limiter.clone();
        Some(rt.spawn(async move {
            if !shared::finish(&link, &team, &scopes, sec, token_delta, member).await && in_flight {
                limiter.add_stray(Stray {
                    team,
                    scopes,
                    member,
                });
            }
        }))
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        let _ = self.release(0);
    }
}
