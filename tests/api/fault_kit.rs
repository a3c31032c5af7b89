//! What the store and Redis fault tests break things with: the gateway as a
//! child process (its own `/metrics`, so gauges are its own and not those of
//! the other tests in this binary), a TCP proxy that can cut and refuse
//! connections, a private `redis-server`, and a small tmpfs to fill up.
//! Everything here kills or unmounts only what it started.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

use crate::helpers::ADMIN_KEY;

/// Bounds a wait so that a broken gateway fails the test instead of hanging
/// it; never an assertion about speed.
pub const PATIENCE: Duration = Duration::from_secs(30);

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Starts the `promptgate` binary in `dir` on a free port, with the admin
/// key, `env` (applied last, so it may override `RUST_LOG=warn`) and, when
/// given, `toml` as its config file; returns once `/healthz` answers. The
/// one way every test that needs a real process (signals, faults) starts it.
pub async fn spawn_binary(
    dir: &std::path::Path,
    env: &[(&str, String)],
    toml: Option<&str>,
) -> (tokio::process::Child, String) {
    let port = free_port();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_promptgate"));
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")]);
    if let Some(toml) = toml {
        let path = dir.join("promptgate.toml");
        std::fs::write(&path, toml).unwrap();
        cmd.arg("--config").arg(path);
    }
    cmd.current_dir(dir)
        .env("PROMPTGATE_ADMIN_KEY", ADMIN_KEY)
        .env("RUST_LOG", "warn")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let child = cmd.spawn().expect("start promptgate");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let started = Instant::now();
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(started.elapsed() < PATIENCE, "promptgate did not start");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    (child, base)
}

/// The `promptgate` binary, serving on a port of its own.
pub struct Gateway {
    _child: tokio::process::Child,
    pub base: String,
    pub http: reqwest::Client,
}

