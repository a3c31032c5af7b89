//! Budget enforcement: before the upstream call the gateway reserves the
//! request's worst-case cost; afterwards it settles the real cost. Because the
//! check and the reservation are one atomic step, concurrent requests cannot
//! overrun a budget by more than one request's worst case.
//!
//! The counter lives where every replica can see it: Redis when configured,
//! else PostgreSQL, else (one process on SQLite) in memory. Counters count
//! micro-USD (worst cases rounded up, real costs rounded up), which keeps Redis'
//! Lua arithmetic exact; the ledger itself stays exact to the pico-USD.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rust_decimal::Decimal;

/// How long a budget check may wait for a Redis connection.
const REDIS_CONNECT_DEADLINE: Duration = Duration::from_millis(500);

/// Tries of a settlement whose counter is unreachable (about a minute).
const SETTLE_ATTEMPTS: u32 = 17;

use super::budget::Period;
use crate::store::{BudgetRow, CounterReserve, CounterSettle, Store};

/// A team's limit in micro-USD and its period.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub micro_usd: i64,
    pub period: Period,
}

/// Money held for one in-flight request.
#[derive(Debug, Clone)]
pub struct Reservation {
    pub team: String,
    pub period_start: i64,
    pub micro_usd: i64,
}

#[derive(Debug, thiserror::Error)]
#[error("team `{team}` has used its {period} budget of {limit} USD")]
pub struct Exceeded {
    pub team: String,
    pub period: String,
    pub limit: String,
}

/// Rounds a cost up to whole micro-USD.
pub fn micro_ceil(usd: Decimal) -> i64 {
    let scaled = (usd * Decimal::from(1_000_000)).ceil();
    i64::try_from(scaled.mantissa() / 10i128.pow(scaled.scale())).unwrap_or(i64::MAX)
}

enum Counter {
    Local(Mutex<HashMap<(String, i64), (i64, i64)>>),
    Postgres,
    Redis {
        conn: crate::redis_link::LazyConnection,
        prefix: String,
    },
}

pub struct Budgets {
    store: Arc<dyn Store>,
    limits: RwLock<HashMap<String, Limit>>,
    counter: Counter,
}

/// Atomically: initialise the period's counter if new, then reserve unless
/// the limit would be passed. Returns {reserved?, spent, reserved}.
const RESERVE_LUA: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'spent', ARGV[3], 'reserved', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent'))
local reserved = tonumber(redis.call('HGET', KEYS[1], 'reserved'))
if spent + reserved + tonumber(ARGV[2]) > tonumber(ARGV[1]) then
  return {0, spent, reserved}
end
redis.call('HINCRBY', KEYS[1], 'reserved', ARGV[2])
return {1, spent, reserved + tonumber(ARGV[2])}
"#;

/// Atomically: replace a reservation with the real cost, only in a counter
/// that exists. After a Redis restart the period's counter is gone and the
/// next reservation starts it again from the recorded spend in the store;
/// settling into the empty Redis would instead start it near zero (a
/// counter without what the team spent before). Reserved never goes below
/// zero (a reservation made before the restart is not in a new counter).
const SETTLE_LUA: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local reserved = tonumber(redis.call('HGET', KEYS[1], 'reserved')) - tonumber(ARGV[1])
if reserved < 0 then
  reserved = 0
end
redis.call('HSET', KEYS[1], 'reserved', reserved)
redis.call('HINCRBY', KEYS[1], 'spent', ARGV[2])
return 1
"#;

impl Budgets {
    pub async fn new(
        store: Arc<dyn Store>,
        redis_url: Option<&str>,
        prefix: &str,
    ) -> anyhow::Result<Budgets> {
        let counter = match redis_url {
            Some(url) => Counter::Redis {
                conn: crate::redis_link::LazyConnection::open(url)?,
                prefix: prefix.to_owned(),
            },
            None if store.backend() == "postgres" => Counter::Postgres,
            None => Counter::Local(Mutex::new(HashMap::new())),
        };
        let budgets = Budgets {
            store,
            limits: RwLock::new(HashMap::new()),
            counter,
        };
        budgets.reload().await?;
        Ok(budgets)
    }

