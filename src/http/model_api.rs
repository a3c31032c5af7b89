//! The OpenAI model endpoints the gateway handles itself: a POST on each path
//! below goes through `gateway::handle` as that endpoint. Other methods on
//! these paths are OpenAI resources of their own (e.g.
//! `GET /v1/chat/completions` lists stored completions): forwarded (the
//! route table says so).

use axum::extract::State;
use axum::response::Response;

use super::extract::{Auth, HeadersAndBody};
use super::openapi::responses;
use super::openapi::schemas as doc;
use crate::api::Endpoint;
use crate::gateway;
use crate::state::AppState;

/// A POST on a model path: the request pipeline as `endpoint`.
async fn call(
    state: AppState,
    caller: crate::auth::Caller,
    endpoint: Endpoint,
    request: HeadersAndBody,
) -> Response {
    let HeadersAndBody(headers, body) = request;
    gateway::handle(&state, &caller, endpoint, &headers, body).await
}

/// Chat completion (OpenAI-compatible)
///
/// Forwarded field-for-field to the upstream that `model` routes to. Routing, forwarding, error mapping and recording are described under the `model` tag. Supports `stream: true` (see the `model` tag for the SSE details). `model` may be absent (a stored `prompt`, `previous_response_id` or `conversation` names it): the call then goes unchanged to the catch-all upstream (`models = ["*"]`; without one, 400 with `param: model`), is not cached, and is recorded by the model its answer names.
#[utoipa::path(
    post, path = "/v1/chat/completions", tag = "model", operation_id = "createChatCompletion",
    params(("x-request-id" = Option<String>, Header, description = "Optional client-chosen id for this call. Used as the request record's id and echoed when it is 1–128 characters of `A–Z a–z 0–9 - _ . :`; any other value is replaced by a new UUIDv7 (not rejected).", max_length = 128)),
    request_body(content = doc::ChatCompletionRequest, content_type = "application/json", example = json!({"model": "mock-1", "messages": [{"role": "user", "content": "Hello"}], "metadata": {"user": "u-17", "tags": ["checkout"]}})),
    responses(
        (status = 200, description = "The upstream's answer, forwarded unchanged (status, headers except hop-by-hop ones, `set-cookie`, `date` and `server`, and body).", headers(("x-request-id" = String, description = "The request record's id (the client's `x-request-id` when acceptable, else a UUIDv7)."), ("x-promptgate-cache" = String, description = "`hit` (answered from the cache), `miss` (cache consulted, upstream called) or `bypass` (cache not used)."), ("x-promptgate-prompt" = String, description = "When a registry prompt built the request: `name@version`."), ("x-promptgate-prompt-sha256" = String, description = "When a registry prompt built the request: the version's content hash (64 hex digits)."), ("x-promptgate-cost-usd" = String, description = "Non-streamed answers whose usage is known (reported, or counted locally) and whose model has a price: the cost as an exact decimal string (`0.000144`); `0` on a cache hit."), ("x-promptgate-grounding" = String, description = "Non-streamed answers scored against grounding context: the grounding score in [0, 1] with four decimals (the probability that the answer is supported)."), ("x-promptgate-flagged" = String, description = "With `x-promptgate-grounding`: `true` when the score is below the threshold. With the judge tier, the combined flag (`[grounding.judge].flag` rule)."), ("x-promptgate-judge" = String, description = "Judge tier (`[grounding.judge]`), on answers the judge checks: the judge score with four decimals when the judge ran synchronously (non-streamed answers), `pending` when the verdict will land on the request record (always for streams), `error` when a synchronous judge gave no verdict (then `x-promptgate-judge-error` names why)."), ("x-promptgate-judge-error" = String, description = "With `x-promptgate-judge: error`: `upstream_error`, `timeout`, `invalid_verdict` or `budget_exceeded`.")), content((doc::UpstreamBody = "application/json", example = json!({"id": "chatcmpl-mock4e79873118cd", "object": "chat.completion", "created": 1767225600, "model": "mock-1", "choices": [{"index": 0, "message": {"role": "assistant", "content": "grounded tokens answers in gateway"}, "finish_reason": "stop", "logprobs": null}], "usage": {"prompt_tokens": 8, "completion_tokens": 22, "total_tokens": 30}})), (String = "text/event-stream", example = json!("data: {\"id\":\"chatcmpl-mock4e79873118cd\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"grounded\"},\"finish_reason\":null}]}\n\ndata: {\"id\":\"chatcmpl-mock4e79873118cd\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n: promptgate {\"cache\":\"bypass\",\"cost_usd\":\"0.000052\",\"request_id\":\"01a21c7a-f2cc-71c8-b3dc-b6f7551ad953\",\"usage\":{\"cached_tokens\":0,\"completion_tokens\":22,\"prompt_tokens\":8}}\n\ndata: [DONE]\n\n")))),
        (status = 400, response = responses::ModelBadRequest), (status = 401, response = responses::Unauthorized), (status = 404, response = responses::ModelNotFound), (status = 413, response = responses::PayloadTooLarge), (status = 429, response = responses::TooManyRequests), (status = "4XX", response = responses::UpstreamClientError), (status = 502, response = responses::BadGateway), (status = 504, response = responses::GatewayTimeout),
    ),
)]
pub async fn chat(State(s): State<AppState>, Auth(c): Auth, r: HeadersAndBody) -> Response {
    call(s, c, Endpoint::Chat, r).await
}

