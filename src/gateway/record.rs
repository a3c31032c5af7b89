//! The request record of one call: filled in along the pipeline, sent to the
//! batch writer exactly once (on completion, on error, or when a stream is
//! dropped because the client went away).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rust_decimal::Decimal;

use crate::costs::{pico, PriceTable};
use crate::costs::{Budgets, Reservation};

use crate::auth::{Caller, ADMIN_TEAM};
use crate::store::writer::RecordSink;
use crate::store::RequestRecord;

use crate::api::Endpoint;
use crate::api::Usage;
use crate::cache::CacheStatus;

pub use super::outcome::Outcome;

pub struct Recorder {
    sink: RecordSink,
    /// Set once the record went to the writer; a recorder dropped before
    /// that (the client left while we waited for the upstream) still writes.
    sent: bool,
    /// Prices for the ledger entry.
    prices: Arc<PriceTable>,
    /// The last usage priced and its cost (see `cost_of`).
    priced: std::cell::Cell<Option<(Usage, Option<Decimal>)>>,
    /// The body sent upstream, kept (refcounted) for token estimation when
    /// the upstream reports no usage.
    request_body: Option<Bytes>,
    /// Budget money held for this request, settled with the real cost.
    reservation: Option<(Arc<Budgets>, Reservation)>,
    /// The call's place in its rate limits, settled with the real usage.
    limit_hold: Option<crate::limits::Hold>,
    /// RAG passages to score the answer against.
    grounding_context: Option<Vec<String>>,
    /// The fast tier's report, for the judge tier.
    grounding_report: Option<crate::grounding::GroundingReport>,
    /// An asynchronous judge to start once the answer is complete.
    judge_later: Option<Launcher>,
    /// The request's own flag threshold (`grounding.threshold`).
    grounding_threshold: Option<f64>,
    /// Values of the prompt's secret variables, struck from the record.
    secrets: Vec<String>,
    record: RequestRecord,
    started: Instant,
    endpoint: Endpoint,
    cache: CacheStatus,
    /// The call's trace (empty unless tracing is on and the call sampled);
    /// it becomes spans when the record is sealed.
    trace: crate::otel::Trace,
}

impl Recorder {
    pub fn new(
        sink: RecordSink,
        prices: Arc<PriceTable>,
        id: String,
        caller: &Caller,
        endpoint: Endpoint,
    ) -> Recorder {
        let (team, key_id, key_hint) = match caller {
            Caller::Admin => (ADMIN_TEAM.to_owned(), None, None),
            Caller::Team {
                team, key_id, hint, ..
            } => (
                team.to_string(),
                Some(key_id.to_string()),
                Some(hint.to_string()),
            ),
        };
        Recorder {
            sink,
            sent: false,
            prices,
            priced: std::cell::Cell::new(None),
            request_body: None,
            reservation: None,
            limit_hold: None,
            grounding_context: None,
            grounding_report: None,
            judge_later: None,
            grounding_threshold: None,
            secrets: Vec::new(),
            record: RequestRecord {
                id,
                team,
                key_id,
                key_hint,
                endpoint: endpoint.as_str().to_owned(),
                created_at: crate::time::now_ms(),
                outcome: Outcome::Ok.as_str().to_owned(),
                cache: Some(CacheStatus::Bypass.as_str().to_owned()),
                ..RequestRecord::default()
            },
            started: Instant::now(),
            endpoint,
            cache: CacheStatus::Bypass,
            trace: crate::otel::Trace::default(),
        }
    }

    pub fn set_trace(&mut self, trace: crate::otel::Trace) {
        self.trace = trace;
    }

