//! `spawn_app()` and friends: every test gets its own app on port 0, its own
//! database (a SQLite temp file, or a fresh PostgreSQL database), and its own
//! upstreams.

use std::net::SocketAddr;

use promptgate::config::UpstreamConfig;
use promptgate::{App, Config};
use secrecy::SecretString;
use serde_json::{json, Value};

pub const ADMIN_KEY: &str = "test-admin-key";

/// The PostgreSQL server for tests, from `PROMPTGATE_TEST_POSTGRES_URL`.
/// Under CI its absence is a failure; elsewhere the test is skipped with a notice.
pub fn postgres_url() -> Option<String> {
    match std::env::var("PROMPTGATE_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("PROMPTGATE_TEST_POSTGRES_URL must be set in CI");
            }
            eprintln!("notice: PROMPTGATE_TEST_POSTGRES_URL is not set; skipping the PostgreSQL part of this test");
            None
        }
    }
}

/// A database of its own for one test.
pub enum TestDb {
    Sqlite {
        _dir: tempfile::TempDir,
        url: String,
    },
    Postgres {
        admin_url: String,
        name: String,
        url: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("promptgate.db").display());
        TestDb::Sqlite { _dir: dir, url }
    }

    /// `None` (skipped) when no PostgreSQL is configured outside CI.
    pub async fn postgres() -> Option<TestDb> {
        let admin_url = postgres_url()?;
        let name = format!("pgtest_{}", uuid::Uuid::new_v4().simple());
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
            .await
            .expect("connect to the test PostgreSQL server");
        sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE \"{name}\"").as_str())
            .await
            .expect("create test database");
        let url = replace_db(&admin_url, &name);
        Some(TestDb::Postgres {
            admin_url,
            name,
            url,
        })
    }

    pub async fn new(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => Some(TestDb::sqlite()),
            Backend::Postgres => TestDb::postgres().await,
        }
    }

    pub fn url(&self) -> &str {
        match self {
            TestDb::Sqlite { url, .. } | TestDb::Postgres { url, .. } => url,
        }
    }
}

fn replace_db(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let head = match base.rfind('/') {
        Some(i) if i > "postgres://".len() => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{head}/{db}?{q}"),
        None => format!("{head}/{db}"),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres {
            admin_url, name, ..
        } = self
        {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs outside async context: use a private runtime on a thread.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
                        .await
                        .ok()?;
                    sqlx::Executor::execute(
                        &mut conn,
                        format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str(),
                    )
                    .await
                    .ok()
                })
            })
            .join();
        }
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    pub state: promptgate::state::AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub fn base_config(db_url: &str) -> Config {
    let mut config = Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..Config::default()
    };
    config.store.url = db_url.to_owned();
    config.admin_key = Some(SecretString::from(ADMIN_KEY));
    config.keys.refresh_ms = 200;
    config.registry_refresh_ms = 200;
    // Each test syncs prompt files only when it asks to.
    config.prompts_dir = "/nonexistent-prompts-dir".into();
    config
}

pub fn http_upstream(
    name: &str,
    addr: SocketAddr,
    models: &[&str],
    timeout_s: u64,
) -> UpstreamConfig {
    UpstreamConfig {
        name: name.into(),
        base_url: Some(format!("http://{addr}/v1")),
        api_key_env: None,
        kind: Default::default(),
        models: models.iter().map(|m| m.to_string()).collect(),
        timeout_s,
        retry: None,
        cooldown: None,
    }
}

