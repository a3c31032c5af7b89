//! The request pipeline: everything between "the caller is authenticated" and
//! "bytes go back to the client", in the order it happens.
//!
//! 1. [`body`]: read the top-level JSON fields; validate what the proxy needs.
//! 2. route the model to an upstream ([`crate::providers::Routes`]).
//! 3. rewrite the body only where needed (extension fields out, stream usage on).
//! 4. call the upstream; map its failures by who caused them.
//! 5. answer: a whole JSON body, or the stream [`stream::TeeStream`].
//! 6. [`record`]: one request record per call, sent to the batch writer.

pub mod body;
pub mod caching;
pub mod estimate;
pub mod grounding_check;
pub mod meters;
pub mod prompting;
pub mod record;
pub mod sse;
pub mod stream;
pub mod usage;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use std::sync::Arc;

use crate::auth::Caller;
use crate::cache::{self, Flight, LeaderGuard, ResponseCache};
use crate::error::ApiError;
use crate::providers::{
    forwardable_headers, BodyStream, Upstream, UpstreamError, UpstreamResponse,
};
use crate::state::AppState;

use body::RequestBody;
use caching::CacheStatus;
use record::{Outcome, Recorder};
use stream::{Seen, StreamEnd, StreamHooks, TeeStream};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The model endpoints the gateway handles itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Chat,
    Completions,
    Embeddings,
    Responses,
}

impl Endpoint {
    /// Every endpoint, in declaration order (`e as usize` indexes it).
    pub const ALL: [Endpoint; 4] = [
        Endpoint::Chat,
        Endpoint::Completions,
        Endpoint::Embeddings,
        Endpoint::Responses,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Chat => "chat.completions",
            Endpoint::Completions => "completions",
            Endpoint::Embeddings => "embeddings",
            Endpoint::Responses => "responses",
        }
    }

    /// The endpoint's path below an upstream's base URL.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Chat => "/chat/completions",
            Endpoint::Completions => "/completions",
            Endpoint::Embeddings => "/embeddings",
            Endpoint::Responses => "/responses",
        }
    }

    /// Chat and completions streams report usage only when asked to.
    fn usage_needs_asking(self) -> bool {
        matches!(self, Endpoint::Chat | Endpoint::Completions)
    }
}

/// The client's `x-request-id` when it is a sane token, else a new UUIDv7.
pub fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// The key that keeps a caller on one side of a weighted rollout: the
/// request's `metadata.user`, else its API key.
fn sticky_key(body: &RequestBody<'_>, recorder: &Recorder) -> String {
    body.get("metadata")
        .and_then(|m| serde_json::from_str::<serde_json::Value>(m.get()).ok())
        .and_then(|m| m.get("user").and_then(|u| u.as_str()).map(str::to_owned))
        .or_else(|| body.str_field("user").ok().flatten())
        .unwrap_or_else(|| recorder.key_id().to_owned())
}

