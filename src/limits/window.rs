//! Counting in one process: a sliding window of 60 one-second buckets per
//! scope, and the calls in flight. The same rules as the Lua script in
//! [`super::shared`], for deployments without Redis (and for a replica
//! while Redis is away).

use std::collections::{HashMap, VecDeque};

use super::config::Scope;

/// Seconds a request or its tokens count for.
pub const WINDOW_S: i64 = 60;

/// Which limit a call ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Requests,
    Tokens,
    Concurrency,
}

impl Limit {
    pub fn label(self) -> &'static str {
        match self {
            Limit::Requests => "rpm",
            Limit::Tokens => "tpm",
            Limit::Concurrency => "concurrency",
        }
    }
}

/// A scope's counts: with the call when admitted, as they stood when not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count {
    pub requests: u64,
    pub tokens: u64,
    pub in_flight: u64,
    /// Until the window's oldest request (or tokens) leave it.
    pub reset_requests_ms: i64,
    pub reset_tokens_ms: i64,
}

#[derive(Debug)]
pub enum Verdict {
    /// One count per scope, in the scopes' order.
    Admitted(Vec<Count>),
    Limited {
        scope: usize,
        limit: Limit,
        retry_ms: i64,
        count: Count,
    },
}

#[derive(Default)]
pub struct Window {
    /// (second, requests, tokens), oldest first.
    buckets: VecDeque<(i64, u64, i64)>,
    in_flight: u64,
}

impl Window {
    fn prune(&mut self, now_sec: i64) {
        while self
            .buckets
            .front()
            .is_some_and(|b| b.0 <= now_sec - WINDOW_S)
        {
            self.buckets.pop_front();
        }
    }

    fn sums(&self) -> (u64, u64) {
        let r = self.buckets.iter().map(|b| b.1).sum();
        let t: i64 = self.buckets.iter().map(|b| b.2).sum();
        (r, t.max(0) as u64)
    }

    /// When `need` of what `of` counts will have left the window.
    fn reset_after(&self, now_ms: i64, need: u64, of: fn(&(i64, u64, i64)) -> u64) -> i64 {
        let mut freed = 0;
        for b in &self.buckets {
            freed += of(b);
            if freed >= need && freed > 0 {
                return (b.0 + WINDOW_S) * 1000 - now_ms;
            }
        }
        WINDOW_S * 1000
    }

    fn count(&self, now_ms: i64) -> Count {
        let (requests, tokens) = self.sums();
        Count {
            requests,
            tokens,
            in_flight: self.in_flight,
            reset_requests_ms: self.reset_after(now_ms, 1, |b| b.1),
            reset_tokens_ms: self.reset_after(now_ms, 1, |b| b.2.max(0) as u64),
        }
    }
}

/// Every scope's window, in this process.
#[derive(Default)]
pub struct Windows(HashMap<String, Window>);

impl Windows {
    /// Admits the call into every scope, or into none.
    pub fn admit(&mut self, scopes: &[Scope], tokens: u64, now_ms: i64) -> Verdict {
        let now_sec = now_ms.div_euclid(1000);
        for (i, s) in scopes.iter().enumerate() {
            let w = self.0.entry(s.id.clone()).or_default();
            w.prune(now_sec);
            let (r, t) = w.sums();
            let refuse = |limit, retry_ms| Verdict::Limited {
                scope: i,
                limit,
                retry_ms,
                count: w.count(now_ms),
            };
            if s.rpm > 0 && r + 1 > s.rpm {
                return refuse(
                    Limit::Requests,
                    w.reset_after(now_ms, r + 1 - s.rpm, |b| b.1),
                );
            }
            if s.tpm > 0 && t + tokens > s.tpm {
                let retry = if tokens > s.tpm {
                    WINDOW_S * 1000
                } else {
                    w.reset_after(now_ms, t + tokens - s.tpm, |b| b.2.max(0) as u64)
                };
                return refuse(Limit::Tokens, retry);
            }
            if s.concurrency > 0 && w.in_flight + 1 > s.concurrency {
                return refuse(Limit::Concurrency, 1000);
            }
        }
        let mut counts = Vec::with_capacity(scopes.len());
        for s in scopes {
            let w = self.0.entry(s.id.clone()).or_default();
            match w.buckets.back_mut() {
                Some(b) if b.0 == now_sec => {
                    b.1 += 1;
                    b.2 += tokens as i64;
                }
                _ => w.buckets.push_back((now_sec, 1, tokens as i64)),
            }
            if s.concurrency > 0 {
                w.in_flight += 1;
            }
            counts.push(w.count(now_ms));
        }
        Verdict::Admitted(counts)
    }

    /// Replaces the tokens held in second `sec` by what the call used, and
    /// frees its place in flight.
    pub fn finish(&mut self, scopes: &[Scope], sec: i64, token_delta: i64) {
        for s in scopes {
            let Some(w) = self.0.get_mut(&s.id) else {
                continue;
            };
            if token_delta != 0 {
                if let Some(b) = w.buckets.iter_mut().find(|b| b.0 == sec) {
                    b.2 += token_delta;
                }
            }
            if s.concurrency > 0 {
                w.in_flight = w.in_flight.saturating_sub(1);
            }
            if w.in_flight == 0 && w.buckets.is_empty() {
                self.0.remove(&s.id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(rpm: u64, tpm: u64, concurrency: u64) -> Scope {
        Scope {
            id: "team:a".into(),
            kind: "team",
            rpm,
            tpm,
            concurrency,
        }
    }

    #[test]
    fn requests_leave_the_window_after_a_minute() {
        let mut w = Windows::default();
        let s = [scope(2, 0, 0)];
        assert!(matches!(w.admit(&s, 0, 1_000), Verdict::Admitted(_)));
        assert!(matches!(w.admit(&s, 0, 30_500), Verdict::Admitted(_)));
        match w.admit(&s, 0, 31_000) {
            Verdict::Limited {
                limit, retry_ms, ..
            } => {
                assert_eq!(limit, Limit::Requests);
                assert_eq!(retry_ms, 30_000);
            }
            v => panic!("{v:?}"),
        }
        assert!(matches!(w.admit(&s, 0, 61_000), Verdict::Admitted(_)));
    }

    #[test]
    fn tokens_are_held_then_settled_and_concurrency_is_freed() {
        let mut w = Windows::default();
        let s = [scope(0, 100, 1)];
        let Verdict::Admitted(c) = w.admit(&s, 60, 0) else {
            panic!()
        };
        assert_eq!((c[0].tokens, c[0].in_flight), (60, 1));
        // in flight: the second waits for the first
        assert!(matches!(
            w.admit(&s, 10, 10),
            Verdict::Limited {
                limit: Limit::Concurrency,
                ..
            }
        ));
        w.finish(&s, 0, -40);
        assert!(matches!(w.admit(&s, 70, 20), Verdict::Admitted(_)));
        w.finish(&s, 0, 0);
        assert!(matches!(
            w.admit(&s, 30, 30),
            Verdict::Limited {
                limit: Limit::Tokens,
                ..
            }
        ));
    }
}
