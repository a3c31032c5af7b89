//! The circuit breaker of one upstream: `failures` failed tries within
//! `window_ms` open it; while open the upstream is skipped (its calls go to
//! their next target, or get a 503 saying when to come back); once
//! `cooldown_ms` has passed one call is let through as a probe, whose
//! success closes it and whose failure opens it again.
//!
//! With Redis the failure count and the open state are shared: failures on
//! any replica count towards one threshold (one Lua call per failure, off
//! the answer's path), and every replica skips the upstream while the open
//! key lives (each replica reads it every [`POLL`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::config::CooldownConfig;
use crate::redis_link::RedisLink;

/// How often each replica reads the shared open state.
pub const POLL: Duration = Duration::from_millis(250);

pub struct Breaker {
    upstream: String,
    cfg: CooldownConfig,
    /// How long a probe may take before another call may probe instead.
    probe_lease_ms: i64,
    state: Mutex<State>,
    shared: Option<Arc<RedisLink>>,
}

#[derive(Default)]
struct State {
    window_start_ms: i64,
    failures: u32,
    /// 0 = closed.
    open_until_ms: i64,
    probe_since_ms: Option<i64>,
}

/// Whether a call may try the upstream now.
#[derive(Debug, PartialEq, Eq)]
pub enum Admit {
    Yes,
    /// Skipped; the cooldown ends in this long.
    CoolingDown(Duration),
}

/// Atomically count one failure in the window and open the breaker at the
/// threshold. Returns the open-until time (0 = still closed).
const FAIL_LUA: &str = r#"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n >= tonumber(ARGV[3]) or ARGV[5] == '1' then
  local until_ms = tonumber(ARGV[1]) + tonumber(ARGV[4])
  redis.call('SET', KEYS[2], until_ms, 'PX', ARGV[4])
  redis.call('DEL', KEYS[1])
  return until_ms
end
local open = redis.call('GET', KEYS[2])
if open then return tonumber(open) end
return 0
"#;

impl Breaker {
    pub fn new(
        upstream: &str,
        cfg: &CooldownConfig,
        probe_lease: Duration,
        shared: Option<Arc<RedisLink>>,
    ) -> Breaker {
        Breaker {
            upstream: upstream.to_owned(),
            cfg: cfg.clone(),
            probe_lease_ms: probe_lease.as_millis() as i64,
            state: Mutex::new(State::default()),
            shared,
        }
    }

    fn keys(&self, link: &RedisLink) -> [String; 2] {
        [
            link.key(&format!("cooldown:{}:failures", self.upstream)),
            link.key(&format!("cooldown:{}:open", self.upstream)),
        ]
    }

    /// Closed: yes. Open: no, until the cooldown has passed; then yes for one
    /// probe at a time.
    pub fn admit(&self, now_ms: i64) -> Admit {
        let Ok(mut s) = self.state.lock() else {
            return Admit::Yes;
        };
        if s.open_until_ms == 0 {
            return Admit::Yes;
        }
        if now_ms < s.open_until_ms {
            return Admit::CoolingDown(ms(s.open_until_ms - now_ms));
        }
        match s.probe_since_ms {
            Some(since) if now_ms - since < self.probe_lease_ms => {
                Admit::CoolingDown(ms(since + self.probe_lease_ms - now_ms))
            }
            _ => {
                s.probe_since_ms = Some(now_ms);
                Admit::Yes
            }
        }
    }

    /// A try answered: a probe's success closes the breaker.
    pub fn success(self: &Arc<Self>) {
        let was_open = match self.state.lock() {
            Ok(mut s) if s.open_until_ms != 0 => {
                *s = State::default();
                true
            }
            _ => false,
        };
        if was_open {
            self.gauge(false);
            if let Some(link) = self.shared.clone() {
                let [failures, open] = self.keys(&link);
                tokio::spawn(async move {
                    let mut del = redis::cmd("DEL");
                    del.arg(failures).arg(open);
                    let _: Option<i64> = link.query(del).await;
                });
            }
        }
    }

    /// A try failed in a way that says the upstream is unwell (a 429, a 5xx,
    /// no answer): counted; at the threshold, or when a probe failed, the
    /// breaker opens.
    pub fn failure(self: &Arc<Self>, now_ms: i64) {
        let probe_failed = self
            .state
            .lock()
            .map(|s| s.open_until_ms != 0 && s.probe_since_ms.is_some())
            .unwrap_or(false);
        let Some(link) = self.shared.clone() else {
            self.count_locally(now_ms, probe_failed);
            return;
        };
        let this = self.clone();
        tokio::spawn(async move {
            let keys = this.keys(&link);
            let script = redis::Script::new(FAIL_LUA);
            let args = [
                now_ms,
                this.cfg.window_ms as i64,
                i64::from(this.cfg.failures),
                this.cfg.cooldown_ms as i64,
                i64::from(probe_failed),
            ];
            match link.eval::<i64>(&script, &keys, &args).await {
                Some(until) if until > 0 => this.open_until(until),
                Some(_) => {}
                // Redis is away: this replica decides alone meanwhile.
                None => this.count_locally(now_ms, probe_failed),
            }
        });
    }

