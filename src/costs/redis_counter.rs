//! Budget counters in Redis, shared by every replica: per team and period a
//! hash with what was spent, and what calls in flight hold, per process.
//!
//! Why per process: a process that is killed mid-call never gives back what
//! its calls reserved. Each process therefore holds under an id of its own,
//! in a key of its own that expires unless the process renews it (every
//! third of `budget_hold_lease_s`); the reservation script counts only the
//! holds whose keys still exist, so a dead process's reservations lapse
//! within one lease instead of shrinking the budget until the period ends.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Atomically: initialise the period's counter if new, add up the holds
/// still alive (forgetting the holders whose hold expired), then hold
/// `amount` more for this holder unless the limit would be passed.
/// KEYS: counter, its holder set, this holder's hold.
/// ARGV: limit, amount, initial spent, counter ttl ms, lease ms, holder id.
/// Returns {held?, spent, held by all}.
const RESERVE_LUA: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'spent', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent'))
local held = 0
for _, h in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local v = redis.call('GET', KEYS[1] .. ':hold:' .. h)
  if v then held = held + tonumber(v) else redis.call('SREM', KEYS[2], h) end
end
if spent + held + tonumber(ARGV[2]) > tonumber(ARGV[1]) then
  return {0, spent, held}
end
redis.call('INCRBY', KEYS[3], ARGV[2])
redis.call('PEXPIRE', KEYS[3], ARGV[5])
redis.call('SADD', KEYS[2], ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return {1, spent, held + tonumber(ARGV[2])}
"#;

/// Settles one call: its hold shrinks by what it reserved (only while the
/// hold exists: a lapsed hold is not brought back negative) and spent grows
/// by what it cost, only in a counter that exists. After a Redis restart the
/// period's counter is gone, and the next reservation starts it again from
/// the recorded spend (which holds this call: it is booked after its
/// record); settling into the empty Redis would instead start it near zero.
/// KEYS: counter, this holder's hold. ARGV: reserved, spent.
const SETTLE_LUA: &str = r#"
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('DECRBY', KEYS[2], ARGV[1])
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'spent', ARGV[2])
end
return 1
"#;

/// (spent, held by live holders) of a counter, or {} before its first use.
/// KEYS: counter, its holder set.
const READ_LUA: &str = r#"
local spent = redis.call('HGET', KEYS[1], 'spent')
if not spent then return {} end
local held = 0
for _, h in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local v = redis.call('GET', KEYS[1] .. ':hold:' .. h)
  if v then held = held + tonumber(v) end
end
return {tonumber(spent), held}
"#;

pub struct RedisCounter {
    prefix: String,
    /// Commands have a short deadline and no retries: a reservation that
    /// cannot be checked is a 503 at once, never a wait.
    conn: crate::redis_link::LazyConnection,
    holder: String,
    lease: Duration,
    /// The hold keys this process has used, which its lease renews.
    holds: Mutex<HashSet<String>>,
}

/// One reservation request against a team's counter, in micro-USD.
pub struct Ask<'a> {
    pub team: &'a str,
    pub period_start: i64,
    pub limit: i64,
    pub amount: i64,
    pub init_spent: i64,
    pub ttl_ms: i64,
}

impl RedisCounter {
    /// A counter under a new holder id, whose lease is renewed for as long
    /// as the counter lives.
    pub fn start(
        url: &str,
        prefix: &str,
        deadline: Duration,
        lease: Duration,
    ) -> anyhow::Result<Arc<RedisCounter>> {
        let counter = Arc::new(RedisCounter {
            prefix: prefix.to_owned(),
            conn: crate::redis_link::LazyConnection::open(url, deadline)?,
            holder: uuid::Uuid::new_v4().simple().to_string(),
            lease,
            holds: Mutex::default(),
        });
        crate::periodic::while_alive(&counter, (), lease / 3, |me, ()| async move {
            if let Err(e) = me.renew().await {
                tracing::warn!(error = %e, "budget hold lease renewal failed");
            }
        });
        Ok(counter)
    }

    fn key(&self, team: &str, period_start: i64) -> String {
        format!("{}:budget:{team}:{period_start}", self.prefix)
    }