pub async fn spawn_app(config: Config) -> TestApp {
    let app = App::build(config).await.expect("build app");
    let addr = app.local_addr();
    let state = app.state();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.run(async {
        let _ = rx.await;
    }));
    TestApp {
        addr,
        http: reqwest::Client::new(),
        state,
        stop: Some(tx),
        task: Some(task),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn post(&self, key: &str, path: &str, body: Value) -> reqwest::Response {
        self.send_json(reqwest::Method::POST, key, path, body).await
    }

    pub async fn put(&self, key: &str, path: &str, body: Value) -> reqwest::Response {
        self.send_json(reqwest::Method::PUT, key, path, body).await
    }

    /// A JSON-bodied request with `key` as the bearer token.
    async fn send_json(
        &self,
        method: reqwest::Method,
        key: &str,
        path: &str,
        body: Value,
    ) -> reqwest::Response {
        self.http
            .request(method, self.url(path))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    pub async fn get(&self, key: &str, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .expect("request")
    }

    /// Creates a team and returns a fresh key for it.
    pub async fn team_key(&self, team: &str) -> String {
        let resp = self
            .post(ADMIN_KEY, "/v1/teams", json!({"name": team}))
            .await;
        assert!(
            resp.status() == 201 || resp.status() == 409,
            "create team: {}",
            resp.status()
        );
        let resp = self
            .post(ADMIN_KEY, &format!("/v1/teams/{team}/keys"), json!({}))
            .await;
        assert_eq!(resp.status(), 201);
        let body: Value = resp.json().await.expect("json");
        body["key"].as_str().expect("key").to_owned()
    }

    pub async fn chat(&self, key: &str, model: &str) -> reqwest::Response {
        self.post(
            key,
            "/v1/chat/completions",
            json!({"model": model, "messages": [{"role": "user", "content": "hello"}]}),
        )
        .await
    }

    /// Waits until the record with this id is readable (records are written
    /// asynchronously by the batch writer).
    pub async fn record(&self, key: &str, id: &str) -> Value {
        for _ in 0..200 {
            let resp = self.get(key, &format!("/v1/requests/{id}")).await;
            if resp.status() == 200 {
                return resp.json().await.expect("json");
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("record {id} never appeared");
    }

    /// `GET /metrics`, as text.
    pub async fn metrics(&self) -> String {
        let resp = self
            .http
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("metrics");
        assert_eq!(resp.status(), 200);
        resp.text().await.expect("metrics text")
    }

    /// Stops the app the way SIGTERM does, flushing records.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("join").expect("app run");
        }
    }
}

/// The value of an unlabelled counter in `/metrics` text (0 when absent).
pub fn counter(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (n, v) = l.rsplit_once(' ')?;
            let n = n.split('{').next()?;
            (n == name).then(|| v.parse::<f64>().ok()).flatten()
        })
        .sum()
}

/// Serves a router on a random local port; returns its address.
pub async fn serve(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

/// The built-in mock upstream on a real port (an "OpenAI-compatible server").
pub async fn mock_upstream() -> SocketAddr {
    serve(promptgate::providers::mock::server_router()).await
}

pub fn error_of(body: &Value) -> (&str, Option<&str>, Option<&str>) {
    let e = &body["error"];
    (
        e["type"].as_str().unwrap_or_default(),
        e["param"].as_str(),
        e["code"].as_str(),
    )
}

/// Sends `()` when dropped: tells the test the upstream response was dropped.
pub struct DropSignal(Option<tokio::sync::oneshot::Sender<()>>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

/// An upstream whose SSE body is whatever the test pushes into the channel.
pub struct Puppet {
    pub frames: tokio::sync::mpsc::UnboundedSender<axum::body::Bytes>,
    pub dropped: tokio::sync::oneshot::Receiver<()>,
    pub addr: std::net::SocketAddr,
}

pub async fn puppet_upstream() -> Puppet {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<axum::body::Bytes>();
    let (drop_tx, drop_rx) = tokio::sync::oneshot::channel();
    let slot = std::sync::Arc::new(std::sync::Mutex::new(Some((rx, DropSignal(Some(drop_tx))))));
    let router = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move || {
            let slot = slot.clone();
            async move {
                let (rx, guard) = slot.lock().unwrap().take().expect("one request per puppet");
                let body =
                    futures_util::stream::unfold((rx, guard), |(mut rx, guard)| async move {
                        let frame = rx.recv().await?;
                        Some((Ok::<_, std::io::Error>(frame), (rx, guard)))
                    });
                axum::response::Response::builder()
                    .header("content-type", "text/event-stream")
                    .body(axum::body::Body::from_stream(body))
                    .unwrap()
            }
        }),
    );
    let addr = serve(router).await;
    Puppet {
        frames: tx,
        dropped: drop_rx,
        addr,
    }
}
