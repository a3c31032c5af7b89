//! The error answers many operations share, as OpenAPI response components
//! (`#/components/responses/…`): operations name them with
//! `(status = 401, response = responses::Unauthorized)`.

use serde_json::json;
use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

/// A shared answer: its description, the schema of its JSON body, named
/// examples and the headers it carries (name, description).
fn shared(
    description: &str,
    schema: &str,
    examples: Vec<(&str, serde_json::Value)>,
    headers: &[(&str, &str)],
) -> RefOr<Response> {
    let examples = examples
        .into_iter()
        .map(|(name, value)| (name, ExampleBuilder::new().value(Some(value)).build()));
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(schema)))
        .examples_from_iter(examples);
    let mut response = ResponseBuilder::new()
        .description(description)
        .content("application/json", content.build());
    for (name, about) in headers {
        let mut header = HeaderBuilder::new().schema(
            utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::Type::String),
        );
        if !about.is_empty() {
            header = header.description(Some(*about));
        }
        response = response.header(*name, header.build());
    }
    response.build().into()
}

/// Declares a unit type that stands for one shared answer.
macro_rules! shared_response {
    ($name:ident, $description:expr, $schema:expr, [$(($example:expr, $value:expr)),*], [$(($header:expr, $about:expr)),*]) => {
        pub struct $name;

        impl<'s> utoipa::ToResponse<'s> for $name {
            fn response() -> (&'s str, RefOr<Response>) {
                (
                    stringify!($name),
                    shared($description, $schema, vec![$(($example, $value)),*], &[$(($header, $about)),*]),
                )
            }
        }
    };
}

