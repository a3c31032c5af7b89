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
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rust_decimal::Decimal;

/// Tries of a settlement whose counter is unreachable (about a minute).
const SETTLE_ATTEMPTS: u32 = 17;

use super::budget::Period;
use crate::store::{
    BudgetCharge, BudgetRow, ChargeBook, CounterRelease, CounterReserve, RequestRecord, Store,
};

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
    /// Spent per period in `budget_counters`, booked with the records; what
    /// is held, per process (`holder`) in `budget_holds` under a lease (see
    /// [`super::holder`]).
    Postgres(super::holder::Holder),
    /// Spent and the holds of each process in Redis (see [`super::redis_counter`]).
    Redis(Arc<super::redis_counter::RedisCounter>),
}

pub struct Budgets {
    store: Arc<dyn Store>,
    limits: RwLock<HashMap<String, Limit>>,
    counter: Counter,
    /// Settlements under way, which a clean shutdown waits for.
    settling: Settling,
}

#[derive(Default)]
struct Settling {
    count: AtomicUsize,
    changed: tokio::sync::Notify,
}

/// How long a clean shutdown waits for settlements under way.
const SETTLE_GRACE: Duration = Duration::from_secs(5);

impl Budgets {
    pub async fn new(
        store: Arc<dyn Store>,
        redis_url: Option<&str>,
        prefix: &str,
        redis_deadline: Duration,
        hold_lease: Duration,
    ) -> anyhow::Result<Budgets> {
        let counter = match redis_url {
            Some(url) => Counter::Redis(super::redis_counter::RedisCounter::start(
                url,
                prefix,
                redis_deadline,
                hold_lease,
            )?),
            None if store.backend() == "postgres" => {
                Counter::Postgres(super::holder::Holder::start(store.clone(), hold_lease).await?)
            }
            None => Counter::Local(Mutex::new(HashMap::new())),
        };
        let budgets = Budgets {
            store,
            limits: RwLock::new(HashMap::new()),
            counter,
            settling: Settling::default(),
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
            Counter::Postgres(holder) => {
                let init = match self.store.counter_read(team, period_start, now).await? {
                    Some(_) => 0,
                    None => self.initial_spent(team, period_start).await?,
                };
                let reserve = CounterReserve {
                    holder: holder.id(),
                    team,
                    period_start,
                    init_spent: init,
                    amount,
                    limit: limit.micro_usd,
                    now_ms: now,
                };
                self.store.counter_reserve(&reserve).await?
            }
            Counter::Redis(redis) => {
                let init_spent = if redis.exists(team, period_start).await? {
                    0
                } else {
                    self.initial_spent(team, period_start).await?
                };
                let ask = super::redis_counter::Ask {
                    team,
                    period_start,
                    limit: limit.micro_usd,
                    amount,
                    init_spent,
                    ttl_ms: limit.period.next_period_start(now) - now + 86_400_000,
                };
                redis.reserve(&ask).await?
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

    /// Replaces the reservation with the real cost, off the caller's path.
    /// On PostgreSQL the real cost stays held until the record is written:
    /// the returned charge goes with the record, whose transaction books it
    /// as spent (so a crash between the two never counts a call the ledger
    /// has no record of).
    pub fn settle_later(self: &Arc<Self>, r: Reservation, actual: Decimal) -> Option<BudgetCharge> {
        let (holder, book) = match &self.counter {
            Counter::Local(_) => (None, ChargeBook::Store),
            Counter::Postgres(holder) => (Some(holder.shared_id()), ChargeBook::Store),
            Counter::Redis(redis) => (Some(redis.holder()), ChargeBook::Redis),
        };
        let charge = holder.map(|holder| BudgetCharge {
            holder,
            period_start: r.period_start,
            spent_musd: micro_ceil(actual),
            held_musd: micro_ceil(actual).min(r.micro_usd),
            book,
        });
        let me = self.clone();
        self.settling.count.fetch_add(1, Ordering::AcqRel);
        tokio::spawn(async move {
            me.settle_retrying(&r, actual).await;
            me.settling.count.fetch_sub(1, Ordering::AcqRel);
            me.settling.changed.notify_waiters();
        });
        charge
    }

    /// [`Budgets::settle`], tried again while the counter could not even be
    /// reached (so the failed try changed nothing and a retry cannot count
    /// the call twice): a hold left in place would keep the team's money
    /// until this process stops. Gives up (logged) after about a minute.
    async fn settle_retrying(&self, r: &Reservation, actual: Decimal) {
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

    /// Replaces the reservation with the real cost (on PostgreSQL and Redis:
    /// gives back the part of it that was not spent; see `settle_later`).
    async fn settle(&self, r: &Reservation, actual: Decimal) -> anyhow::Result<()> {
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
            Counter::Postgres(holder) => {
                let release = CounterRelease {
                    holder: holder.id(),
                    team: &r.team,
                    period_start: r.period_start,
                    musd: r.micro_usd - spent.min(r.micro_usd),
                };
                self.store.counter_release(&release).await?
            }
            Counter::Redis(redis) => {
                let unspent = r.micro_usd - spent.min(r.micro_usd);
                redis.book(&r.team, r.period_start, unspent, 0).await?
            }
        }
        Ok(())
    }

    /// (spent, reserved) this period in micro-USD, for `GET …/budget`.
    pub async fn usage(&self, team: &str) -> anyhow::Result<Option<(Limit, i64, i64)>> {
        let Some(limit) = self.limit(team) else {
            return Ok(None);
        };
        let now = crate::time::now_ms();
        let period_start = limit.period.period_start(now);
        let counted = match &self.counter {
            Counter::Local(map) => map
                .lock()
                .ok()
                .and_then(|m| m.get(&(team.to_owned(), period_start)).copied()),
            Counter::Postgres(_) => self.store.counter_read(team, period_start, now).await?,
            Counter::Redis(redis) => redis.read(team, period_start).await?,
        };
        let (spent, reserved) = match counted {
            Some(c) => c,
            None => (self.initial_spent(team, period_start).await?, 0),
        };
        Ok(Some((limit, spent, reserved)))
    }

    /// Gives up what this process still holds (a clean shutdown, after the
    /// last record is written), once the settlements under way are done.
    /// The in-memory counter ends with the process anyway.
    pub async fn release_holds(&self) {
        let settled = async {
            loop {
                let changed = self.settling.changed.notified();
                if self.settling.count.load(Ordering::Acquire) == 0 {
                    break;
                }
                changed.await;
            }
        };
        if tokio::time::timeout(SETTLE_GRACE, settled).await.is_err() {
            tracing::warn!("budget settlements still running at shutdown");
        }
        let released = match &self.counter {
            Counter::Local(_) => Ok(()),
            Counter::Postgres(holder) => holder.release().await,
            Counter::Redis(redis) => redis.release().await,
        };
        if let Err(e) = released {
            tracing::warn!(error = %e, "budget holds not released; they lapse with the lease");
        }
    }
}

/// The charges Redis counters book once their records are written: a kill
/// between the two leaves a recorded call uncounted, never a counted call
/// unrecorded.
#[async_trait::async_trait]
impl crate::store::writer::ChargeBooker for Budgets {
    async fn book(&self, records: &[RequestRecord]) {
        let Counter::Redis(redis) = &self.counter else {
            return;
        };
        let mut sums: HashMap<(&str, i64), (i64, i64)> = HashMap::new();
        for r in records {
            let Some(c) = r
                .budget_charge
                .as_ref()
                .filter(|c| c.book == ChargeBook::Redis)
            else {
                continue;
            };
            let sum = sums.entry((r.team.as_str(), c.period_start)).or_default();
            sum.0 += c.held_musd;
            sum.1 += c.spent_musd;
        }
        for ((team, period_start), (held, spent)) in sums {
            if let Err(e) = redis.book(team, period_start, held, spent).await {
                tracing::warn!(error = %e, team, "budget charge not booked in Redis");
            }
        }
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
