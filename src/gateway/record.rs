//! The request record of one call: filled in along the pipeline, sent to the
//! batch writer exactly once (on completion, on error, or when a stream is
//! dropped because the client went away).

use std::time::{Duration, Instant};

use crate::auth::Caller;
use crate::store::writer::RecordSink;
use crate::store::RequestRecord;

use super::caching::CacheStatus;
use super::usage::Usage;
use super::Endpoint;

/// Team recorded for calls made with the admin key.
pub const ADMIN_TEAM: &str = "_admin";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    UpstreamError,
    Timeout,
    ClientClosed,
    Rejected,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::UpstreamError => "upstream_error",
            Outcome::Timeout => "timeout",
            Outcome::ClientClosed => "client_closed",
            Outcome::Rejected => "rejected",
        }
    }
}

pub struct Recorder {
    sink: RecordSink,
    record: RequestRecord,
    started: Instant,
    endpoint: Endpoint,
    cache: CacheStatus,
}

impl Recorder {
    pub fn new(sink: RecordSink, id: String, caller: &Caller, endpoint: Endpoint) -> Recorder {
        let (team, key_id) = match caller {
            Caller::Admin => (ADMIN_TEAM.to_owned(), None),
            Caller::Team { team, key_id } => (team.to_string(), Some(key_id.to_string())),
        };
        Recorder {
            sink,
            record: RequestRecord {
                id,
                team,
                key_id,
                endpoint: endpoint.as_str().to_owned(),
                created_at: crate::time::now_ms(),
                outcome: Outcome::Ok.as_str().to_owned(),
                cache: Some(CacheStatus::Bypass.as_str().to_owned()),
                ..RequestRecord::default()
            },
            started: Instant::now(),
            endpoint,
            cache: CacheStatus::Bypass,
        }
    }

    pub fn id(&self) -> &str {
        &self.record.id
    }

    /// The team the request is accounted to (the cache scope too).
    pub fn team(&self) -> &str {
        &self.record.team
    }

    pub fn key_id(&self) -> &str {
        self.record.key_id.as_deref().unwrap_or(ADMIN_TEAM)
    }

    /// The prompt version that built the request.
    pub fn set_prompt(&mut self, v: &crate::registry::PromptVersion) {
        self.record.prompt_name = Some(v.name.clone());
        self.record.prompt_version = Some(v.version);
        self.record.prompt_sha256 = Some(v.sha256.clone());
    }

    /// `(name@version, sha256)` for the response headers.
    pub fn prompt(&self) -> Option<(String, &str)> {
        let name = self.record.prompt_name.as_deref()?;
        let version = self.record.prompt_version?;
        Some((
            format!("{name}@{version}"),
            self.record.prompt_sha256.as_deref().unwrap_or_default(),
        ))
    }

    pub fn cache(&self) -> CacheStatus {
        self.cache
    }

    pub fn set_cache(&mut self, status: CacheStatus) {
        self.cache = status;
        self.record.cache = Some(status.as_str().to_owned());
    }

    pub fn started(&self) -> Instant {
        self.started
    }

    pub fn set_route(&mut self, model: &str, upstream: &str, stream: bool) {
        self.record.model = Some(model.to_owned());
        self.record.upstream = Some(upstream.to_owned());
        self.record.stream = stream;
    }

    pub fn set_model(&mut self, model: &str) {
        self.record.model = Some(model.to_owned());
    }

    pub fn set_metadata(&mut self, json: String) {
        self.record.metadata = Some(json);
    }

    fn fill(&mut self, status: u16, outcome: Outcome, usage: Option<Usage>, error: Option<String>) {
        let r = &mut self.record;
        r.status = i32::from(status);
        r.outcome = outcome.as_str().to_owned();
        r.client_closed = outcome == Outcome::ClientClosed;
        r.latency_us = self.started.elapsed().as_micros() as i64;
        if let Some(u) = usage {
            r.prompt_tokens = Some(u.prompt_tokens);
            r.completion_tokens = Some(u.completion_tokens);
            r.cached_tokens = Some(u.cached_tokens);
            r.reasoning_tokens = Some(u.reasoning_tokens);
        }
        r.error = error;
        let endpoint = self.endpoint.as_str();
        metrics::counter!("promptgate_requests_total", "endpoint" => endpoint, "outcome" => outcome.as_str())
            .increment(1);
        metrics::histogram!("promptgate_request_duration_seconds", "endpoint" => endpoint)
            .record(self.started.elapsed().as_secs_f64());
    }

    pub fn set_ttft(&mut self, ttft: Duration) {
        self.record.ttft_us = Some(ttft.as_micros() as i64);
    }

    /// Sends the record, waiting for queue room if needed.
    pub async fn finish(
        mut self,
        status: u16,
        outcome: Outcome,
        usage: Option<Usage>,
        error: Option<String>,
    ) {
        self.fill(status, outcome, usage, error);
        self.sink.send(self.record).await;
    }

    /// Sends the record from synchronous code (stream completion or drop).
    pub fn finish_now(
        mut self,
        status: u16,
        outcome: Outcome,
        usage: Option<Usage>,
        error: Option<String>,
    ) {
        self.fill(status, outcome, usage, error);
        self.sink.send_now(self.record);
    }
}
