//! Writing one batch until it is stored. A store that is down (restart,
//! failover, full disk) costs no records: the batch is retried for as long
//! as the gateway runs, and the bounded queue in front of the writer holds
//! what arrives meanwhile. Only two cases give a batch up, each counted in
//! `promptgate_records_dropped_total` and logged: shutdown's deadline has
//! passed with the store still down, or the store keeps refusing the batch
//! itself (an error that is not an outage: retrying forever would stall
//! every record behind it).

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use crate::store::{health, RequestRecord, Store, StoreResult};

/// Tries for a batch the store refuses while it is up.
const REFUSED_ATTEMPTS: u32 = 20;

/// The waits between tries: doubling from `first` up to `max`.
#[derive(Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

/// 50 ms doubling to 5 s: a store back after a restart is written to within
/// about 5 s, and a long outage costs one try every 5 s.
pub const BACKOFF: Backoff = Backoff {
    first: Duration::from_millis(50),
    max: Duration::from_secs(5),
};

/// Where batches go: the store (a fake in the tests below).
#[async_trait]
pub trait BatchTarget: Send + Sync {
    async fn insert(&self, batch: &[RequestRecord]) -> StoreResult<()>;
    async fn stored_ids(&self, ids: &[&str]) -> StoreResult<Vec<String>>;
}

#[async_trait]
impl BatchTarget for dyn Store {
    async fn insert(&self, batch: &[RequestRecord]) -> StoreResult<()> {
        self.insert_records(batch).await
    }

    async fn stored_ids(&self, ids: &[&str]) -> StoreResult<Vec<String>> {
        self.stored_record_ids(ids).await
    }
}

/// Wall-clock ms after which an outage may cost records; 0 = never (set by
/// shutdown, so that a dead store cannot hold the process forever).
#[derive(Default)]
pub struct GiveUpAt(AtomicI64);

impl GiveUpAt {
    pub fn set(&self, at_ms: i64) {
        self.0.store(at_ms, Ordering::Relaxed);
    }

    fn passed(&self) -> bool {
        let at = self.0.load(Ordering::Relaxed);
        at != 0 && crate::time::now_ms() >= at
    }
}

/// Whether the batch reached the store.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    Stored,
    Dropped,
}

/// Writes `batch`, retrying with back-off. After a failed try the next one
/// first asks which records are already stored: a commit can succeed while
/// its answer is lost with the connection, and a ledger must not count a
/// call twice.
pub async fn write<T: BatchTarget + ?Sized>(
    target: &T,
    batch: &[RequestRecord],
    give_up: &GiveUpAt,
    backoff: Backoff,
) -> Written {
    let mut delay = backoff.first;
    let mut refused = 0u32;
    let mut failed_before = false;
    loop {
        let attempt = if failed_before {
            write_missing(target, batch).await
        } else {
            target.insert(batch).await
        };
        let err = match attempt {
            Ok(()) => return Written::Stored,
            Err(err) => err,
        };
        failed_before = true;
        metrics::counter!("promptgate_record_write_errors_total").increment(1);
        let outage = health::is_unavailable(&err);
        if !outage {
            refused += 1;
        }
        if refused >= REFUSED_ATTEMPTS || (outage && give_up.passed()) {
            metrics::counter!("promptgate_records_dropped_total").increment(batch.len() as u64);
            tracing::error!(error = %err, records = batch.len(), outage, "record batch given up");
            return Written::Dropped;
        }
        tracing::warn!(error = %err, outage, "record batch failed; retrying");
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(backoff.max);
    }
}

/// Writes the records of `batch` that are not stored yet.
async fn write_missing<T: BatchTarget + ?Sized>(
    target: &T,
    batch: &[RequestRecord],
) -> StoreResult<()> {
    let ids: Vec<&str> = batch.iter().map(|r| r.id.as_str()).collect();
    let stored: HashSet<String> = target.stored_ids(&ids).await?.into_iter().collect();
    if stored.is_empty() {
        return target.insert(batch).await;
    }
    let missing: Vec<RequestRecord> = batch
        .iter()
        .filter(|r| !stored.contains(&r.id))
        .cloned()
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    target.insert(&missing).await
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    const QUICK: Backoff = Backoff {
        first: Duration::from_millis(1),
        max: Duration::from_millis(2),
    };

    /// A store whose commits succeed but whose first `lost` answers are
    /// lost (the connection drops after COMMIT), like a restart at that moment.
    struct LosesAnswers {
        rows: Mutex<Vec<String>>,
        lost: Mutex<u32>,
    }

    #[async_trait]
    impl BatchTarget for LosesAnswers {
        async fn insert(&self, batch: &[RequestRecord]) -> StoreResult<()> {
            self.rows
                .lock()
                .unwrap()
                .extend(batch.iter().map(|r| r.id.clone()));
            let mut lost = self.lost.lock().unwrap();
            if *lost > 0 {
                *lost -= 1;
                return Err(sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into()));
            }
            Ok(())
        }

        async fn stored_ids(&self, ids: &[&str]) -> StoreResult<Vec<String>> {
            let rows = self.rows.lock().unwrap();
            Ok(ids
                .iter()
                .filter(|id| rows.iter().any(|r| r == *id))
                .map(|id| (*id).to_owned())
                .collect())
        }
    }

    fn record(id: &str) -> RequestRecord {
        RequestRecord {
            id: id.into(),
            ..RequestRecord::default()
        }
    }

    #[tokio::test]
    async fn a_commit_whose_answer_was_lost_is_not_written_twice() {
        let store = LosesAnswers {
            rows: Mutex::default(),
            lost: Mutex::new(1),
        };
        let batch = [record("a"), record("b")];
        assert_eq!(
            write(&store, &batch, &GiveUpAt::default(), QUICK).await,
            Written::Stored
        );
        assert_eq!(*store.rows.lock().unwrap(), ["a", "b"]);
    }

    /// A store that is down for its first `failures_left` tries.
    struct DownFor {
        failures_left: Mutex<u32>,
        rows: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl BatchTarget for DownFor {
        async fn insert(&self, batch: &[RequestRecord]) -> StoreResult<()> {
            let mut left = self.failures_left.lock().unwrap();
            if *left > 0 {
                *left -= 1;
                return Err(sqlx::Error::PoolTimedOut);
            }
            self.rows
                .lock()
                .unwrap()
                .extend(batch.iter().map(|r| r.id.clone()));
            Ok(())
        }

        async fn stored_ids(&self, _: &[&str]) -> StoreResult<Vec<String>> {
            Ok(Vec::new())
        }
    }

    /// 25 failed tries used to be more than the writer's 20 and lost the batch.
    #[tokio::test]
    async fn an_outage_longer_than_twenty_tries_loses_nothing() {
        let store = DownFor {
            failures_left: Mutex::new(25),
            rows: Mutex::default(),
        };
        let batch = [record("a")];
        assert_eq!(
            write(&store, &batch, &GiveUpAt::default(), QUICK).await,
            Written::Stored
        );
        assert_eq!(*store.rows.lock().unwrap(), ["a"]);
    }

    #[tokio::test]
    async fn after_the_shutdown_deadline_an_outage_drops_the_batch() {
        let store = DownFor {
            failures_left: Mutex::new(u32::MAX),
            rows: Mutex::default(),
        };
        let give_up = GiveUpAt::default();
        give_up.set(1);
        assert_eq!(
            write(&store, &[record("a")], &give_up, QUICK).await,
            Written::Dropped
        );
    }
}
