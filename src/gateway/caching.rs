//! The cache stage: a hit answers here; a miss may make this request the one
//! that fetches the answer for everyone asking the same thing right now
//! (single flight), in which case it carries a [`PendingStore`] to fill in.

use crate::api::ApiError;
use crate::cache::{self, CacheStatus, Flight, Policy};

use super::answer::{self, Answer, PendingStore};
use super::body::RequestBody;
use super::call::{Call, Plan};

pub enum Step {
    /// Answered from the cache.
    Answered(Answer),
    /// Go upstream; store the answer when this request leads the fetch.
    Fetch(Option<PendingStore>),
}

pub async fn stage(
    call: &mut Call<'_>,
    plan: &Plan,
    body: &RequestBody<'_>,
) -> Result<Step, ApiError> {
    let Some(policy) = plan.cache else {
        return Ok(Step::Fetch(None));
    };
    let state = call.state;
    let scope = cache::key::scope(state.config.cache.shared_namespace, call.recorder.team());
    let key = cache::key::cache_key(
        scope,
        &format!("{}:{}", plan.upstream.name, call.endpoint.as_str()),
        body.fields(),
    )
    .ok_or_else(|| ApiError::internal(anyhow::anyhow!("cache key of a parsed body")))?;
    match lookup(call, plan, policy, key).await {
        Lookup::Hit(entry) => answer::from_cache(call, plan, &entry).map(Step::Answered),
        Lookup::Miss(store) => {
            call.recorder.set_cache(CacheStatus::Miss);
            metrics::counter!("promptgate_cache_lookups_total", "result" => "miss").increment(1);
            Ok(Step::Fetch(store))
        }
    }
}

enum Lookup {
    Hit(std::sync::Arc<cache::Entry>),
    Miss(Option<PendingStore>),
}

async fn lookup(call: &mut Call<'_>, plan: &Plan, policy: Policy, key: String) -> Lookup {
    let cache = &call.state.cache;
    if policy.lookup {
        if let Some(entry) = cache.get(&key).await {
            return Lookup::Hit(entry);
        }
    }
    match cache.begin(&key) {
        Flight::Leader(guard) => {
            // Another leader may have published between our lookup and now.
            if policy.lookup {
                if let Some(entry) = cache.get(&key).await {
                    guard.finish(Some(entry.clone()));
                    return Lookup::Hit(entry);
                }
            }
            Lookup::Miss(policy.store.then(|| PendingStore {
                cache: cache.clone(),
                prompt: call.recorder.prompt_name().map(str::to_owned),
                key,
                ttl: policy.ttl,
                guard,
            }))
        }
        Flight::Follower(rx) if policy.lookup => {
            // Bounded: a leader whose client stalls must not hold everyone.
            let waited =
                tokio::time::timeout(plan.upstream.timeout, cache::wait_for_leader(rx)).await;
            match waited {
                Ok(Some(entry)) => Lookup::Hit(entry),
                _ => Lookup::Miss(None),
            }
        }
        Flight::Follower(_) => Lookup::Miss(None),
    }
}
