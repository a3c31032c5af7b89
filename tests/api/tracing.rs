//! OpenTelemetry traces: a small OTLP/HTTP receiver in the test decodes what
//! the gateway exports (protobuf, with the protocol's own types), and the
//! upstream records the `traceparent` it was sent.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use prost::Message;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use crate::helpers::{base_config, counter, http_upstream, serve, spawn_app, TestApp, TestDb};

/// Guards against a hang turning into a stuck test: a bound on how long a
/// step may take, not a performance assertion.
const HANG_GUARD: Duration = Duration::from_secs(20);

/// One exported span, flattened for assertions.
#[derive(Debug, Clone)]
pub(crate) struct Got {
    name: String,
    /// 1 internal, 2 server, 3 client.
    kind: i32,
    trace_id: String,
    span_id: String,
    parent: String,
    attrs: HashMap<String, Value>,
    service: Option<String>,
    /// Status code (0 unset, 2 error) and message.
    status: (i32, String),
}

impl Got {
    pub(crate) fn attr(&self, key: &str) -> &Value {
        self.attrs.get(key).unwrap_or(&Value::Null)
    }
}

#[derive(Clone, Default)]
pub(crate) struct Received {
    spans: Arc<Mutex<Vec<Got>>>,
    /// Every request body as it came (to look for secrets in).
    pub(crate) raw: Arc<Mutex<Vec<Bytes>>>,
}

/// An OTLP/HTTP receiver. `gate` holds each export until a permit is there
/// (a collector that stalls), `arrived` tells the test an export came in.
pub(crate) async fn receiver(
    gate: Option<Arc<Semaphore>>,
) -> (SocketAddr, Received, Arc<Semaphore>) {
    let got = Received::default();
    let arrived = Arc::new(Semaphore::new(0));
    let (g, a) = (got.clone(), arrived.clone());
    let router = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (got, arrived, gate) = (g.clone(), a.clone(), gate.clone());
            async move {
                assert_eq!(headers["content-type"], "application/x-protobuf");
                arrived.add_permits(1);
                if let Some(gate) = gate {
                    gate.acquire().await.unwrap().forget();
                }
                got.raw.lock().unwrap().push(body.clone());
                let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
                got.spans.lock().unwrap().extend(flatten(request));
                (
                    [("content-type", "application/x-protobuf")],
                    Vec::<u8>::new(),
                )
            }
        }),
    );
    (serve(router).await, got, arrived)
}

fn flatten(request: ExportTraceServiceRequest) -> Vec<Got> {
    let mut out = Vec::new();
    for rs in request.resource_spans {
        let service = rs.resource.and_then(|r| {
            r.attributes
                .into_iter()
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| kv.value?.value)
                .and_then(|v| match v {
                    Any::StringValue(s) => Some(s),
                    _ => None,
                })
        });
        for span in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
            let attrs = span
                .attributes
                .into_iter()
                .filter_map(|kv| {
                    let v = match kv.value?.value? {
                        Any::StringValue(s) => json!(s),
                        Any::BoolValue(b) => json!(b),
                        Any::IntValue(i) => json!(i),
                        Any::DoubleValue(d) => json!(d),
                        _ => return None,
                    };
                    Some((kv.key, v))
                })
                .collect();
            out.push(Got {
                name: span.name,
                kind: span.kind,
                trace_id: hex::encode(span.trace_id),
                span_id: hex::encode(span.span_id),
                parent: hex::encode(span.parent_span_id),
                attrs,
                service: service.clone(),
                status: span
                    .status
                    .map_or((0, String::new()), |s| (s.code, s.message)),
            });
        }
    }
    out
}