/// Text completion (OpenAI-compatible, legacy)
///
/// Forwarded field-for-field to the upstream that `model` routes to. Routing, forwarding, error mapping and recording are described under the `model` tag. Supports `stream: true` (see the `model` tag for the SSE details). `model` may be absent (a stored `prompt`, `previous_response_id` or `conversation` names it): the call then goes unchanged to the catch-all upstream (`models = ["*"]`; without one, 400 with `param: model`), is not cached, and is recorded by the model its answer names.
#[utoipa::path(
    post, path = "/v1/completions", tag = "model", operation_id = "createCompletion",
    params(("x-request-id" = Option<String>, Header, description = "Optional client-chosen id for this call. Used as the request record's id and echoed when it is 1–128 characters of `A–Z a–z 0–9 - _ . :`; any other value is replaced by a new UUIDv7 (not rejected).", max_length = 128)),
    request_body(content = doc::CompletionRequest, content_type = "application/json", example = json!({"model": "mock-1", "prompt": "Say hello"})),
    responses(
        (status = 200, description = "The upstream's answer, forwarded unchanged (status, headers except hop-by-hop ones, `set-cookie`, `date` and `server`, and body).", headers(("x-request-id" = String, description = "The request record's id (the client's `x-request-id` when acceptable, else a UUIDv7)."), ("x-promptgate-cache" = String, description = "`hit` (answered from the cache), `miss` (cache consulted, upstream called) or `bypass` (cache not used)."), ("x-promptgate-prompt" = String, description = "When a registry prompt built the request: `name@version`."), ("x-promptgate-prompt-sha256" = String, description = "When a registry prompt built the request: the version's content hash (64 hex digits)."), ("x-promptgate-cost-usd" = String, description = "Non-streamed answers whose usage is known (reported, or counted locally) and whose model has a price: the cost as an exact decimal string (`0.000144`); `0` on a cache hit."), ("x-promptgate-grounding" = String, description = "Non-streamed answers scored against grounding context: the grounding score in [0, 1] with four decimals (the probability that the answer is supported)."), ("x-promptgate-flagged" = String, description = "With `x-promptgate-grounding`: `true` when the score is below the threshold. With the judge tier, the combined flag (`[grounding.judge].flag` rule)."), ("x-promptgate-judge" = String, description = "Judge tier (`[grounding.judge]`), on answers the judge checks: the judge score with four decimals when the judge ran synchronously (non-streamed answers), `pending` when the verdict will land on the request record (always for streams), `error` when a synchronous judge gave no verdict (then `x-promptgate-judge-error` names why)."), ("x-promptgate-judge-error" = String, description = "With `x-promptgate-judge: error`: `upstream_error`, `timeout`, `invalid_verdict` or `budget_exceeded`.")), content((doc::UpstreamBody = "application/json", example = json!({"id": "cmpl-mock…", "object": "text_completion", "model": "mock-1", "choices": [{"text": "…", "index": 0, "logprobs": null, "finish_reason": "stop"}]})), (String = "text/event-stream", example = json!("data: {\"id\":\"chatcmpl-mock4e79873118cd\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"grounded\"},\"finish_reason\":null}]}\n\ndata: {\"id\":\"chatcmpl-mock4e79873118cd\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n: promptgate {\"cache\":\"bypass\",\"cost_usd\":\"0.000052\",\"request_id\":\"01a21c7a-f2cc-71c8-b3dc-b6f7551ad953\",\"usage\":{\"cached_tokens\":0,\"completion_tokens\":22,\"prompt_tokens\":8}}\n\ndata: [DONE]\n\n")))),
        (status = 400, response = responses::ModelBadRequest), (status = 401, response = responses::Unauthorized), (status = 404, response = responses::ModelNotFound), (status = 413, response = responses::PayloadTooLarge), (status = 429, response = responses::TooManyRequests), (status = "4XX", response = responses::UpstreamClientError), (status = 502, response = responses::BadGateway), (status = 504, response = responses::GatewayTimeout),
    ),
)]
pub async fn completions(State(s): State<AppState>, Auth(c): Auth, r: HeadersAndBody) -> Response {
    call(s, c, Endpoint::Completions, r).await
}