/// Runs one model call end to end. Never fails: errors become OpenAI-shaped
/// responses, and every outcome leaves a request record.
pub async fn handle(
    state: &AppState,
    caller: &Caller,
    endpoint: Endpoint,
    headers: &HeaderMap,
    raw: Bytes,
) -> Response {
    let id = request_id(headers);
    let mut recorder = Recorder::new(
        state.records.clone(),
        state.prices.clone(),
        id.clone(),
        caller,
        endpoint,
    );
    let _in_flight = InFlight::start();
    let mut resp = match proxy(state, endpoint, headers, raw, &mut recorder).await {
        Ok(Answer::Done {
            mut response,
            usage,
        }) => {
            set_cache_header(&mut response, recorder.cache());
            set_prompt_headers(&mut response, &recorder);
            if let Some((score, flagged)) = recorder.grounding_verdict() {
                let h = response.headers_mut();
                if let Ok(v) = HeaderValue::from_str(&format!("{score:.4}")) {
                    h.insert(GROUNDING_HEADER, v);
                }
                h.insert(
                    FLAGGED_HEADER,
                    HeaderValue::from_static(if flagged { "true" } else { "false" }),
                );
            }
            if let Some(cost) = usage.and_then(|u| recorder.charged(u)) {
                if let Ok(v) = HeaderValue::from_str(&crate::costs::format_usd(cost)) {
                    response.headers_mut().insert(COST_HEADER, v);
                }
            }
            recorder
                .finish(response.status().as_u16(), Outcome::Ok, usage, None)
                .await;
            response
        }
        Ok(Answer::Stream(s)) => stream_answer(s, recorder).await,
        Ok(Answer::Failed {
            response,
            outcome,
            error,
        }) => {
            recorder
                .finish(response.status().as_u16(), outcome, None, Some(error))
                .await;
            response
        }
        Err(err) => {
            let outcome = match &err {
                ApiError::Upstream(_) => Outcome::UpstreamError,
                ApiError::UpstreamTimeout(_) => Outcome::Timeout,
                _ => Outcome::Rejected,
            };
            let status = err.status().as_u16();
            let message = err.to_string();
            if matches!(outcome, Outcome::UpstreamError | Outcome::Timeout) {
                metrics::counter!("promptgate_upstream_errors_total", "kind" => outcome.as_str())
                    .increment(1);
            }
            recorder.finish(status, outcome, None, Some(message)).await;
            err.into_response()
        }
    };
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    resp
}

/// `x-promptgate-prompt: name@version` and its content hash, when a prompt was used.
fn set_prompt_headers(response: &mut Response, recorder: &Recorder) {
    if let Some((id, sha)) = recorder.prompt() {
        let h = response.headers_mut();
        if let (Ok(id), Ok(sha)) = (HeaderValue::from_str(&id), HeaderValue::from_str(sha)) {
            h.insert(PROMPT_HEADER, id);
            h.insert(PROMPT_SHA_HEADER, sha);
        }
    }
}

pub const GROUNDING_HEADER: HeaderName = HeaderName::from_static("x-promptgate-grounding");
pub const FLAGGED_HEADER: HeaderName = HeaderName::from_static("x-promptgate-flagged");
pub const COST_HEADER: HeaderName = HeaderName::from_static("x-promptgate-cost-usd");
pub const PROMPT_HEADER: HeaderName = HeaderName::from_static("x-promptgate-prompt");
pub const PROMPT_SHA_HEADER: HeaderName = HeaderName::from_static("x-promptgate-prompt-sha256");

fn set_cache_header(response: &mut Response, status: CacheStatus) {
    response
        .headers_mut()
        .insert(CACHE_HEADER, HeaderValue::from_static(status.as_str()));
}

pub const CACHE_HEADER: HeaderName = HeaderName::from_static("x-promptgate-cache");

enum Answer {
    Done {
        response: Response,
        usage: Option<usage::Usage>,
    },
    /// An event stream (live from the upstream, or replayed from the cache);
    /// the record travels with it and is sent when it ends.
    Stream(StreamAnswer),
    /// The upstream answered with an error that is passed on as it is.
    Failed {
        response: Response,
        outcome: Outcome,
        error: String,
    },
}

struct StreamAnswer {
    body: BodyStream,
    /// See [`UpstreamResponse::handed_over`].
    handed_over: bool,
    status: StatusCode,
    headers: HeaderMap,
    idle: std::time::Duration,
    strip_usage: bool,
    endpoint: Endpoint,
    /// Set when this request leads the fetch of a cacheable answer.
    store: Option<PendingStore>,
    scorer: Arc<crate::grounding::Scorer>,
}

/// A cache entry to write once the answer is complete.
struct PendingStore {
    cache: Arc<ResponseCache>,
    /// The registry prompt the request used (for `DELETE /v1/cache?prompt=`).
    prompt: Option<String>,
    key: String,
    ttl: std::time::Duration,
    guard: LeaderGuard,
}

impl PendingStore {
    /// Stores a complete answer and hands it to the requests waiting for it.
    async fn complete(self, body: Bytes) {
        let entry = self.cache.put(&self.key, body, self.prompt, self.ttl).await;
        self.guard.finish(Some(entry));
    }
}