    fn hold_key(&self, counter: &str) -> String {
        format!("{counter}:hold:{}", self.holder)
    }

    /// Whether the period's counter exists yet (else it needs its initial spent).
    pub async fn exists(&self, team: &str, period_start: i64) -> anyhow::Result<bool> {
        let mut conn = self.conn().await?;
        Ok(redis::cmd("EXISTS")
            .arg(self.key(team, period_start))
            .query_async(&mut conn)
            .await?)
    }

    /// Holds `ask.amount` unless the limit would be passed; whether it did.
    pub async fn reserve(&self, ask: &Ask<'_>) -> anyhow::Result<bool> {
        let mut conn = self.conn().await?;
        let key = self.key(ask.team, ask.period_start);
        let hold = self.hold_key(&key);
        if let Ok(mut holds) = self.holds.lock() {
            holds.insert(hold.clone());
        }
        let lease_ms = i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX);
        let (ok, _spent, _held): (i64, i64, i64) = redis::Script::new(RESERVE_LUA)
            .key(&key)
            .key(format!("{key}:holders"))
            .key(&hold)
            .arg(ask.limit)
            .arg(ask.amount)
            .arg(ask.init_spent)
            .arg(ask.ttl_ms)
            .arg(lease_ms)
            .arg(&self.holder)
            .invoke_async(&mut conn)
            .await?;
        Ok(ok == 1)
    }

    /// This process's holder id.
    pub fn holder(&self) -> Arc<str> {
        self.holder.as_str().into()
    }

    /// Gives back `reserved` of this process's hold and books `spent`.
    pub async fn book(
        &self,
        team: &str,
        period_start: i64,
        reserved: i64,
        spent: i64,
    ) -> anyhow::Result<()> {
        let mut conn = self.conn().await?;
        let key = self.key(team, period_start);
        let _: i64 = redis::Script::new(SETTLE_LUA)
            .key(&key)
            .key(self.hold_key(&key))
            .arg(reserved)
            .arg(spent)
            .invoke_async(&mut conn)
            .await?;
        Ok(())
    }

    /// (spent, held by live holders); `None` before the period's first reservation.
    pub async fn read(&self, team: &str, period_start: i64) -> anyhow::Result<Option<(i64, i64)>> {
        let mut conn = self.conn().await?;
        let key = self.key(team, period_start);
        let got: Vec<i64> = redis::Script::new(READ_LUA)
            .key(&key)
            .key(format!("{key}:holders"))
            .invoke_async(&mut conn)
            .await?;
        Ok(match got[..] {
            [spent, held] => Some((spent, held)),
            _ => None,
        })
    }

    /// Extends every hold of this process by one lease.
    async fn renew(&self) -> anyhow::Result<()> {
        let holds: Vec<String> = match self.holds.lock() {
            Ok(h) => h.iter().cloned().collect(),
            Err(_) => return Ok(()),
        };
        if holds.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        for hold in &holds {
            pipe.cmd("PEXPIRE")
                .arg(hold)
                .arg(self.lease.as_millis() as u64);
        }
        let alive: Vec<i64> = pipe.query_async(&mut conn).await?;
        // A hold that expired (its period ended, or renewals failed for a
        // whole lease) is not renewed any more.
        if let Ok(mut h) = self.holds.lock() {
            for (hold, alive) in holds.iter().zip(alive) {
                if alive == 0 {
                    h.remove(hold);
                }
            }
        }
        Ok(())
    }

    /// Drops every hold of this process (a clean shutdown, once every call
    /// has ended and settled).
    pub async fn release(&self) -> anyhow::Result<()> {
        let holds: Vec<String> = match self.holds.lock() {
            Ok(mut h) => h.drain().collect(),
            Err(_) => return Ok(()),
        };
        if holds.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn().await?;
        let _: () = redis::cmd("DEL").arg(&holds).query_async(&mut conn).await?;
        Ok(())
    }

    async fn conn(&self) -> anyhow::Result<redis::aio::ConnectionManager> {
        self.conn
            // a new connection takes a round trip more than a command
            .get(self.conn.deadline * 2)
            .await
            .map_err(|e| crate::redis_link::Unreachable(e).into())
    }
}
