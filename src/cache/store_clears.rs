//! Cache clears carried by the store, for replicas that share a database but
//! no Redis: each clear is a row in `cache_clears`, and every replica reads
//! the rows it has not seen yet and drops the matching in-process entries.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use crate::store::CacheClearStore;

pub struct StoreClearLog {
    store: Arc<dyn CacheClearStore>,
    /// Every clear up to this sequence number is reflected in this process.
    seen: AtomicI64,
    /// This replica's own clears, applied when they were made; the next look
    /// skips them instead of dropping what was cached since.
    own: Mutex<Vec<i64>>,
}

impl StoreClearLog {
    /// Starts after the newest clear: a process that is just starting has
    /// nothing cached that an older clear could concern.
    pub async fn open(store: Arc<dyn CacheClearStore>) -> anyhow::Result<StoreClearLog> {
        let seen = store.last_cache_clear().await?;
        Ok(StoreClearLog {
            store,
            seen: AtomicI64::new(seen),
            own: Mutex::new(Vec::new()),
        })
    }

    /// Notes a clear this replica has already applied to itself.
    pub async fn note(&self, prompt: Option<&str>) -> anyhow::Result<()> {
        let seq = self
            .store
            .note_cache_clear(prompt, crate::time::now_ms())
            .await?;
        if let Ok(mut own) = self.own.lock() {
            own.push(seq);
        }
        Ok(())
    }

    /// The clears other replicas made since the last look, oldest first
    /// (`None` in the list: every entry). `None` when the store cannot be
    /// read right now; the next look catches up.
    pub async fn others_since_last_look(&self) -> Option<Vec<Option<String>>> {
        let after = self.seen.load(Ordering::Acquire);
        let rows = match self.store.cache_clears_after(after).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the cache clears of other replicas");
                return None;
            }
        };
        let Some(&(newest, _)) = rows.last() else {
            return Some(Vec::new());
        };
        let mut own = self.own.lock().ok()?;
        let others = rows
            .into_iter()
            .filter(|(seq, _)| match own.iter().position(|s| s == seq) {
                Some(i) => {
                    own.swap_remove(i);
                    false
                }
                None => true,
            })
            .map(|(_, prompt)| prompt)
            .collect();
        // An own clear noted only after this read saw its row was taken for
        // another replica's (and applied again, which costs only misses);
        // forget it rather than keep it forever.
        own.retain(|&seq| seq > newest);
        self.seen.store(newest, Ordering::Release);
        Some(others)
    }
}
