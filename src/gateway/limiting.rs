//! The limit stage: a call that matches `[[rate_limits]]` is counted in
//! each of its scopes before it goes upstream, or refused with OpenAI's
//! 429. Its place is held on the record, which settles the tokens with the
//! real usage and frees the place in flight when the call ends. Without
//! rules it costs one check; cache hits never reach it (they call no
//! upstream).

use std::time::Duration;

use axum::body::Bytes;
use serde::de::IgnoredAny;

use crate::api::{ApiError, Endpoint};
use crate::auth::Caller;
use crate::limits::Subject;

use super::call::{Call, Plan};
use super::estimate;

/// The longest a call keeps its place in flight in the shared count when
/// its replica died before freeing it.
const MIN_LEASE: Duration = Duration::from_secs(600);

pub async fn stage(
    call: &mut Call<'_>,
    plan: &Plan,
    upstream_body: &Bytes,
) -> Result<(), ApiError> {
    let limiter = &call.state.limits;
    if limiter.is_empty() || matches!(call.caller, Caller::Admin) {
        return Ok(());
    }
    let who = Subject {
        team: call.recorder.team(),
        key_id: call.recorder.key_id(),
        model: &plan.model,
    };
    let scopes = limiter.scopes(&who);
    if scopes.is_empty() {
        return Ok(());
    }
    let tokens = if scopes.iter().any(|s| s.tpm > 0) {
        held_tokens(call.endpoint, &plan.model, upstream_body).await?
    } else {
        0
    };
    let lease = MIN_LEASE.max(plan.upstream.timeout * 2);
    let team = call.recorder.team().to_owned();
    let hold = limiter.admit(&team, scopes, tokens, lease).await?;
    call.rate_headers = Some(Box::new(hold.headers()));
    call.recorder.set_limit_hold(hold);
    Ok(())
}

/// What a call holds of a TPM limit: its prompt tokens (counted with the
/// model's tokenizer, on the blocking pool) and the output it allows itself.
async fn held_tokens(endpoint: Endpoint, model: &str, body: &Bytes) -> Result<u64, ApiError> {
    let (model, body) = (model.to_owned(), body.clone());
    tokio::task::spawn_blocking(move || {
        let prompt = estimate::prompt_tokens(endpoint, &model, &body).max(0) as u64;
        prompt + stated_output_cap(&body)
    })
    .await
    .map_err(ApiError::internal)
}

/// `max_tokens` (or its newer names) × `n`, when the request sets one.
fn stated_output_cap(body: &[u8]) -> u64 {
    #[derive(serde::Deserialize)]
    struct Caps {
        max_tokens: Option<u64>,
        max_completion_tokens: Option<u64>,
        max_output_tokens: Option<u64>,
        n: Option<u64>,
        #[serde(flatten)]
        _rest: std::collections::HashMap<String, IgnoredAny>,
    }
    let Ok(caps) = serde_json::from_slice::<Caps>(body) else {
        return 0;
    };
    let cap = caps
        .max_completion_tokens
        .or(caps.max_tokens)
        .or(caps.max_output_tokens)
        .unwrap_or(0);
    cap.saturating_mul(caps.n.unwrap_or(1).max(1))
}

#[cfg(test)]
mod tests {
    use super::stated_output_cap;

    #[test]
    fn the_output_cap_is_the_stated_limit_times_n() {
        assert_eq!(
            stated_output_cap(br#"{"max_tokens": 50, "n": 2, "messages": []}"#),
            100
        );
        assert_eq!(stated_output_cap(br#"{"max_completion_tokens": 7}"#), 7);
        assert_eq!(stated_output_cap(br#"{"messages": []}"#), 0);
    }
}
