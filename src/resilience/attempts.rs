//! One call's tries across its targets: each target (an upstream) is tried
//! as often as its retry policy says, waiting between tries, then the next
//! target takes over; targets cooling down are skipped. Nothing here knows
//! what a try sends: the caller's closure does one, before anything went to
//! the client, and says how it went.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::cooldown::{Admit, Breaker};
use super::retry::{Failure, RetryPolicy};

/// What guards one target.
pub struct Guard<'a> {
    pub name: &'a str,
    pub retry: Option<&'a RetryPolicy>,
    pub breaker: Option<&'a Arc<Breaker>>,
}

/// How one try went. A failed try still carries what the client gets if no
/// other try does better.
pub enum Try<T> {
    Answered(T),
    Failed(Failure, T),
}

/// The answer to pass on: which target gave it, after how many tries.
pub struct Answered<T> {
    pub value: T,
    pub target: usize,
    pub attempts: u32,
}

/// Every target was cooling down; the soonest is back in this long.
#[derive(Debug)]
pub struct AllCoolingDown(pub Duration);

/// Tries `targets` in order (see the module doc) until one answers, a
/// failure is final (a 4xx other than 429), or `deadline` leaves no room
/// for another wait. `attempt(i)` makes one try at target `i`.
pub async fn run<T, F, Fut>(
    targets: &[Guard<'_>],
    deadline: Instant,
    mut attempt: F,
) -> Result<Answered<T>, AllCoolingDown>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Try<T>>,
{
    let mut last: Option<(T, usize)> = None;
    let mut attempts = 0;
    let mut cooling: Option<Duration> = None;
    for (i, guard) in targets.iter().enumerate() {
        if let Some(breaker) = guard.breaker {
            if let Admit::CoolingDown(left) = breaker.admit(crate::time::now_ms()) {
                cooling = Some(cooling.map_or(left, |c| c.min(left)));
                continue;
            }
        }
        if let Some((_, from)) = &last {
            metrics::counter!("promptgate_fallbacks_total", "from" => targets[*from].name.to_owned(), "to" => guard.name.to_owned())
                .increment(1);
        }
        let tries = guard.retry.map_or(1, |p| p.attempts);
        for n in 1..=tries {
            attempts += 1;
            let failure = match attempt(i).await {
                Try::Failed(failure, value) if failure.is_transient() => {
                    if let Some(b) = guard.breaker {
                        b.failure(crate::time::now_ms());
                    }
                    last = Some((value, i));
                    failure
                }
                // An answer, or a failure that is the request's own fault
                // (the upstream answered it): passed on as it is.
                Try::Answered(value) | Try::Failed(_, value) => {
                    if let Some(b) = guard.breaker {
                        b.success();
                    }
                    return Ok(Answered {
                        value,
                        target: i,
                        attempts,
                    });
                }
            };
            let Some(policy) = guard.retry.filter(|p| n < tries && p.retries(&failure)) else {
                break;
            };
            let wait = policy.wait(n, failure.retry_after());
            if Instant::now() + wait >= deadline {
                break;
            }
            metrics::counter!("promptgate_upstream_retries_total", "upstream" => guard.name.to_owned(), "reason" => failure.reason())
                .increment(1);
            tokio::time::sleep(wait).await;
        }
        if Instant::now() >= deadline {
            break;
        }
    }
    match last {
        Some((value, target)) => Ok(Answered {
            value,
            target,
            attempts,
        }),
        None => Err(AllCoolingDown(cooling.unwrap_or_default())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resilience::config::RetryConfig;
    use std::cell::RefCell;

    fn status(s: u16) -> Failure {
        Failure::Status {
            status: s,
            retry_after: None,
        }
    }

    /// Runs a script of outcomes per target; returns (answer, target, tries, log).
    async fn script(
        plans: Vec<Vec<Result<&'static str, Failure>>>,
        attempts: u32,
    ) -> (
        Result<(&'static str, usize, u32), AllCoolingDown>,
        Vec<usize>,
    ) {
        let policy = RetryPolicy::new(&RetryConfig {
            attempts,
            backoff_ms: 1,
            ..RetryConfig::default()
        });
        let guards: Vec<Guard> = (0..plans.len())
            .map(|_| Guard {
                name: "u",
                retry: Some(&policy),
                breaker: None,
            })
            .collect();
        let plans = RefCell::new(plans.into_iter().map(|p| p.into_iter()).collect::<Vec<_>>());
        let log = RefCell::new(Vec::new());
        let deadline = Instant::now() + Duration::from_secs(10);
        let out = run(&guards, deadline, |i| {
            log.borrow_mut().push(i);
            let next = plans.borrow_mut()[i].next().expect("scripted");
            async move {
                match next {
                    Ok(v) => Try::Answered(v),
                    Err(f) => Try::Failed(f, "failed"),
                }
            }
        })
        .await
        .map(|a| (a.value, a.target, a.attempts));
        (out, log.into_inner())
    }

    #[tokio::test]
    async fn retries_then_falls_back_and_stops_at_a_final_failure() {
        let (out, log) = script(vec![vec![Err(status(500)), Err(status(500)), Ok("a")]], 3).await;
        assert_eq!(out.unwrap(), ("a", 0, 3));
        assert_eq!(log, [0, 0, 0]);
        let (out, log) = script(vec![vec![Err(status(400))], vec![Ok("b")]], 3).await;
        assert_eq!(out.unwrap(), ("failed", 0, 1));
        assert_eq!(log, [0]);
        let (out, log) = script(vec![vec![Err(Failure::Connect)], vec![Ok("b")]], 1).await;
        assert_eq!(out.unwrap(), ("b", 1, 2));
        assert_eq!(log, [0, 1]);
        // 501 falls back but is not in the retry list
        let (out, log) = script(
            vec![vec![Err(status(501))], vec![Err(status(503)), Ok("b")]],
            2,
        )
        .await;
        assert_eq!(out.unwrap(), ("b", 1, 3));
        assert_eq!(log, [0, 1, 1]);
    }

    #[tokio::test]
    async fn the_last_failure_is_passed_on() {
        let (out, _) = script(vec![vec![Err(status(502))], vec![Err(status(503))]], 1).await;
        assert_eq!(out.unwrap(), ("failed", 1, 2));
    }
}