impl Gateway {
    /// Starts the binary in `dir` with `env` (`PROMPTGATE__…` settings) and,
    /// when given, `toml` as its config file.
    pub async fn start(dir: &std::path::Path, env: &[(&str, String)], toml: Option<&str>) -> Self {
        let mut all = vec![
            ("RUST_LOG", "error".to_owned()),
            (
                "PROMPTGATE__PROMPTS_DIR",
                dir.join("no-prompts").display().to_string(),
            ),
        ];
        all.extend(env.iter().cloned());
        let (child, base) = spawn_binary(dir, &all, toml).await;
        Gateway {
            _child: child,
            base,
            http: reqwest::Client::builder()
                .timeout(PATIENCE)
                .build()
                .unwrap(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Status and JSON body (`null` when the body is not JSON).
    pub async fn send(
        &self,
        method: reqwest::Method,
        key: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, self.url(path)).bearer_auth(key);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("the gateway answers");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, key: &str, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, key, path, Some(body))
            .await
    }

    /// A chat call; its status and request id.
    pub async fn chat(&self, key: &str, content: &str) -> (u16, String, Value) {
        let resp = self
            .http
            .post(self.url("/v1/chat/completions"))
            .bearer_auth(key)
            .json(&json!({"model": "mock-1", "messages": [{"role": "user", "content": content}]}))
            .send()
            .await
            .expect("the gateway answers");
        let status = resp.status().as_u16();
        let id = resp
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (status, id, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn team_key(&self, team: &str) -> String {
        let (status, _) = self
            .post(ADMIN_KEY, "/v1/teams", json!({"name": team}))
            .await;
        assert_eq!(status, 201, "create team {team}");
        let (status, body) = self
            .post(ADMIN_KEY, &format!("/v1/teams/{team}/keys"), json!({}))
            .await;
        assert_eq!(status, 201, "key for {team}");
        body["key"].as_str().unwrap().to_owned()
    }

    /// The value of an unlabelled series in `/metrics` (`None` when absent).
    pub async fn metric(&self, name: &str) -> Option<f64> {
        let text = self
            .http
            .get(self.url("/metrics"))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
            let (n, v) = l.rsplit_once(' ')?;
            (n == name).then(|| v.parse().ok()).flatten()
        })
    }

    /// Waits (bounded) until `name` reads more than `floor`.
    pub async fn wait_for_metric_above(&self, name: &str, floor: f64) {
        let started = Instant::now();
        loop {
            let got = self.metric(name).await;
            if got.is_some_and(|v| v > floor) {
                return;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "{name} stayed {got:?}, never above {floor}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits (bounded) until `name` reads `want`.
    pub async fn wait_for_metric(&self, name: &str, want: f64) {
        let started = Instant::now();
        loop {
            let got = self.metric(name).await;
            if got == Some(want) {
                return;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "{name} stayed {got:?}, never {want}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// `503 server_error` in OpenAI's shape.
pub fn assert_unavailable(status: u16, body: &Value, what: &str) {
    assert_eq!(status, 503, "{what}: {body}");
    assert_eq!(body["error"]["type"], "server_error", "{what}: {body}");
    assert!(body["error"]["message"].is_string(), "{what}: {body}");
}

/// A TCP proxy to `target` that can cut every open connection (what a
/// server restart does to its clients) and refuse new ones until healed.
pub struct TcpProxy {
    pub addr: SocketAddr,
    target: SocketAddr,
    conns: Arc<Mutex<Vec<AbortHandle>>>,
    listener: Mutex<Option<AbortHandle>>,
}

impl TcpProxy {
    pub async fn start(target: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = TcpProxy {
            addr: listener.local_addr().unwrap(),
            target,
            conns: Arc::default(),
            listener: Mutex::new(None),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let (target, conns) = (self.target, self.conns.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let pipe = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                conns.lock().unwrap().push(pipe.abort_handle());
            }
        });
        *self.listener.lock().unwrap() = Some(task.abort_handle());
    }

    /// Cuts every connection and closes the port: new connections are refused.
    pub async fn go_down(&self) {
        if let Some(l) = self.listener.lock().unwrap().take() {
            l.abort();
        }
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
        // the aborted listener task drops its socket when it next runs
        let started = Instant::now();
        while TcpStream::connect(self.addr).await.is_ok() {
            assert!(started.elapsed() < PATIENCE, "the proxy port stayed open");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Listens on the same port again.
    pub async fn heal(&self) {
        let started = Instant::now();
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) => {
                    assert!(started.elapsed() < PATIENCE, "rebind {}: {e}", self.addr);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        self.serve(listener);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        if let Some(l) = self.listener.lock().unwrap().take() {
            l.abort();
        }
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }
}

/// A `redis-server` of this test's own, without persistence; killed (by its
/// PID, as a child of this process) on `kill` and on drop.
pub struct PrivateRedis {
    pub port: u16,
    child: Option<tokio::process::Child>,
}

impl PrivateRedis {
    /// `None` (skipped with a notice) outside CI when `redis-server` is missing.
    pub async fn start() -> Option<PrivateRedis> {
        let mut redis = PrivateRedis {
            port: free_port(),
            child: None,
        };
        if !redis.restart().await {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "redis-server must be installed in CI"
            );
            eprintln!("notice: redis-server is not installed; skipping this Redis fault test");
            return None;
        }
        Some(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server on its port (again); false when it cannot be run.
    pub async fn restart(&mut self) -> bool {
        let Ok(child) = tokio::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
        else {
            return false;
        };
        self.child = Some(child);
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).await.is_err() {
            assert!(started.elapsed() < PATIENCE, "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    /// SIGKILL, and waits until it is gone.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
    }
}

/// A tmpfs of `size` mounted on a temporary folder, unmounted on drop.
pub struct Tmpfs {
    pub dir: tempfile::TempDir,
}

impl Tmpfs {
    /// `None` when mounting is not possible here (not root, or no
    /// CAP_SYS_ADMIN): skipped with a notice outside CI, a failure in CI.
    pub fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "the disk-full test needs to mount a tmpfs (root with CAP_SYS_ADMIN) in CI"
            );
            eprintln!("notice: cannot mount a tmpfs here; skipping the SQLite disk-full test");
            return None;
        }
        Some(Tmpfs { dir })
    }

    /// Fills the file system with `filler` until it has no room left.
    pub fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.dir.path().join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        for chunk in [1 << 16, 1 << 12, 1 << 9, 1] {
            let bytes = vec![0u8; chunk];
            while file.write_all(&bytes).and_then(|()| file.flush()).is_ok() {}
        }
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}