impl Received {
    /// The spans of the call `request_id`: the call's span and its children.
    pub(crate) async fn call(&self, request_id: &str) -> (Got, Vec<Got>) {
        let deadline = tokio::time::Instant::now() + HANG_GUARD;
        loop {
            let spans = self.spans.lock().unwrap().clone();
            if let Some(root) = spans
                .iter()
                .find(|s| s.attr("promptgate.request_id") == request_id)
            {
                let children = spans
                    .iter()
                    .filter(|s| s.parent == root.span_id)
                    .cloned()
                    .collect();
                return (root.clone(), children);
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no span for {request_id}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The built-in mock's OpenAI-compatible server, remembering the
/// `traceparent` of each call it gets.
async fn recording_upstream() -> (SocketAddr, Arc<Mutex<Vec<Option<String>>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let router = promptgate::providers::mock::server_router().layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let s = s.clone();
            async move {
                let tp = req
                    .headers()
                    .get("traceparent")
                    .map(|v| v.to_str().unwrap().to_owned());
                s.lock().unwrap().push(tp);
                next.run(req).await
            }
        },
    ));
    (serve(router).await, seen)
}

struct Setup {
    _db: TestDb,
    app: TestApp,
    key: String,
    got: Received,
    traceparents: Arc<Mutex<Vec<Option<String>>>>,
}

async fn setup(
    tune: impl FnOnce(&mut promptgate::Config),
    gate: Option<Arc<Semaphore>>,
) -> (Setup, Arc<Semaphore>) {
    let db = TestDb::sqlite();
    let (collector, got, arrived) = receiver(gate).await;
    let (upstream, traceparents) = recording_upstream().await;
    let var = format!("PG_TEST_OTEL_KEY_{}", uuid::Uuid::new_v4().simple());
    std::env::set_var(&var, "sk-upstream-otel-secret");
    let mut config = base_config(db.url());
    let mut up = http_upstream("vendor", upstream, &["mock-*"], 30);
    up.api_key_env = Some(var);
    config.upstreams = vec![up];
    config.tracing.otlp_endpoint = Some(format!("http://{collector}"));
    config.tracing.export_interval_ms = 20;
    config.tracing.service_name = "gateway-under-test".into();
    tune(&mut config);
    let app = spawn_app(config).await;
    let key = app.team_key("traced").await;
    let s = Setup {
        _db: db,
        app,
        key,
        got,
        traceparents,
    };
    (s, arrived)
}

async fn call(s: &Setup, body: Value, traceparent: Option<&str>) -> (String, reqwest::Response) {
    let (id, resp) = call_as_is(s, body, traceparent).await;
    assert_eq!(resp.status(), 200);
    (id, resp)
}

async fn call_as_is(
    s: &Setup,
    body: Value,
    traceparent: Option<&str>,
) -> (String, reqwest::Response) {
    let mut req = s
        .app
        .http
        .post(s.app.url("/v1/chat/completions"))
        .bearer_auth(&s.key)
        .json(&body);
    if let Some(tp) = traceparent {
        req = req.header("traceparent", tp);
    }
    let resp = tokio::time::timeout(HANG_GUARD, req.send())
        .await
        .expect("the gateway answers")
        .unwrap();
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    (id, resp)
}

fn chat(content: &str) -> Value {
    json!({"model": "mock-repeat", "messages": [{"role": "user", "content": content}]})
}

/// `00-<trace>-<span>-<flags>` split.
fn traceparent_parts(tp: &str) -> (String, String, String) {
    let p: Vec<&str> = tp.split('-').collect();
    assert_eq!(p.len(), 4, "{tp}");
    assert_eq!(p[0], "00");
    (p[1].into(), p[2].into(), p[3].into())
}

#[tokio::test]
async fn a_plain_call_is_a_genai_span_with_upstream_and_grounding_children() {
    let (s, _) = setup(|_| {}, None).await;
    let mut body = chat("The Eiffel Tower opened in 1889.");
    body["grounding"] =
        json!({"context": ["The Eiffel Tower stands in Paris. It opened in 1889."]});
    body["metadata"] = json!({"note": "metadata-stays-out"});
    let (id, resp) = call(&s, body, None).await;
    let answer: Value = resp.json().await.unwrap();
    let (root, children) = s.got.call(&id).await;

    assert_eq!(root.name, "chat mock-repeat");
    assert_eq!(root.kind, 2);
    assert_eq!(
        root.parent, "",
        "no caller span: the call's span is the root"
    );
    assert_eq!(root.service.as_deref(), Some("gateway-under-test"));
    assert_eq!(root.attr("gen_ai.operation.name"), "chat");
    assert_eq!(root.attr("gen_ai.provider.name"), "openai");
    assert_eq!(root.attr("gen_ai.system"), "openai");
    assert_eq!(root.attr("gen_ai.request.model"), "mock-repeat");
    assert_eq!(root.attr("gen_ai.response.model"), &answer["model"]);
    assert_eq!(root.attr("gen_ai.response.id"), &answer["id"]);
    assert_eq!(
        root.attr("gen_ai.usage.input_tokens"),
        &answer["usage"]["prompt_tokens"]
    );
    assert_eq!(
        root.attr("gen_ai.usage.output_tokens"),
        &answer["usage"]["completion_tokens"]
    );
    assert_eq!(root.attr("promptgate.team"), "traced");
    assert_eq!(root.attr("promptgate.cache"), "bypass");
    assert_eq!(root.attr("promptgate.stream"), false);
    assert_eq!(root.attr("http.response.status_code"), 200);
    let rec = s.app.record(&s.key, &id).await;
    assert_eq!(root.attr("promptgate.cost_usd"), &rec["cost_usd"]);
    assert!(root.attr("promptgate.grounding.score").is_f64());
    assert_eq!(root.attr("promptgate.grounding.flagged"), &rec["flagged"]);

    assert_eq!(children.len(), 2, "{children:?}");
    let upstream = children
        .iter()
        .find(|c| c.kind == 3)
        .expect("upstream span");
    assert_eq!(upstream.name, "upstream vendor");
    assert_eq!(upstream.trace_id, root.trace_id);
    assert_eq!(upstream.attr("http.response.status_code"), 200);
    let grounding = children
        .iter()
        .find(|c| c.kind == 1)
        .expect("grounding span");
    assert_eq!(grounding.name, "grounding check");
    assert_eq!(
        grounding.attr("promptgate.grounding.score"),
        root.attr("promptgate.grounding.score")
    );

    // The upstream was told the upstream call's span, in the call's trace.
    let tp = s.traceparents.lock().unwrap()[0]
        .clone()
        .expect("traceparent");
    assert_eq!(
        traceparent_parts(&tp),
        (root.trace_id.clone(), upstream.span_id.clone(), "01".into())
    );
    // Neither credential nor the client's own fields are in what was exported.
    let raw: Vec<u8> = s.got.raw.lock().unwrap().concat();
    let raw = String::from_utf8_lossy(&raw);
    for secret in [
        s.key.as_str(),
        "sk-upstream-otel-secret",
        "metadata-stays-out",
        "Eiffel",
    ] {
        assert!(!raw.contains(secret), "{secret} was exported");
    }
    s.app.stop().await;
}

#[tokio::test]
async fn a_stream_is_one_span_with_its_usage_and_first_token_time() {
    let (s, _) = setup(|_| {}, None).await;
    let mut body = chat("stream me");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let (id, resp) = call(&s, body, None).await;
    let text = resp.text().await.unwrap();
    assert!(text.contains("[DONE]"));
    let (root, children) = s.got.call(&id).await;
    assert_eq!(root.name, "chat mock-repeat");
    assert_eq!(root.attr("promptgate.stream"), true);
    assert_eq!(root.attr("gen_ai.request.model"), "mock-repeat");
    assert!(root.attr("gen_ai.response.model").is_string());
    let rec = s.app.record(&s.key, &id).await;
    assert_eq!(
        root.attr("gen_ai.usage.input_tokens"),
        &rec["prompt_tokens"]
    );
    assert_eq!(
        root.attr("gen_ai.usage.output_tokens"),
        &rec["completion_tokens"]
    );
    assert!(root.attr("promptgate.ttft_ms").is_f64());
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].kind, 3);
    s.app.stop().await;
}