    /// Where the stages note what the call's spans need beyond the record.
    pub fn trace(&mut self) -> &mut crate::otel::Trace {
        &mut self.trace
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

    /// The route of a call whose model the answer will name (see `set_model`).
    pub fn set_upstream(&mut self, upstream: &str, stream: bool) {
        self.record.upstream = Some(upstream.to_owned());
        self.record.stream = stream;
    }

    /// Tries it took to get the answer (retries and fallbacks included).
    pub fn set_attempts(&mut self, attempts: u32) {
        self.record.attempts = Some(i64::from(attempts));
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
            r.usage_source.get_or_insert_with(|| "upstream".to_owned());
        }
        r.error = error;
        let priced = usage.map(|u| self.cost_of(u));
        let r = &mut self.record;
        match priced {
            Some(Some(cost)) if self.cache == CacheStatus::Hit => {
                r.cost_pusd = Some(0);
                r.saved_pusd = Some(pico::to_pico(cost));
            }
            Some(Some(cost)) => r.cost_pusd = Some(pico::to_pico(cost)),
            Some(None) => {
                metrics::counter!("promptgate_unpriced_requests_total").increment(1);
            }
            None => {}
        }
        if let Some((budgets, reservation)) = self.reservation.take() {
            let charged = match priced {
                Some(Some(cost)) if self.cache != CacheStatus::Hit => cost,
                _ => Decimal::ZERO,
            };
            self.record.budget_charge = budgets.settle_later(reservation, charged);
        }
        if let Some(hold) = self.limit_hold.take() {
            hold.finish(limit_used(usage, outcome));
        }
        let meters = super::meters::call_meters();
        meters.requests(self.endpoint, outcome).increment(1);
        meters
            .duration(self.endpoint)
            .record(self.started.elapsed().as_secs_f64());
    }

    /// What `usage` costs on this request's model; `None` when the model has no price.
    pub fn cost_of(&self, usage: Usage) -> Option<Decimal> {
        // The header (or stream comment) and the record price the same usage:
        // look the price up once.
        if let Some((seen, cost)) = self.priced.get() {
            if seen == usage {
                return cost;
            }
        }
        let model = self.record.model.as_deref()?;
        let cost = crate::costs::cost_for(&self.prices, model, &usage);
        self.priced.set(Some((usage, cost)));
        cost
    }

    /// What the client is charged for `usage`: nothing on a cache hit.
    pub fn charged(&self, usage: Usage) -> Option<Decimal> {
        let cost = self.cost_of(usage)?;
        Some(if self.cache == CacheStatus::Hit {
            Decimal::ZERO
        } else {
            cost
        })
    }

    pub fn set_limit_hold(&mut self, hold: crate::limits::Hold) {
        self.limit_hold = Some(hold);
    }

    pub fn set_reservation(&mut self, budgets: Arc<Budgets>, r: Reservation) {
        self.reservation = Some((budgets, r));
    }

    pub fn prompt_name(&self) -> Option<&str> {
        self.record.prompt_name.as_deref()
    }

    pub fn set_grounding_context(&mut self, context: Vec<String>) {
        self.grounding_context = Some(context);
    }

    pub fn grounding_context(&self) -> Option<&[String]> {
        self.grounding_context.as_deref()
    }

    /// The values of the prompt's secret variables: the record keeps none.
    pub fn set_secrets(&mut self, secrets: Vec<String>) {
        self.secrets = secrets;
    }

    pub fn secrets(&self) -> &[String] {
        &self.secrets
    }

    pub fn set_grounding_threshold(&mut self, threshold: Option<f64>) {
        self.grounding_threshold = threshold;
    }

    pub fn grounding_threshold(&self) -> Option<f64> {
        self.grounding_threshold
    }

    pub fn set_grounding(&mut self, report: crate::grounding::GroundingReport) {
        self.record.grounding_score = Some(report.score);
        self.record.flagged = Some(report.flagged);
        self.record.grounding = serde_json::to_string(&report).ok();
        self.grounding_report = Some(report);
    }

    /// The fast tier's report, once the answer was scored.
    pub fn grounding_report(&self) -> Option<&crate::grounding::GroundingReport> {
        self.grounding_report.as_ref()
    }

    /// Changes the record in place (a synchronous judge's verdict).
    pub fn patch(&mut self, patch: RecordPatch) {
        patch(&mut self.record);
    }

    /// Starts `launcher` when the call ends well and its answer was scored;
    /// the record then waits for the patch it yields (the answer does not).
    pub fn judge_later(&mut self, launcher: Launcher) {
        self.judge_later = Some(launcher);
    }

    /// `(score, flagged)` once the answer was scored.
    pub fn grounding_verdict(&self) -> Option<(f64, bool)> {
        Some((self.record.grounding_score?, self.record.flagged?))
    }

    pub fn set_request_body(&mut self, body: Bytes) {
        self.request_body = Some(body);
    }

    pub fn request_body(&self) -> Option<&Bytes> {
        self.request_body.as_ref()
    }

    /// Token counts were estimated locally, not reported by the upstream.
    pub fn mark_estimated(&mut self) {
        self.record.usage_source = Some("estimated".to_owned());
    }

