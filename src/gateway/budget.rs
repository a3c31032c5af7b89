//! The budget stage: the body is final here (usage asked for in streams, the
//! bytes to send), and a team with a budget has the call's worst-case cost
//! held against it before anything is spent. Only teams with a budget pay for
//! the prompt-token count this needs.

use axum::body::Bytes;

use crate::api::{ApiError, Endpoint};

use super::body::{self, RequestBody};
use super::call::{Call, Plan};
use super::estimate;

/// Output tokens assumed for the worst case when the request sets no limit.
const DEFAULT_OUTPUT_CAP: i64 = 16_384;

/// Returns the body to send upstream.
pub async fn stage(
    call: &mut Call<'_>,
    plan: &Plan,
    mut body: RequestBody<'_>,
    raw: &Bytes,
) -> Result<Bytes, ApiError> {
    let endpoint = call.endpoint;
    if plan.stream && endpoint.usage_needs_asking() {
        let options = body::stream_options_with_usage(body.get("stream_options"))?;
        body.set("stream_options", options);
    }
    let max_output = worst_case_output(endpoint, &body);
    let upstream_body = body.to_bytes(raw);
    drop(body);
    call.recorder.set_request_body(upstream_body.clone());
    reserve(call, &plan.model, &upstream_body, max_output).await?;
    Ok(upstream_body)
}

/// Worst case output: the stated limit (or the default cap) for each of the
/// `n` choices; embeddings generate nothing.
fn worst_case_output(endpoint: Endpoint, body: &RequestBody<'_>) -> i64 {
    if endpoint == Endpoint::Embeddings {
        return 0;
    }
    let limit = ["max_completion_tokens", "max_tokens", "max_output_tokens"]
        .iter()
        .find_map(|f| body.get(f).and_then(|v| v.get().parse::<i64>().ok()))
        .unwrap_or(DEFAULT_OUTPUT_CAP);
    let n = body
        .get("n")
        .and_then(|v| v.get().parse::<i64>().ok())
        .unwrap_or(1)
        .max(1);
    limit.saturating_mul(n)
}

/// Holds the request's worst-case cost against its team's budget.
async fn reserve(
    call: &mut Call<'_>,
    model: &str,
    upstream_body: &Bytes,
    max_output: i64,
) -> Result<(), ApiError> {
    let state = call.state;
    let recorder = &mut call.recorder;
    if state.budgets.limit(recorder.team()).is_none() {
        return Ok(());
    }
    let team = recorder.team().to_owned();
    let Some(price) = state.prices.lookup(model) else {
        // Unpriced: nothing to hold; the record shows it as unpriced.
        return Ok(());
    };
    let endpoint = call.endpoint;
    let (owned_model, body) = (model.to_owned(), upstream_body.clone());
    let prompt_tokens =
        tokio::task::spawn_blocking(move || estimate::prompt_tokens(endpoint, &owned_model, &body))
            .await
            .map_err(ApiError::internal)?;
    let worst = crate::costs::worst_case_cost(price, prompt_tokens, max_output);
    match state
        .budgets
        .reserve(&team, worst)
        .await
        .map_err(|e| ApiError::from_dependency("the budget counter", e))?
    {
        Ok(Some(reservation)) => {
            recorder.set_reservation(state.budgets.clone(), reservation);
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(exceeded) => Err(ApiError::BudgetExceeded(exceeded.to_string())),
    }
}