async fn proxy(
    state: &AppState,
    endpoint: Endpoint,
    headers: &HeaderMap,
    raw: Bytes,
    recorder: &mut Recorder,
) -> Result<Answer, ApiError> {
    let mut body = RequestBody::parse(&raw)?;

    // Prompt: rendered messages in front, the version's config as defaults.
    let mut prompt_ttl = None;
    let asked_grounding = grounding_check::take_context(&mut body)?;
    let mut prompt_context = None;
    if let Some(prompt) = prompting::take_prompt_ref(&mut body, endpoint)? {
        let sticky = sticky_key(&body, recorder);
        let live = prompting::apply(&state.registry, &prompt, &sticky, endpoint, &mut body)?;
        prompt_ttl = prompting::cache_ttl(&live);
        recorder.set_prompt(&live.version);
        // A prompt that declares its RAG variable is scored against it.
        prompt_context = live
            .version
            .grounding_variable
            .as_ref()
            .and_then(|v| prompt.variables.get(v))
            .and_then(grounding_check::passages);
    }
    let context = if asked_grounding.off {
        None
    } else {
        asked_grounding.context.or(prompt_context)
    };
    if let Some(ctx) = context.filter(|c| !c.is_empty()) {
        recorder.set_grounding_context(ctx);
    }

    let mut model = body
        .str_field("model")?
        .ok_or_else(|| ApiError::invalid("you must provide a model parameter", Some("model")))?;
    // `[aliases]`: a stable name for clients, the real model for upstreams,
    // prices and records.
    if let Some(target) = state.config.aliases.get(&model) {
        model = target.clone();
        body.set(
            "model",
            serde_json::value::to_raw_value(&model).map_err(ApiError::internal)?,
        );
    }
    recorder.set_model(&model);
    let stream = body.bool_field("stream")?.unwrap_or(false);
    match endpoint {
        Endpoint::Chat => body.require_array("messages")?,
        Endpoint::Completions => body.require_present("prompt")?,
        Endpoint::Embeddings => body.require_present("input")?,
        Endpoint::Responses => {}
    }

    let route = state
        .routes
        .resolve(&model)
        .ok_or_else(|| ApiError::ModelNotFound(model.clone()))?;
    let upstream = route.upstream.clone();
    recorder.set_route(&model, &upstream.name, stream);

    // `metadata` is promptgate's (recorded, not forwarded) unless the call
    // is stored by OpenAI, where `metadata` belongs to OpenAI: chat with
    // `store: true`, and the Responses API, which stores unless told not to.
    let store_default = endpoint == Endpoint::Responses;
    let keep_metadata = body.bool_field("store")?.unwrap_or(store_default);
    let metadata = if keep_metadata {
        body.get("metadata").map(|m| m.get().to_owned())
    } else {
        body.take("metadata").map(|m| m.get().to_owned())
    };
    if let Some(m) = metadata.filter(|m| m != "null") {
        if let Ok(serde_json::Value::Object(obj)) = serde_json::from_str::<serde_json::Value>(&m) {
            let tags = obj
                .get("tags")
                .and_then(|t| t.as_array())
                .into_iter()
                .flatten();
            recorder.set_tags(tags.filter_map(|t| t.as_str().map(str::to_owned)).collect());
        }
        recorder.set_metadata(m);
    }
    let cache_policy = caching::policy(
        endpoint,
        &mut body,
        headers,
        &model,
        prompt_ttl,
        &state.cache_rules,
    )?;
    body.strip_extensions(endpoint == Endpoint::Responses);

    if let Some(rewritten) = &route.rewritten_model {
        let value =
            serde_json::value::to_raw_value(rewritten.as_ref()).map_err(ApiError::internal)?;
        body.set("model", value);
    }
    let client_wants_usage = !stream
        || !endpoint.usage_needs_asking()
        || body
            .get("stream_options")
            .and_then(|o| serde_json::from_str::<serde_json::Value>(o.get()).ok())
            .and_then(|o| o.get("include_usage").and_then(serde_json::Value::as_bool))
            .unwrap_or(false);

    // Cache: a hit answers here; a miss may make this request the one that
    // fetches the answer for everyone asking the same thing right now.
    let mut pending_store = None;
    if let Some(policy) = cache_policy {
        let scope = if state.config.cache.shared_namespace {
            "*"
        } else {
            recorder.team()
        };
        let key = cache::key::cache_key(
            scope,
            &format!("{}:{}", upstream.name, endpoint.as_str()),
            body.fields(),
        )
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("cache key of a parsed body")))?;
        if policy.lookup {
            if let Some(entry) = state.cache.get(&key).await {
                return cache_hit(
                    state,
                    endpoint,
                    &entry,
                    stream,
                    client_wants_usage,
                    recorder,
                );
            }
        }
        match state.cache.begin(&key) {
            Flight::Leader(guard) => {
                // Another leader may have published between our lookup and now.
                if policy.lookup {
                    if let Some(entry) = state.cache.get(&key).await {
                        guard.finish(Some(entry.clone()));
                        return cache_hit(
                            state,
                            endpoint,
                            &entry,
                            stream,
                            client_wants_usage,
                            recorder,
                        );
                    }
                }
                if policy.store {
                    pending_store = Some(PendingStore {
                        cache: state.cache.clone(),
                        prompt: recorder.prompt_name().map(str::to_owned),
                        key,
                        ttl: policy.ttl,
                        guard,
                    });
                }
            }
            Flight::Follower(rx) if policy.lookup => {
                // Bounded: a leader whose client stalls must not hold everyone.
                let waited =
                    tokio::time::timeout(upstream.timeout, cache::wait_for_leader(rx)).await;
                if let Ok(Some(entry)) = waited {
                    return cache_hit(
                        state,
                        endpoint,
                        &entry,
                        stream,
                        client_wants_usage,
                        recorder,
                    );
                }
            }
            Flight::Follower(_) => {}
        }
        recorder.set_cache(CacheStatus::Miss);
        metrics::counter!("promptgate_cache_lookups_total", "result" => "miss").increment(1);
    }

    if stream && endpoint.usage_needs_asking() {
        let options = body::stream_options_with_usage(body.get("stream_options"))?;
        body.set("stream_options", options);
    }
    // Worst case output: the stated limit (or the default cap) for each of
    // the `n` choices; embeddings generate nothing.
    let max_output = if endpoint == Endpoint::Embeddings {
        Some(0)
    } else {
        let limit = ["max_completion_tokens", "max_tokens", "max_output_tokens"]
            .iter()
            .find_map(|f| body.get(f).and_then(|v| v.get().parse::<i64>().ok()))
            .unwrap_or(DEFAULT_OUTPUT_CAP);
        let n = body
            .get("n")
            .and_then(|v| v.get().parse::<i64>().ok())
            .unwrap_or(1)
            .max(1);
        Some(limit.saturating_mul(n))
    };
    let upstream_body = body.to_bytes(&raw);
    drop(body);
    recorder.set_request_body(upstream_body.clone());
    reserve_budget(
        state,
        endpoint,
        &model,
        &upstream_body,
        max_output,
        recorder,
    )
    .await?;

    let mut out_headers = forwardable_headers(headers);
    out_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let resp = upstream
        .send(Method::POST, endpoint.path(), out_headers, upstream_body)
        .await
        .map_err(|e| upstream_failure(&upstream, e))?;

    if !resp.status.is_success() {
        return upstream_error_answer(&upstream, resp).await;
    }
    if stream {
        let is_sse = resp
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if is_sse {
            return Ok(Answer::Stream(StreamAnswer {
                body: resp.body,
                handed_over: resp.handed_over,
                status: resp.status,
                headers: resp.headers,
                idle: upstream.timeout,
                strip_usage: !client_wants_usage,
                endpoint,
                store: pending_store,
                scorer: state.grounding.clone(),
            }));
        }
    }
    let UpstreamResponse {
        status,
        headers: up_headers,
        body: up_body,
        ..
    } = resp;
    let bytes = collect(up_body, upstream.timeout)
        .await
        .map_err(|e| upstream_failure(&upstream, e))?;
    let usage = match usage::from_body(&bytes) {
        Some(u) => Some(u),
        None => estimate_from_answer(endpoint, bytes.clone(), recorder).await,
    };
    if let Some(store) = pending_store {
        store.complete(bytes.clone()).await;
    }
    score_answer(state, endpoint, &bytes, recorder);
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    copy_response_headers(&up_headers, response.headers_mut());
    Ok(Answer::Done { response, usage })
}