shared_response!(BadRequest, "Invalid request: malformed JSON, a missing or wrongly typed field (named in `param`), an unknown field, or a bad query parameter.", "Error", [("invalid_field", json!({"error": {"message": "team name must match [a-z0-9][a-z0-9._-]* and be at most 64 characters", "type": "invalid_request_error", "param": "name", "code": null}})), ("unknown_field", json!({"error": {"message": "unknown field `nam`, expected `name` at line 1 column 6", "type": "invalid_request_error", "param": "nam", "code": null}}))], []);
shared_response!(ModelBadRequest, "Rejected by the gateway before the upstream was called (the body is not a JSON object, `model` missing or not a string, `stream`/`store` not booleans, `stream_options` not an object, the endpoint's required field missing; an invalid `prompt` reference, `cache` or `grounding` field; prompt variables that are missing, undeclared or of the wrong type; an unknown version or label), or an upstream 400 passed through with the upstream's body.", "Error", [("malformed_json", json!({"error": {"message": "We could not parse the JSON body of your request: EOF while parsing an object at line 1 column 10", "type": "invalid_request_error", "param": null, "code": null}})), ("missing_model", json!({"error": {"message": "you must provide a model parameter", "type": "invalid_request_error", "param": "model", "code": null}})), ("empty_messages", json!({"error": {"message": "'messages' must not be empty.", "type": "invalid_request_error", "param": "messages", "code": null}})), ("missing_variable", json!({"error": {"message": "missing required prompt variable `name`", "type": "invalid_request_error", "param": "prompt.variables.name", "code": null}})), ("unknown_label", json!({"error": {"message": "prompt `greet` has no label `staging`", "type": "invalid_request_error", "param": "prompt", "code": null}})), ("bad_grounding_mode", json!({"error": {"message": "'grounding.mode' must be \"score\" or \"off\", got \"strict\"", "type": "invalid_request_error", "param": "grounding.mode", "code": null}}))], []);
shared_response!(Unauthorized, "No key, or an unknown or revoked key. The key is read from `Authorization: Bearer …`, or from `x-api-key` when there is no `Authorization` header. Carries `www-authenticate: Bearer`.", "Error", [], [("www-authenticate", "")]);
shared_response!(
    Forbidden,
    "A team key on an admin-only endpoint.",
    "Error",
    [(
        "permission_denied",
        json!({"error": {"message": "this endpoint needs the admin key", "type": "permission_error", "param": null, "code": "permission_denied"}})
    )],
    []
);
shared_response!(NotFound, "The resource does not exist, or belongs to another team (a team key is never told that another team's data exists).", "Error", [("not_found", json!({"error": {"message": "request `01a21c7b-…` not found", "type": "invalid_request_error", "param": null, "code": "not_found"}}))], []);
shared_response!(ModelNotFound, "No upstream route matches `model` (`model_not_found`), the registry prompt the body names does not exist (`not_found`), or (on `GET /v1/models/{id}`) the upstream answered 404. On the model endpoints an upstream 404 is passed through with the upstream's own body.", "Error", [("model_not_found", json!({"error": {"message": "The model `nomodel` does not exist or you do not have access to it.", "type": "invalid_request_error", "param": "model", "code": "model_not_found"}})), ("prompt_not_found", json!({"error": {"message": "prompt `nope` not found", "type": "invalid_request_error", "param": null, "code": "not_found"}}))], []);
shared_response!(
    Conflict,
    "The team already exists.",
    "Error",
    [(
        "conflict",
        json!({"error": {"message": "team `search` already exists", "type": "invalid_request_error", "param": null, "code": "conflict"}})
    )],
    []
);
shared_response!(PromptConflict, "The prompt comes from a file in the `prompts/` folder: its versions are written by the file sync only. (Its labels can still be moved through the API.)", "Error", [("file_sourced", json!({"error": {"message": "prompt `support/rag-answer` comes from a file in prompts/; change the file (then run `promptgate prompts sync` or restart) instead of writing through the API", "type": "invalid_request_error", "param": null, "code": "conflict"}}))], []);
shared_response!(PayloadTooLarge, "The body exceeds `limits.max_body_bytes` (default 33554432). A declared `Content-Length` over the limit is refused before the body is read. The rest of a refused body is read and discarded in the background (at most 256 MiB, 30 s in all, 5 s without data; not after `Expect: 100-continue`), so that a client still sending reads this answer rather than a connection reset.", "Error", [("too_large", json!({"error": {"message": "request body exceeds the limit of 33554432 bytes", "type": "invalid_request_error", "param": null, "code": "request_too_large"}}))], []);
shared_response!(TooManyRequests, "A `[[rate_limits]]` rule is reached (`type: \"requests\"` for RPM and concurrency, `\"tokens\"` for TPM; `code: \"rate_limit_exceeded\"`; the upstream was not called; `Retry-After`, `retry-after-ms` and the `x-ratelimit-*` headers say when to come back); or the team's budget for the period cannot cover this request's worst-case cost (`type: \"insufficient_quota\"`, `code: \"budget_exceeded\"`; the upstream was not called; cache hits are still served); or the upstream's own 429 (after the retries its `retry` policy allows), passed through with its status, headers (e.g. `retry-after`, rate-limit headers) and body.", "Error", [("rate_limited", json!({"error": {"message": "Rate limit reached for requests on key:key_01 (rpm 100): used 100 of 100 in the last minute. Please try again in 1.2s.", "type": "requests", "param": null, "code": "rate_limit_exceeded"}})), ("budget_exceeded", json!({"error": {"message": "team `support` has used its month budget of 0.01 USD", "type": "insufficient_quota", "param": null, "code": "budget_exceeded"}}))], [("x-request-id", "The request record's id (the client's `x-request-id` when acceptable, else a UUIDv7)."), ("retry-after", "Rate limits: seconds until a call would be admitted."), ("retry-after-ms", "Rate limits: the same in milliseconds."), ("x-ratelimit-limit-requests", "Rate limits: OpenAI's rate-limit headers of the rule that refused the call (also `x-ratelimit-remaining-requests`, `x-ratelimit-reset-requests`, `x-ratelimit-limit-tokens`, `x-ratelimit-remaining-tokens`, `x-ratelimit-reset-tokens`).")]);
shared_response!(UpstreamCoolingDown, "Every upstream the call could go to is cooling down after repeated failures (`upstreams[].cooldown`); the upstream was not called. `Retry-After` says when the next probe is due.", "Error", [("cooling_down", json!({"error": {"message": "upstream `openai` is cooling down after repeated failures; try again in 12 s", "type": "upstream_error", "param": null, "code": "upstream_cooling_down"}}))], [("x-request-id", "The request record's id (the client's `x-request-id` when acceptable, else a UUIDv7)."), ("retry-after", "Seconds until the next probe of the upstream.")]);
shared_response!(UpstreamClientError, "Any other upstream 4xx (except 401/403, which become 502), passed through with its status, headers and body.", "Error", [], [("x-request-id", "The request record's id (the client's `x-request-id` when acceptable, else a UUIDv7).")]);
shared_response!(BadGateway, "The upstream could not be reached, broke the connection, answered 5xx, or refused the gateway's own credential (upstream 401/403); or it answered 2xx with a body that is not JSON (an HTML page, say) or, for a stream, with a first event that is not an SSE event with JSON data. The upstream's bytes are never shown; the request record's `error` says why.", "Error", [("upstream_5xx", json!({"error": {"message": "upstream `mock` failed with status 500: mock upstream error 500", "type": "upstream_error", "param": null, "code": "upstream_unavailable"}})), ("credential_refused", json!({"error": {"message": "upstream `openai` refused the gateway's credential (status 401)", "type": "upstream_error", "param": null, "code": "upstream_unavailable"}})), ("not_json", json!({"error": {"message": "upstream `vllm` answered 200 with a body that is not JSON (content-type text/html)", "type": "upstream_error", "param": null, "code": "upstream_unavailable"}}))], []);
shared_response!(GatewayTimeout, "The upstream sent no response headers, no complete non-streamed body, or (for a stream) no first event within its `timeout_s` of the request being sent: a total deadline, so a body trickling in byte by byte is cut too. The request record's outcome is `timeout`.", "Error", [("timeout", json!({"error": {"message": "upstream did not answer within 300 s", "type": "upstream_error", "param": null, "code": "upstream_timeout"}}))], []);
shared_response!(
    ServiceUnavailable,
    "The store does not answer.",
    "Error",
    [(
        "store",
        json!({"error": {"message": "service unavailable: store unreachable", "type": "server_error", "param": null, "code": null}})
    )],
    []
);
shared_response!(
    MethodNotAllowed,
    "The path exists but not with this method. The `allow` header lists the methods it has.",
    "Error",
    [(
        "method_not_allowed",
        json!({"error": {"message": "PUT is not allowed on /v1/teams", "type": "invalid_request_error", "param": null, "code": "method_not_allowed"}})
    )],
    [("allow", "")]
);