/// Embeddings (OpenAI-compatible)
///
/// Forwarded field-for-field to the upstream that `model` routes to. Routing, forwarding, error mapping and recording are described under the `model` tag. Not streamed.
#[utoipa::path(
    post, path = "/v1/embeddings", tag = "model", operation_id = "createEmbedding",
    params(("x-request-id" = Option<String>, Header, description = "Optional client-chosen id for this call. Used as the request record's id and echoed when it is 1–128 characters of `A–Z a–z 0–9 - _ . :`; any other value is replaced by a new UUIDv7 (not rejected).", max_length = 128)),
    request_body(content = doc::EmbeddingRequest, content_type = "application/json", example = json!({"model": "mock-embedding", "input": ["first text", "second text"]})),
    responses(
        (status = 200, description = "The upstream's answer, forwarded unchanged (status, headers except hop-by-hop ones, `set-cookie`, `date` and `server`, and body).", headers(("x-request-id" = String, description = "The request record's id (the client's `x-request-id` when acceptable, else a UUIDv7)."), ("x-promptgate-cache" = String, description = "`hit` (answered from the cache), `miss` (cache consulted, upstream called) or `bypass` (cache not used)."), ("x-promptgate-prompt" = String, description = "When a registry prompt built the request: `name@version`."), ("x-promptgate-prompt-sha256" = String, description = "When a registry prompt built the request: the version's content hash (64 hex digits)."), ("x-promptgate-cost-usd" = String, description = "Non-streamed answers whose usage is known (reported, or counted locally) and whose model has a price: the cost as an exact decimal string (`0.000144`); `0` on a cache hit."), ("x-promptgate-grounding" = String, description = "Non-streamed answers scored against grounding context: the grounding score in [0, 1] with four decimals (the probability that the answer is supported)."), ("x-promptgate-flagged" = String, description = "With `x-promptgate-grounding`: `true` when the score is below the threshold. With the judge tier, the combined flag (`[grounding.judge].flag` rule)."), ("x-promptgate-judge" = String, description = "Judge tier (`[grounding.judge]`), on answers the judge checks: the judge score with four decimals when the judge ran synchronously (non-streamed answers), `pending` when the verdict will land on the request record (always for streams), `error` when a synchronous judge gave no verdict (then `x-promptgate-judge-error` names why)."), ("x-promptgate-judge-error" = String, description = "With `x-promptgate-judge: error`: `upstream_error`, `timeout`, `invalid_verdict` or `budget_exceeded`.")), content((doc::UpstreamBody = "application/json", example = json!({"object": "list", "model": "mock-embedding", "data": [{"object": "embedding", "index": 0, "embedding": [0.01, -0.02]}], "usage": {"prompt_tokens": 6, "total_tokens": 6}})))),
        (status = 400, response = responses::ModelBadRequest), (status = 401, response = responses::Unauthorized), (status = 404, response = responses::ModelNotFound), (status = 413, response = responses::PayloadTooLarge), (status = 429, response = responses::TooManyRequests), (status = "4XX", response = responses::UpstreamClientError), (status = 502, response = responses::BadGateway), (status = 504, response = responses::GatewayTimeout),
    ),
)]
pub async fn embeddings(State(s): State<AppState>, Auth(c): Auth, r: HeadersAndBody) -> Response {
    call(s, c, Endpoint::Embeddings, r).await
}