    /// Re-reads the configured limits (after a PUT, and on a short poll so
    /// replicas learn of limits set elsewhere).
    pub async fn reload(&self) -> anyhow::Result<()> {
        let rows = self.store.budgets().await?;
        let mut map = HashMap::new();
        for r in rows {
            if let Some(limit) = parse_limit(&r) {
                map.insert(r.team.clone(), limit);
            }
        }
        if let Ok(mut l) = self.limits.write() {
            *l = map;
        }
        Ok(())
    }

    pub fn spawn_refresh(self: &Arc<Self>, every: Duration) {
        crate::periodic::while_alive(self, (), every, |me, ()| async move {
            if let Err(e) = me.reload().await {
                tracing::warn!(error = %e, "budget reload failed; keeping the last known limits");
            }
        });
    }

    /// Whether any team has a budget.
    pub fn any(&self) -> bool {
        self.limits.read().map(|l| !l.is_empty()).unwrap_or(false)
    }

    /// The teams that have a budget.
    pub fn teams(&self) -> Vec<String> {
        self.limits
            .read()
            .map(|l| l.keys().cloned().collect())
            .unwrap_or_default()
    }

    pub fn limit(&self, team: &str) -> Option<Limit> {
        self.limits.read().ok()?.get(team).copied()
    }

    /// Recorded spend this period, in micro-USD (rounded up), to start a counter.
    async fn initial_spent(&self, team: &str, period_start: i64) -> anyhow::Result<i64> {
        let pico = self.store.spent_since(team, period_start).await?;
        Ok(micro_ceil(super::pico::from_pico(pico)))
    }

    /// Reserves `worst` for a request of `team`; `Ok(None)` when the team has no budget.
    pub async fn reserve(
        &self,
        team: &str,
        worst: Decimal,
    ) -> anyhow::Result<Result<Option<Reservation>, Exceeded>> {
        let Some(limit) = self.limit(team) else {
            return Ok(Ok(None));
        };
        let now = crate::time::now_ms();
        let period_start = limit.period.period_start(now);
        let amount = micro_ceil(worst).max(1);
        let ok = match &self.counter {
            Counter::Local(map) => {
                let known = map
                    .lock()
                    .map(|m| m.contains_key(&(team.to_owned(), period_start)))
                    .unwrap_or(false);
                let init = if known {
                    0
                } else {
                    self.initial_spent(team, period_start).await?
                };
                let Ok(mut m) = map.lock() else {
                    anyhow::bail!("budget counter lock poisoned")
                };
                let entry = m
                    .entry((team.to_owned(), period_start))
                    .or_insert((init, 0));
                if entry.0 + entry.1 + amount > limit.micro_usd {
                    false
                } else {
                    entry.1 += amount;
                    true
                }
            }
            Counter::Postgres => {
                let init = match self.store.counter_read(team, period_start).await? {
                    Some(_) => 0,
                    None => self.initial_spent(team, period_start).await?,
                };
                let reserve = CounterReserve {
                    team,
                    period_start,
                    init_spent: init,
                    amount,
                    limit: limit.micro_usd,
                };
                self.store.counter_reserve(&reserve).await?.0
            }
            Counter::Redis { prefix, .. } => {
                let mut conn = self.redis_conn().await?;
                let key = format!("{prefix}:budget:{team}:{period_start}");
                let exists: bool = redis::cmd("EXISTS")
                    .arg(&key)
                    .query_async(&mut conn)
                    .await?;
                let init = if exists {
                    0
                } else {
                    self.initial_spent(team, period_start).await?
                };
                let ttl_ms = limit.period.next_period_start(now) - now + 86_400_000;
                let (ok, _spent, _reserved): (i64, i64, i64) = redis::Script::new(RESERVE_LUA)
                    .key(&key)
                    .arg(limit.micro_usd)
                    .arg(amount)
                    .arg(init)
                    .arg(ttl_ms)
                    .invoke_async(&mut conn)
                    .await?;
                ok == 1
            }
        };
        if !ok {
            return Ok(Err(Exceeded {
                team: team.to_owned(),
                period: limit.period.to_string(),
                limit: super::format_usd(Decimal::new(limit.micro_usd, 6)),
            }));
        }
        Ok(Ok(Some(Reservation {
            team: team.to_owned(),
            period_start,
            micro_usd: amount,
        })))
    }

