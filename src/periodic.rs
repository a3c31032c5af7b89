//! Background loops: a step run at a fixed period, for as long as it is wanted.

use std::future::Future;
use std::time::Duration;

/// Runs the future `step` makes every `period` (a tick missed while a step
/// ran is skipped, not made up in a burst) until `step` returns `None`.
/// Refreshers hold what they refresh weakly and return `None` once it is gone.
pub fn spawn_every<F, Fut>(period: Duration, mut step: F)
where
    F: FnMut() -> Option<Fut> + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(run) = step() else { return };
            run.await;
        }
    });
}
