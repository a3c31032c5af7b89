//! `budget.80` and `budget.100`: a periodic look at each budgeted team's
//! spend this period. Each crossing is sent once across all replicas: the
//! first replica to note `alert:budget.{level}:{team}:{period start}` in
//! the store's settings (insert-if-absent) sends it, the others find it
//! there and stay silent.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use super::{Alerts, Event, EventKind};
use crate::costs::Budgets;
use crate::store::Store;

/// What the watch needs, and the crossings this replica already settled.
pub struct BudgetWatch {
    pub budgets: Arc<Budgets>,
    pub store: Arc<dyn Store>,
    pub alerts: Arc<Alerts>,
    settled: Mutex<HashSet<String>>,
}

impl BudgetWatch {
    pub fn new(budgets: Arc<Budgets>, store: Arc<dyn Store>, alerts: Arc<Alerts>) -> BudgetWatch {
        BudgetWatch {
            budgets,
            store,
            alerts,
            settled: Mutex::default(),
        }
    }

    /// Checks every `every` while `self` lives.
    pub fn spawn(self: &Arc<Self>, every: Duration) {
        crate::periodic::while_alive(self, (), every, |watch, ()| async move {
            if let Err(e) = watch.check().await {
                tracing::warn!(error = %e, "budget alert check failed");
            }
        });
    }

    async fn check(&self) -> anyhow::Result<()> {
        // Decimal text, as the budget API shows money (never a float).
        let usd = |m: i64| crate::costs::format_usd(rust_decimal::Decimal::new(m, 6));
        for team in self.budgets.teams() {
            let Some((limit, spent, _reserved)) = self.budgets.usage(&team).await? else {
                continue;
            };
            let period_start = limit.period.period_start(crate::time::now_ms());
            for (level, kind) in [(80, EventKind::Budget80), (100, EventKind::Budget100)] {
                // spent / limit ≥ level %, in integers (micro-USD).
                if i128::from(spent) * 100 < i128::from(limit.micro_usd) * level {
                    continue;
                }
                let key = format!("alert:budget.{level}:{team}:{period_start}");
                if self
                    .settled
                    .lock()
                    .map(|s| s.contains(&key))
                    .unwrap_or(true)
                {
                    continue;
                }
                let event = Event::new(
                    kind,
                    json!({
                        "team": team,
                        "period": limit.period,
                        "period_start": crate::time::rfc3339(period_start),
                        "budget_usd": usd(limit.micro_usd),
                        "spent_usd": usd(spent),
                        "threshold_percent": level,
                    }),
                );
                let owner = self.store.put_setting_if_absent(&key, &event.id).await?;
                if owner == event.id {
                    self.alerts.emit(&event);
                }
                if let Ok(mut s) = self.settled.lock() {
                    s.insert(key);
                }
            }
        }
        Ok(())
    }
}