    /// [`Budgets::settle`], tried again while the counter could not even be
    /// reached (so the failed try changed nothing and a retry cannot count
    /// the call twice): a reservation left in place would hold the team's
    /// money until the period ends. Gives up (logged) after about a minute.
    pub async fn settle_retrying(&self, r: &Reservation, actual: Decimal) {
        let mut wait = Duration::from_millis(100);
        for attempt in 1..=SETTLE_ATTEMPTS {
            let Err(e) = self.settle(r, actual).await else {
                return;
            };
            let retry = attempt < SETTLE_ATTEMPTS && crate::store::health::never_sent(&e);
            if !retry {
                tracing::warn!(error = %e, team = %r.team, attempt, "budget settle failed");
                return;
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }

    /// Replaces the reservation with the real cost.
    pub async fn settle(&self, r: &Reservation, actual: Decimal) -> anyhow::Result<()> {
        let spent = micro_ceil(actual);
        match &self.counter {
            Counter::Local(map) => {
                if let Ok(mut m) = map.lock() {
                    if let Some(e) = m.get_mut(&(r.team.clone(), r.period_start)) {
                        e.1 -= r.micro_usd;
                        e.0 += spent;
                    }
                }
            }
            Counter::Postgres => {
                let settle = CounterSettle {
                    team: &r.team,
                    period_start: r.period_start,
                    reserved: r.micro_usd,
                    spent,
                };
                self.store.counter_settle(&settle).await?
            }
            Counter::Redis { prefix, .. } => {
                let mut conn = self.redis_conn().await?;
                let key = format!("{prefix}:budget:{}:{}", r.team, r.period_start);
                let _: i64 = redis::Script::new(SETTLE_LUA)
                    .key(&key)
                    .arg(r.micro_usd)
                    .arg(spent)
                    .invoke_async(&mut conn)
                    .await?;
            }
        }
        Ok(())
    }

    /// (spent, reserved) this period in micro-USD, for `GET …/budget`.
    pub async fn usage(&self, team: &str) -> anyhow::Result<Option<(Limit, i64, i64)>> {
        let Some(limit) = self.limit(team) else {
            return Ok(None);
        };
        let period_start = limit.period.period_start(crate::time::now_ms());
        let counted = match &self.counter {
            Counter::Local(map) => map
                .lock()
                .ok()
                .and_then(|m| m.get(&(team.to_owned(), period_start)).copied()),
            Counter::Postgres => self.store.counter_read(team, period_start).await?,
            Counter::Redis { prefix, .. } => {
                let mut conn = self.redis_conn().await?;
                let key = format!("{prefix}:budget:{team}:{period_start}");
                let (s, r): (Option<i64>, Option<i64>) = redis::cmd("HMGET")
                    .arg(&key)
                    .arg("spent")
                    .arg("reserved")
                    .query_async(&mut conn)
                    .await?;
                s.map(|s| (s, r.unwrap_or(0)))
            }
        };
        let (spent, reserved) = match counted {
            Some(c) => c,
            None => (self.initial_spent(team, period_start).await?, 0),
        };
        Ok(Some((limit, spent, reserved)))
    }

    /// The counter's Redis connection. Its commands have a short deadline
    /// (see `redis_link`): a reservation that cannot be checked is a 503,
    /// never a wait.
    async fn redis_conn(&self) -> anyhow::Result<redis::aio::ConnectionManager> {
        let Counter::Redis { conn, .. } = &self.counter else {
            anyhow::bail!("not a redis counter")
        };
        conn.get(REDIS_CONNECT_DEADLINE)
            .await
            .map_err(|e| crate::redis_link::Unreachable(e).into())
    }
}

fn parse_limit(r: &BudgetRow) -> Option<Limit> {
    let usd = Decimal::from_str(&r.usd).ok()?;
    let period = Period::from_str(&r.period).ok()?;
    Some(Limit {
        micro_usd: micro_ceil(usd),
        period,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micro_rounds_up() {
        assert_eq!(micro_ceil(Decimal::from_str("0.0000011").unwrap()), 2);
        assert_eq!(micro_ceil(Decimal::from_str("1.5").unwrap()), 1_500_000);
        assert_eq!(micro_ceil(Decimal::ZERO), 0);
    }
}