    fn count_locally(&self, now_ms: i64, probe_failed: bool) {
        let open = {
            let Ok(mut s) = self.state.lock() else { return };
            if now_ms - s.window_start_ms >= self.cfg.window_ms as i64 {
                s.window_start_ms = now_ms;
                s.failures = 0;
            }
            s.failures += 1;
            (probe_failed || s.failures >= self.cfg.failures).then_some(now_ms)
        };
        if let Some(now) = open {
            self.open_until(now + self.cfg.cooldown_ms as i64);
        }
    }

    /// Opens (or keeps open) the breaker until `until_ms`.
    fn open_until(&self, until_ms: i64) {
        let opened = match self.state.lock() {
            Ok(mut s) if s.open_until_ms < until_ms => {
                let opened = s.open_until_ms == 0 || s.probe_since_ms.is_some();
                s.open_until_ms = until_ms;
                s.probe_since_ms = None;
                s.failures = 0;
                opened
            }
            _ => false,
        };
        if opened {
            tracing::warn!(upstream = %self.upstream, cooldown_ms = self.cfg.cooldown_ms, "upstream cooling down");
            metrics::counter!("promptgate_upstream_cooldowns_total", "upstream" => self.upstream.clone())
                .increment(1);
            self.gauge(true);
        }
    }

    fn gauge(&self, open: bool) {
        metrics::gauge!("promptgate_upstream_cooling_down", "upstream" => self.upstream.clone())
            .set(if open { 1.0 } else { 0.0 });
    }

    /// Reads the shared open state (every [`POLL`], from a background task):
    /// another replica's opening is taken over; a shared state that ended
    /// early (a probe elsewhere succeeded) closes this one too.
    pub async fn follow_shared(&self) {
        let Some(link) = &self.shared else { return };
        let [_, open] = self.keys(link);
        let mut get = redis::cmd("GET");
        get.arg(open);
        let Some(until) = link.query::<Option<i64>>(get).await else {
            return;
        };
        match until {
            Some(until) => self.open_until(until),
            None => {
                let closed = match self.state.lock() {
                    Ok(mut s)
                        if s.open_until_ms > crate::time::now_ms()
                            && s.probe_since_ms.is_none() =>
                    {
                        *s = State::default();
                        true
                    }
                    _ => false,
                };
                if closed {
                    self.gauge(false);
                }
            }
        }
    }
}

fn ms(v: i64) -> Duration {
    Duration::from_millis(v.max(0) as u64)
}

/// Follows the shared state of every breaker for as long as one lives.
pub fn spawn_follow(breakers: Vec<std::sync::Weak<Breaker>>) {
    if breakers.is_empty() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(POLL);
        loop {
            tick.tick().await;
            let live: Vec<Arc<Breaker>> = breakers.iter().filter_map(|b| b.upgrade()).collect();
            if live.is_empty() {
                return;
            }
            for b in live {
                b.follow_shared().await;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Arc<Breaker> {
        let cfg = CooldownConfig {
            failures: 2,
            window_ms: 1_000,
            cooldown_ms: 5_000,
        };
        Arc::new(Breaker::new("u", &cfg, Duration::from_secs(10), None))
    }

    #[tokio::test]
    async fn opens_at_the_threshold_then_lets_one_probe_through() {
        let b = breaker();
        b.failure(0);
        assert_eq!(b.admit(10), Admit::Yes);
        b.failure(20);
        assert_eq!(
            b.admit(30),
            Admit::CoolingDown(Duration::from_millis(4_990))
        );
        // cooldown over: one probe, the others wait for it
        assert_eq!(b.admit(5_020), Admit::Yes);
        assert!(matches!(b.admit(5_021), Admit::CoolingDown(_)));
        // the probe failed: open again at once
        b.failure(5_030);
        assert!(matches!(b.admit(5_040), Admit::CoolingDown(_)));
        assert_eq!(b.admit(10_030), Admit::Yes);
        b.success();
        assert_eq!(b.admit(10_040), Admit::Yes);
        assert_eq!(b.admit(10_041), Admit::Yes);
    }

    #[tokio::test]
    async fn failures_outside_the_window_do_not_add_up() {
        let b = breaker();
        b.failure(0);
        b.failure(1_500);
        assert_eq!(b.admit(1_600), Admit::Yes);
    }
}
