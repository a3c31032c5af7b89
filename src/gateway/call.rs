//! The per-call context the stages share ([`Call`]) and what the request
//! stage decided about the call ([`Plan`]).

use std::sync::Arc;

use axum::http::HeaderMap;

use crate::api::Endpoint;
use crate::auth::Caller;
use crate::cache::Policy;
use crate::providers::Upstream;
use crate::state::AppState;

use super::record::Recorder;

/// One model call on its way through the stages.
pub struct Call<'a> {
    pub state: &'a AppState,
    pub endpoint: Endpoint,
    /// The client's request headers.
    pub headers: &'a HeaderMap,
    /// The request record, filled in by each stage and sent at the end.
    pub recorder: Recorder,
    /// The cache TTL the registry prompt declares (set by the prompt stage).
    pub prompt_ttl: Option<u64>,
    /// Who is calling: a judge call made for this one is theirs too.
    pub caller: &'a Caller,
    /// The request's `grounding.tiers`, when it names them (set by the prompt stage).
    pub grounding_tiers: Option<crate::grounding::judge::Tiers>,
    /// Who answered after how many tries (set by the send stage when the
    /// call could be retried or fall back), for the reply's headers.
    pub answered_by: Option<(axum::http::HeaderValue, u32)>,
    /// The `x-ratelimit-*` headers, when a rate limit counted the call.
    pub rate_headers: Option<Box<axum::http::HeaderMap>>,
}

impl<'a> Call<'a> {
    pub fn new(
        state: &'a AppState,
        caller: &'a Caller,
        endpoint: Endpoint,
        headers: &'a HeaderMap,
        id: String,
    ) -> Call<'a> {
        let mut recorder = Recorder::new(
            state.records.clone(),
            state.prices.clone(),
            id,
            caller,
            endpoint,
        );
        if let Some(tracing) = &state.tracing {
            recorder.set_trace(tracing.begin(headers));
        }
        Call {
            state,
            endpoint,
            headers,
            recorder,
            prompt_ttl: None,
            caller,
            grounding_tiers: None,
            answered_by: None,
            rate_headers: None,
        }
    }
}

/// What the request asks for, once read and routed.
pub struct Plan {
    /// The model after `[aliases]` (what prices and records use).
    pub model: String,
    pub upstream: Arc<Upstream>,
    pub stream: bool,
    /// The client asked for usage in the stream (or it is not a stream, or
    /// the endpoint always reports it); usage the gateway asked for on its
    /// own behalf is removed from what the client sees otherwise.
    pub client_wants_usage: bool,
    /// `None`: the cache is bypassed.
    pub cache: Option<Policy>,
    /// The alias's further targets, tried in order when `upstream` fails
    /// before its answer started (empty for most calls).
    pub fallbacks: Vec<Fallback>,
}

/// One further target of an alias.
pub struct Fallback {
    /// The model as the alias names it (what prices and records use).
    pub model: String,
    pub upstream: Arc<Upstream>,
    /// The model the upstream should see, when it differs.
    pub rewritten: Option<String>,
}