    pub fn model(&self) -> Option<&str> {
        self.record.model.as_deref()
    }

    pub fn endpoint(&self) -> Endpoint {
        self.endpoint
    }

    /// `metadata.tags`, kept for `group_by=tag`.
    pub fn set_tags(&mut self, tags: Vec<String>) {
        if !tags.is_empty() {
            self.record.tags = serde_json::to_string(&tags).ok();
        }
    }

    pub fn set_ttft(&mut self, ttft: Duration) {
        self.record.ttft_us = Some(ttft.as_micros() as i64);
    }

    /// Sends the record, waiting for queue room if needed.
    pub async fn finish(mut self, end: Ending) {
        if let Some(hold) = self.limit_hold.take() {
            hold.finish_before_answer(limit_used(end.usage, end.outcome))
                .await;
        }
        match self.seal(end) {
            (record, None) => self.sink.send(record).await,
            (record, Some(later)) => {
                let secrets = std::mem::take(&mut self.secrets);
                send_when_done(self.sink.clone(), record, later, secrets)
            }
        }
    }

    /// Sends the record from synchronous code (stream completion or drop).
    pub fn finish_now(mut self, end: Ending) {
        match self.seal(end) {
            (record, None) => self.sink.send_now(record),
            (record, Some(later)) => {
                let secrets = std::mem::take(&mut self.secrets);
                send_when_done(self.sink.clone(), record, later, secrets)
            }
        }
    }

    /// The complete record, taken out to be sent (once), and the judge it
    /// still waits for, started now.
    fn seal(&mut self, end: Ending) -> (RequestRecord, Option<Deferred>) {
        let answered = end.outcome == Outcome::Ok && (200..300).contains(&end.status);
        self.fill(end.status, end.outcome, end.usage, end.error);
        self.sent = true;
        // Before the spans are made: a span's status carries the error text.
        super::redact::strike_record(&mut self.record, &self.secrets);
        self.trace.finish(&self.record);
        let later = match (self.judge_later.take(), &self.grounding_report) {
            (Some(launch), Some(report)) if answered => Some(launch(report)),
            _ => None,
        };
        (std::mem::take(&mut self.record), later)
    }
}

/// A change to a record made after the call (the judge's verdict).
pub type RecordPatch = Box<dyn FnOnce(&mut RequestRecord) + Send>;
/// A patch still being worked out.
pub type Deferred = std::pin::Pin<Box<dyn std::future::Future<Output = RecordPatch> + Send>>;
/// Starts the work on a patch, given the fast tier's report.
pub type Launcher = Box<dyn FnOnce(&crate::grounding::GroundingReport) -> Deferred + Send>;

/// Sends `record` once `later` has patched it (and `secrets` are struck
/// from the patch too), off the caller's path.
fn send_when_done(
    sink: RecordSink,
    mut record: RequestRecord,
    later: Deferred,
    secrets: Vec<String>,
) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        // The record was struck when sealed, and no patch comes.
        sink.send_now(record);
        return;
    };
    let hold = sink.hold();
    runtime.spawn(async move {
        let _hold = hold;
        let patch = later.await;
        patch(&mut record);
        super::redact::strike_record(&mut record, &secrets);
        sink.send(record).await;
    });
}

/// How a call ended, for its record.
pub struct Ending {
    pub status: u16,
    pub outcome: Outcome,
    pub usage: Option<Usage>,
    pub error: Option<String>,
}

/// Status recorded when the client went away before an answer was sent
/// (the code nginx uses for the same event).
pub const CLIENT_CLOSED_STATUS: u16 = 499;

impl Drop for Recorder {
    fn drop(&mut self) {
        if !self.sent {
            // The request future was dropped: the client disconnected before
            // the answer. Record it (and release any budget reservation).
            let (record, _) = self.seal(Ending {
                status: CLIENT_CLOSED_STATUS,
                outcome: Outcome::ClientClosed,
                usage: None,
                error: Some("client closed the connection before the answer".into()),
            });
            self.sink.send_now(record);
        }
    }
}

/// The tokens a finished call counts against its rate limits: a call that
/// failed without an answer used none; one that succeeded without usage
/// keeps what it held (`None`).
fn limit_used(usage: Option<Usage>, outcome: Outcome) -> Option<u64> {
    usage
        .map(|u| (u.prompt_tokens + u.completion_tokens).max(0) as u64)
        .or((outcome != Outcome::Ok).then_some(0))
}
