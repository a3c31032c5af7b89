//! This process's lease on the money it holds against the shared budget
//! counters in PostgreSQL.
//!
//! Why a lease: a call's reservation is given back when the call ends, but a
//! process that is killed (`kill -9`, the OOM killer, a lost machine) gives
//! back nothing. Every process therefore holds under an id of its own and
//! renews that id's lease while it runs; the holds of an id whose lease has
//! ended no longer count, so a dead process's reservations lapse within one
//! lease instead of shrinking the budget for the rest of the period.

use std::sync::Arc;
use std::time::Duration;

use crate::store::Store;

/// Leases ended this long ago are deleted with their holds. Until then a
/// process whose renewals were late (a slow database) gets its holds back
/// intact with its next renewal.
const FORGET_AFTER: Duration = Duration::from_secs(3600);

pub struct Holder {
    inner: Arc<Inner>,
}

struct Inner {
    id: Arc<str>,
    store: Arc<dyn Store>,
    lease: Duration,
}

impl Holder {
    /// A new holder id with its first lease, renewed every third of a lease
    /// for as long as the holder lives.
    pub async fn start(store: Arc<dyn Store>, lease: Duration) -> anyhow::Result<Holder> {
        let inner = Arc::new(Inner {
            id: uuid::Uuid::new_v4().to_string().into(),
            store,
            lease,
        });
        inner.renew().await?;
        crate::periodic::while_alive(&inner, (), lease / 3, |inner, ()| async move {
            if let Err(e) = inner.renew().await {
                tracing::warn!(error = %e, "budget hold lease renewal failed");
            }
        });
        Ok(Holder { inner })
    }

    pub fn id(&self) -> &str {
        &self.inner.id
    }

    pub fn shared_id(&self) -> Arc<str> {
        self.inner.id.clone()
    }

    /// Gives up every hold at a clean shutdown (after the last record is
    /// written, so nothing it held is still owed to a record).
    pub async fn release(&self) -> anyhow::Result<()> {
        Ok(self.inner.store.holder_release(&self.inner.id).await?)
    }
}

impl Inner {
    async fn renew(&self) -> anyhow::Result<()> {
        let now = crate::time::now_ms();
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        self.store
            .holder_renew(&self.id, now + ms(self.lease), now - ms(FORGET_AFTER))
            .await?;
        Ok(())
    }
}
