//! Background loops: a step run at a fixed period, for as long as it is wanted.

use std::future::Future;
use std::sync::Arc;
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

/// Runs `step(target, with)` every `period` for as long as `target` is alive
/// elsewhere: the loop holds it weakly, so dropping the last owner ends it.
pub fn while_alive<T, S, F, Fut>(target: &Arc<T>, with: S, period: Duration, step: F)
where
    T: Send + Sync + 'static,
    S: Clone + Send + 'static,
    F: Fn(Arc<T>, S) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let target = Arc::downgrade(target);
    spawn_every(period, move || Some(step(target.upgrade()?, with.clone())));
}