/// Output tokens assumed for the worst case when the request sets no limit.
const DEFAULT_OUTPUT_CAP: i64 = 16_384;

/// Holds the request's worst-case cost against its team's budget (only teams
/// with a budget pay for the prompt-token count this needs).
async fn reserve_budget(
    state: &AppState,
    endpoint: Endpoint,
    model: &str,
    upstream_body: &Bytes,
    max_output: Option<i64>,
    recorder: &mut Recorder,
) -> Result<(), ApiError> {
    if state.budgets.limit(recorder.team()).is_none() {
        return Ok(());
    }
    let team = recorder.team().to_owned();
    let Some(price) = state.prices.lookup(model) else {
        // Unpriced: nothing to hold; the record shows it as unpriced.
        return Ok(());
    };
    let (owned_model, body) = (model.to_owned(), upstream_body.clone());
    let prompt_tokens =
        tokio::task::spawn_blocking(move || estimate::prompt_tokens(endpoint, &owned_model, &body))
            .await
            .map_err(ApiError::internal)?;
    let worst = crate::costs::worst_case_cost(
        price,
        prompt_tokens,
        max_output.unwrap_or(DEFAULT_OUTPUT_CAP),
    );
    match state
        .budgets
        .reserve(&team, worst)
        .await
        .map_err(ApiError::Internal)?
    {
        Ok(Some(reservation)) => {
            recorder.set_reservation(state.budgets.clone(), reservation);
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(exceeded) => Err(ApiError::BudgetExceeded(exceeded.to_string())),
    }
}

/// Counts tokens locally for an answer that came without `usage`.
/// Tokenizing runs on the blocking pool: it is CPU work, and the first use
/// of an encoding loads it.
async fn estimate_from_answer(
    endpoint: Endpoint,
    bytes: Bytes,
    recorder: &mut Recorder,
) -> Option<usage::Usage> {
    let model = recorder.model()?.to_owned();
    let request = recorder.request_body().cloned();
    let counted = tokio::task::spawn_blocking(move || {
        let answer: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        let text = estimate::answer_text(endpoint, &answer);
        Some(estimate::usage(endpoint, &model, request.as_deref(), &text))
    })
    .await
    .ok()
    .flatten()?;
    recorder.mark_estimated();
    Some(counted)
}

/// Scores a complete JSON answer against the request's context, if any.
fn score_answer(state: &AppState, endpoint: Endpoint, bytes: &[u8], recorder: &mut Recorder) {
    let Some(context) = recorder.grounding_context() else {
        return;
    };
    let Ok(answer) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return;
    };
    let text = estimate::answer_text(endpoint, &answer);
    if let Some(report) = grounding_check::score(&state.grounding, context, &text) {
        recorder.set_grounding(report);
    }
}