#[tokio::test]
async fn a_messages_stream_from_an_anthropic_upstream_names_its_provider_and_model() {
    let (s, _) = setup(
        |c| {
            c.upstreams[0].models = vec!["claude-*".into()];
            c.upstreams[0].kind = promptgate::config::UpstreamKind::Anthropic;
        },
        None,
    )
    .await;
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": true,
                      "messages": [{"role": "user", "content": "hello"}]});
    let resp = s
        .app
        .http
        .post(s.app.url("/v1/messages"))
        .header("x-api-key", &s.key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(resp.text().await.unwrap().contains("message_stop"));
    let (root, children) = s.got.call(&id).await;
    assert_eq!(root.name, "chat claude-sonnet-4-5");
    assert_eq!(root.attr("gen_ai.provider.name"), "anthropic");
    assert_eq!(root.attr("promptgate.endpoint"), "messages");
    assert!(root.attr("gen_ai.response.model").is_string());
    assert!(root.attr("gen_ai.response.id").is_string(), "{root:?}");
    assert!(root.attr("gen_ai.usage.output_tokens").is_i64());
    assert_eq!(children[0].attr("gen_ai.provider.name"), "anthropic");
    s.app.stop().await;
}

#[tokio::test]
async fn a_cache_hit_is_a_span_without_an_upstream_call() {
    let (s, _) = setup(|_| {}, None).await;
    let mut body = chat("cache me");
    body["cache"] = json!({"ttl": 60});
    let (miss, _) = call(&s, body.clone(), None).await;
    let (hit, resp) = call(&s, body, None).await;
    assert_eq!(resp.headers()["x-promptgate-cache"], "hit");
    let answer: Value = resp.json().await.unwrap();
    let (root, children) = s.got.call(&hit).await;
    assert_eq!(root.attr("promptgate.cache"), "hit");
    assert_eq!(root.attr("gen_ai.operation.name"), "chat");
    assert_eq!(root.attr("gen_ai.provider.name"), "openai");
    assert_eq!(root.attr("gen_ai.response.model"), &answer["model"]);
    assert_eq!(
        root.attr("gen_ai.usage.output_tokens"),
        &answer["usage"]["completion_tokens"]
    );
    assert_eq!(root.attr("promptgate.cost_usd"), "0");
    assert!(root.attr("promptgate.saved_usd").is_string());
    assert!(children.is_empty(), "{children:?}");
    assert_eq!(s.got.call(&miss).await.0.attr("promptgate.cache"), "miss");
    assert_eq!(s.traceparents.lock().unwrap().len(), 1, "one upstream call");
    s.app.stop().await;
}