/// Create a response (OpenAI Responses API)
///
/// Forwarded field-for-field to the upstream that `model` routes to. Routing, forwarding, error mapping and recording are described under the `model` tag. Supports `stream: true` (see the `model` tag for the SSE details). `model` may be absent (a stored `prompt`, `previous_response_id` or `conversation` names it): the call then goes unchanged to the catch-all upstream (`models = ["*"]`; without one, 400 with `param: model`), is not cached, and is recorded by the model its answer names.
#[utoipa::path(
    post, path = "/v1/responses", tag = "model", operation_id = "createResponse",
    params(("x-request-id" = Option<String>, Header, description = "Optional client-chosen id for this call. Used as the request record's id and echoed when it is 1–128 characters of `A–Z a–z 0–9 - _ . :`; any other value is replaced by a new UUIDv7 (not rejected).", max_length = 128)),
    request_body(content = doc::ResponseRequest, content_type = "application/json", example = json!({"model": "mock-1", "input": "Hello"})),
    responses(
        (status = 200, description = "The upstream's answer, forwarded unchanged (status, headers except hop-by-hop ones, `set-cookie`, `date` and `server`, and body).", headers(("x-request-id" = String, description = "The request record's id (the client's `x-request-id` when acceptable, else a UUIDv7)."), ("x-promptgate-cache" = String, description = "`hit` (answered from the cache), `miss` (cache consulted, upstream called) or `bypass` (cache not used)."), ("x-promptgate-prompt" = String, description = "When a registry prompt built the request: `name@version`."), ("x-promptgate-prompt-sha256" = String, description = "When a registry prompt built the request: the version's content hash (64 hex digits)."), ("x-promptgate-cost-usd" = String, description = "Non-streamed answers whose usage is known (reported, or counted locally) and whose model has a price: the cost as an exact decimal string (`0.000144`); `0` on a cache hit."), ("x-promptgate-grounding" = String, description = "Non-streamed answers scored against grounding context: the grounding score in [0, 1] with four decimals (the probability that the answer is supported)."), ("x-promptgate-flagged" = String, description = "With `x-promptgate-grounding`: `true` when the score is below the threshold. With the judge tier, the combined flag (`[grounding.judge].flag` rule)."), ("x-promptgate-judge" = String, description = "Judge tier (`[grounding.judge]`), on answers the judge checks: the judge score with four decimals when the judge ran synchronously (non-streamed answers), `pending` when the verdict will land on the request record (always for streams), `error` when a synchronous judge gave no verdict (then `x-promptgate-judge-error` names why)."), ("x-promptgate-judge-error" = String, description = "With `x-promptgate-judge: error`: `upstream_error`, `timeout`, `invalid_verdict` or `budget_exceeded`.")), content((doc::UpstreamBody = "application/json", example = json!({"id": "resp_mock…", "object": "response", "status": "completed", "model": "mock-1", "output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "…"}]}], "usage": {"input_tokens": 2, "output_tokens": 20, "total_tokens": 22}})), (String = "text/event-stream", example = json!("data: {\"id\":\"chatcmpl-mock4e79873118cd\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"grounded\"},\"finish_reason\":null}]}\n\ndata: {\"id\":\"chatcmpl-mock4e79873118cd\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n: promptgate {\"cache\":\"bypass\",\"cost_usd\":\"0.000052\",\"request_id\":\"01a21c7a-f2cc-71c8-b3dc-b6f7551ad953\",\"usage\":{\"cached_tokens\":0,\"completion_tokens\":22,\"prompt_tokens\":8}}\n\ndata: [DONE]\n\n")))),
        (status = 400, response = responses::ModelBadRequest), (status = 401, response = responses::Unauthorized), (status = 404, response = responses::ModelNotFound), (status = 413, response = responses::PayloadTooLarge), (status = 429, response = responses::TooManyRequests), (status = "4XX", response = responses::UpstreamClientError), (status = 502, response = responses::BadGateway), (status = 504, response = responses::GatewayTimeout),
    ),
)]
pub async fn responses(State(s): State<AppState>, Auth(c): Auth, r: HeadersAndBody) -> Response {
    call(s, c, Endpoint::Responses, r).await
}