/// Answers from a cache entry: as JSON, or replayed as a stream.
fn cache_hit(
    state: &AppState,
    endpoint: Endpoint,
    entry: &cache::Entry,
    stream: bool,
    include_usage: bool,
    recorder: &mut Recorder,
) -> Result<Answer, ApiError> {
    recorder.set_cache(CacheStatus::Hit);
    metrics::counter!("promptgate_cache_lookups_total", "result" => "hit").increment(1);
    let usage = usage::from_body(&entry.body);
    if stream && endpoint != Endpoint::Embeddings {
        let answer: serde_json::Value =
            serde_json::from_slice(&entry.body).map_err(ApiError::internal)?;
        let frames = cache::replay::replay(endpoint, &answer, include_usage);
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream; charset=utf-8"),
        );
        return Ok(Answer::Stream(StreamAnswer {
            body: stream::replayed(frames),
            handed_over: false,
            status: StatusCode::OK,
            headers,
            idle: std::time::Duration::from_secs(60),
            strip_usage: false,
            endpoint,
            store: None,
            scorer: state.grounding.clone(),
        }));
    }
    let mut response = Response::new(Body::from(entry.body.clone()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    score_answer(state, endpoint, &entry.body, recorder);
    Ok(Answer::Done { response, usage })
}

/// What happens when a proxied stream ends: the record, and the cache entry
/// when this request was fetching one.
struct ProxyHooks {
    recorder: Option<Recorder>,
    scorer: Arc<crate::grounding::Scorer>,
    endpoint: Endpoint,
    store: Option<PendingStore>,
}

impl StreamHooks for ProxyHooks {
    fn trailer_facts(&mut self, seen: &Seen) -> stream::TrailerFacts {
        let mut facts = stream::TrailerFacts::default();
        if let Some(rec) = &self.recorder {
            facts.request_id = Some(rec.id().to_owned());
            facts.cache = Some(rec.cache().as_str());
        }
        if let Some(cost) = seen.usage.and_then(|u| self.recorder.as_ref()?.charged(u)) {
            facts.cost_usd = Some(crate::costs::format_usd(cost));
        }
        if let Some(rec) = self.recorder.as_mut() {
            if let Some(context) = rec.grounding_context() {
                let text = estimate::streamed_text(self.endpoint, &seen.chunks());
                if let Some(report) = grounding_check::score(&self.scorer, context, &text) {
                    facts.grounding = Some(stream::GroundingFacts {
                        flagged: report.flagged,
                        score: report.score,
                        threshold: report.threshold,
                    });
                    rec.set_grounding(report);
                }
            }
        }
        facts.usage = seen.usage.map(|u| stream::UsageFacts {
            cached_tokens: u.cached_tokens,
            completion_tokens: u.completion_tokens,
            prompt_tokens: u.prompt_tokens,
        });
        facts
    }

    fn end(mut self: Box<Self>, end: StreamEnd) {
        let needs_chunks = self.store.is_some() || end.seen.usage.is_none();
        let chunks = if needs_chunks {
            end.seen.chunks()
        } else {
            Vec::new()
        };
        if let (Some(store), Outcome::Ok) = (self.store.take(), end.outcome) {
            // Only a stream that reached its end is stored.
            if let Some(answer) = cache::replay::assemble(self.endpoint, &chunks) {
                let body = Bytes::from(answer.to_string());
                tokio::spawn(store.complete(body));
            }
        }
        if let Some(mut rec) = self.recorder.take() {
            if let Some(ttft) = end.seen.ttft {
                rec.set_ttft(ttft);
            }
            let model = rec.model().map(str::to_owned);
            match (end.seen.usage, model) {
                (None, Some(model)) => {
                    // No usage chunk (the client left, or the upstream sends
                    // none): count what was streamed, on the blocking pool.
                    let endpoint = self.endpoint;
                    tokio::task::spawn_blocking(move || {
                        let text = estimate::streamed_text(endpoint, &chunks);
                        let request = rec.request_body().cloned();
                        let usage = estimate::usage(endpoint, &model, request.as_deref(), &text);
                        rec.mark_estimated();
                        rec.finish_now(200, end.outcome, Some(usage), end.error);
                    });
                }
                (usage, _) => rec.finish_now(200, end.outcome, usage, end.error),
            }
        }
    }
}

async fn stream_answer(s: StreamAnswer, recorder: Recorder) -> Response {
    let cache_status = recorder.cache();
    let mut prompt_headers = Response::new(Body::empty());
    set_prompt_headers(&mut prompt_headers, &recorder);
    let started = recorder.started();
    let hooks = Box::new(ProxyHooks {
        recorder: Some(recorder),
        scorer: s.scorer,
        endpoint: s.endpoint,
        store: s.store,
    });
    let mut tee = TeeStream::new(s.body, hooks, started, s.idle, s.strip_usage);
    tee.gather_handed_over_chunks(s.handed_over);
    tee.prime().await;
    let mut response = Response::new(Body::from_stream(tee));
    *response.status_mut() = s.status;
    copy_response_headers(&s.headers, response.headers_mut());
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Tells nginx-style proxies in front of us not to buffer the stream.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    set_cache_header(&mut response, cache_status);
    response
        .headers_mut()
        .extend(prompt_headers.headers_mut().drain());
    response
}

/// Reads a whole upstream body, failing if no bytes arrive for `idle`.
async fn collect(
    mut body: crate::providers::BodyStream,
    idle: std::time::Duration,
) -> Result<Bytes, UpstreamError> {
    let mut first: Option<Bytes> = None;
    let mut buf: Vec<u8> = Vec::new();
    loop {
        match tokio::time::timeout(idle, body.next()).await {
            Err(_) => return Err(UpstreamError::Timeout),
            Ok(None) => break,
            Ok(Some(chunk)) => {
                let chunk = chunk?;
                // Most answers arrive in one piece: keep it without copying.
                match first.take() {
                    None if buf.is_empty() => first = Some(chunk),
                    prev => {
                        if let Some(p) = prev {
                            buf.extend_from_slice(&p);
                        }
                        buf.extend_from_slice(&chunk);
                    }
                }
            }
        }
    }
    Ok(first.unwrap_or_else(|| Bytes::from(buf)))
}

fn upstream_failure(upstream: &Upstream, err: UpstreamError) -> ApiError {
    match err {
        UpstreamError::Timeout => ApiError::UpstreamTimeout(upstream.timeout.as_secs()),
        other => ApiError::Upstream(other.to_string()),
    }
}

/// Upstream 4xx: passed through with status and body. Upstream 401/403 mean
/// the gateway's own credential was refused; that is not the client's fault
/// and the upstream's message may quote part of our key, so it becomes 502.
/// Upstream 5xx: 502 with the upstream's message.
async fn upstream_error_answer(
    upstream: &Upstream,
    resp: UpstreamResponse,
) -> Result<Answer, ApiError> {
    let UpstreamResponse {
        status,
        headers,
        body,
        ..
    } = resp;
    let bytes = collect(body, upstream.timeout)
        .await
        .map_err(|e| upstream_failure(upstream, e))?;
    let upstream_message = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned());
    metrics::counter!("promptgate_upstream_errors_total", "kind" => "status", "upstream" => upstream.name.clone())
        .increment(1);
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Err(ApiError::Upstream(format!(
            "upstream `{}` refused the gateway's credential (status {})",
            upstream.name,
            status.as_u16()
        )));
    }
    if status.is_client_error() {
        let mut response = Response::new(Body::from(bytes));
        *response.status_mut() = status;
        copy_response_headers(&headers, response.headers_mut());
        return Ok(Answer::Failed {
            response,
            outcome: Outcome::UpstreamError,
            error: upstream_message,
        });
    }
    Err(ApiError::Upstream(format!(
        "upstream `{}` failed with status {}: {}",
        upstream.name,
        status.as_u16(),
        upstream_message
    )))
}

pub fn copy_response_headers(from: &HeaderMap, to: &mut HeaderMap) {
    for (name, value) in from {
        if !matches!(
            name.as_str(),
            "content-length"
                | "transfer-encoding"
                | "connection"
                | "keep-alive"
                | "set-cookie"
                | "date"
                | "server"
        ) {
            to.insert(name.clone(), value.clone());
        }
    }
}

/// Counts a request in the in-flight gauge for as long as it is alive.
struct InFlight;

impl InFlight {
    fn start() -> InFlight {
        meters::call_meters().in_flight.increment(1.0);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        meters::call_meters().in_flight.decrement(1.0);
    }
}
