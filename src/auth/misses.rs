//! What keeps unknown keys from loading the store: a key the cache does not
//! hold is looked up in the store (a key created on another replica works at
//! once), but each unknown hash only once per [`MISS_TTL`], and no more than
//! [`LOOKUP_BURST`] lookups at once and [`LOOKUPS_PER_S`] a second per
//! process, so a flood of random keys costs a bounded number of queries.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long a hash the store did not know is answered 401 without asking again.
pub const MISS_TTL: Duration = Duration::from_secs(5);
/// Store lookups allowed per second, sustained, per process.
pub const LOOKUPS_PER_S: f64 = 20.0;
/// Store lookups allowed at once after a quiet spell.
pub const LOOKUP_BURST: f64 = 40.0;
/// Remembered misses at most (a flood of distinct keys must not grow memory).
const MAX_MISSES: usize = 10_000;

/// The negative cache and the token bucket (one lock: both are touched only
/// on the rare path of a key the cache does not hold).
pub struct Misses {
    seen: HashMap<String, Instant>,
    tokens: f64,
    filled: Instant,
}

impl Default for Misses {
    fn default() -> Self {
        Misses {
            seen: HashMap::new(),
            tokens: LOOKUP_BURST,
            filled: Instant::now(),
        }
    }
}

impl Misses {
    /// Whether the store may be asked about `hash` now (takes a token if so).
    pub fn may_look_up(&mut self, hash: &str, now: Instant) -> bool {
        if self
            .seen
            .get(hash)
            .is_some_and(|at| now.duration_since(*at) < MISS_TTL)
        {
            return false;
        }
        let elapsed = now.duration_since(self.filled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * LOOKUPS_PER_S).min(LOOKUP_BURST);
        self.filled = now;
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }

    /// Remembers that the store does not know `hash` (or holds it revoked).
    pub fn note_miss(&mut self, hash: String, now: Instant) {
        if self.seen.len() >= MAX_MISSES {
            self.seen.retain(|_, at| now.duration_since(*at) < MISS_TTL);
            if self.seen.len() >= MAX_MISSES {
                self.seen.clear();
            }
        }
        self.seen.insert(hash, now);
    }

    /// Forgets a miss (the key was just created here).
    pub fn forget(&mut self, hash: &str) {
        self.seen.remove(hash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_miss_is_not_asked_again_until_it_expires() {
        let mut m = Misses::default();
        let t0 = Instant::now();
        assert!(m.may_look_up("h", t0));
        m.note_miss("h".into(), t0);
        assert!(!m.may_look_up("h", t0 + Duration::from_secs(1)));
        assert!(m.may_look_up("h", t0 + MISS_TTL + Duration::from_millis(1)));
    }

    #[test]
    fn lookups_are_bounded_by_the_bucket() {
        let mut m = Misses::default();
        let t0 = Instant::now();
        let allowed = (0..1000)
            .filter(|i| m.may_look_up(&format!("k{i}"), t0))
            .count();
        assert_eq!(allowed, LOOKUP_BURST as usize);
        // one second later: LOOKUPS_PER_S more
        let t1 = t0 + Duration::from_secs(1);
        let allowed = (0..1000)
            .filter(|i| m.may_look_up(&format!("j{i}"), t1))
            .count();
        assert_eq!(allowed, LOOKUPS_PER_S as usize);
    }

    #[test]
    fn misses_stay_bounded() {
        let mut m = Misses::default();
        let t0 = Instant::now();
        for i in 0..(MAX_MISSES + 10) {
            m.note_miss(format!("k{i}"), t0);
        }
        assert!(m.seen.len() <= MAX_MISSES);
    }
}