#[tokio::test]
async fn an_upstream_failure_is_an_error_span_but_a_client_mistake_is_not() {
    let (s, _) = setup(|_| {}, None).await;
    let failing =
        json!({"model": "mock-error-500", "messages": [{"role": "user", "content": "x"}]});
    let (id, resp) = call_as_is(&s, failing, None).await;
    assert_eq!(resp.status(), 502);
    let (root, children) = s.got.call(&id).await;
    assert_eq!(root.status.0, 2, "{root:?}");
    assert!(root.status.1.contains("500"), "{}", root.status.1);
    assert_eq!(root.attr("error.type"), "upstream_error");
    assert_eq!(root.attr("http.response.status_code"), 502);
    assert_eq!(children[0].status.0, 2);
    assert_eq!(children[0].attr("http.response.status_code"), 500);

    let (id, resp) = call_as_is(&s, json!({"model": "mock-1"}), None).await;
    assert_eq!(resp.status(), 400);
    let (root, children) = s.got.call(&id).await;
    assert_eq!(root.status.0, 0, "{root:?}");
    assert_eq!(root.attr("error.type"), "rejected");
    assert!(children.is_empty(), "never sent upstream");
    s.app.stop().await;
}

#[tokio::test]
async fn a_callers_traceparent_is_continued_and_sampling_follows_it() {
    // Nothing is sampled on its own: only the caller's decision traces a call.
    let (s, _) = setup(|c| c.tracing.sample_rate = 0.0, None).await;
    let (unsampled, _) = call(&s, chat("one"), None).await;
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let (traced, _) = call(
        &s,
        chat("two"),
        Some(&format!("00-{trace}-{caller_span}-01")),
    )
    .await;

    let (root, children) = s.got.call(&traced).await;
    assert_eq!(root.trace_id, trace);
    assert_eq!(root.parent, caller_span);
    let seen = s.traceparents.lock().unwrap().clone();
    assert_eq!(seen[0], None, "an unsampled call adds no traceparent");
    let (t, span, flags) = traceparent_parts(seen[1].as_deref().unwrap());
    assert_eq!((t.as_str(), flags.as_str()), (trace, "01"));
    assert_eq!(span, children[0].span_id);
    // Spans leave in order: the sampled call's came, the other's never will.
    let spans = s.got.spans.lock().unwrap().clone();
    assert!(spans
        .iter()
        .all(|sp| sp.attr("promptgate.request_id") != unsampled.as_str()));
    s.app.stop().await;
}

#[tokio::test]
async fn a_prompt_call_names_its_prompt_version_but_not_its_variables() {
    let (s, _) = setup(|_| {}, None).await;
    let prompt = json!({
        "type": "chat",
        "messages": [{"role": "user", "content": "The password is {{password}}."}],
        "config": {"model": "mock-repeat"},
        "variables_schema": {"password": "string"},
        "labels": ["production"]
    });
    let created = s
        .app
        .post(
            crate::helpers::ADMIN_KEY,
            "/v1/prompts/vault/versions",
            prompt,
        )
        .await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let body = json!({"prompt": {"id": "vault", "variables": {"password": "hunter2-in-a-variable"}},
                      "messages": []});
    let (id, _) = call(&s, body, None).await;
    let (root, _) = s.got.call(&id).await;
    assert_eq!(root.attr("promptgate.prompt.name"), "vault");
    assert_eq!(root.attr("promptgate.prompt.version"), 1);
    assert_eq!(root.attr("promptgate.prompt.sha256"), &created["sha256"]);
    let raw = String::from_utf8_lossy(&s.got.raw.lock().unwrap().concat()).into_owned();
    assert!(!raw.contains("hunter2"), "a prompt variable was exported");
    s.app.stop().await;
}

#[tokio::test]
async fn the_judge_call_traces_as_a_child_of_the_judged_call() {
    let judge = json!({"model": "mock-1", "sample_rate": 1.0, "mode": "sync"});
    let (s, _) = setup(
        |c| c.grounding.judge = Some(serde_json::from_value(judge).unwrap()),
        None,
    )
    .await;
    let mut body = chat("The Eiffel Tower opened in 1889.");
    body["grounding"] = json!({"context": ["The Eiffel Tower opened in 1889."]});
    let (id, resp) = call(&s, body, None).await;
    assert!(resp.headers().get("x-promptgate-judge").is_some());
    let (root, children) = s.got.call(&id).await;
    let (judge, _) = s.got.call(&format!("{id}:judge")).await;
    assert_eq!(judge.name, "chat mock-1");
    assert_eq!(judge.trace_id, root.trace_id);
    assert_eq!(judge.parent, root.span_id);
    assert!(children.iter().any(|c| c.span_id == judge.span_id));
    s.app.stop().await;
}

#[tokio::test]
async fn with_tracing_off_nothing_is_sent_and_no_traceparent_is_added() {
    let (s, _) = setup(|c| c.tracing.otlp_endpoint = None, None).await;
    assert!(s.app.state.tracing.is_none());
    call(&s, chat("untraced"), None).await;
    let Setup {
        app,
        got,
        traceparents,
        ..
    } = s;
    app.stop().await; // a stopped gateway has sent whatever it had
    assert_eq!(traceparents.lock().unwrap().clone(), vec![None]);
    assert!(got.raw.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_stalled_collector_drops_spans_and_counts_them_without_slowing_calls() {
    let gate = Arc::new(Semaphore::new(0));
    let (s, arrived) = setup(|c| c.tracing.queue_capacity = 1, Some(gate.clone())).await;
    let dropped = || async {
        counter(
            &s.app.metrics().await,
            "promptgate_otel_spans_dropped_total",
        )
    };
    let before = dropped().await;
    call(&s, chat("first"), None).await;
    // The exporter is now stuck on the first batch: the queue holds one more
    // call, and the rest are dropped, while every call is still answered.
    tokio::time::timeout(HANG_GUARD, arrived.acquire())
        .await
        .unwrap()
        .unwrap()
        .forget();
    for i in 0..4 {
        call(&s, chat(&format!("more {i}")), None).await;
    }
    let after = dropped().await;
    assert!(
        after >= before + 6.0,
        "3 calls of 2 spans dropped: {before} -> {after}"
    );
    gate.add_permits(100);
    s.app.stop().await;
}
