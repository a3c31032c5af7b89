"""Starts the real promptgate release binary once per test session.

The binary comes from `PROMPTGATE_BIN` (scripts/test sets it to the release
build). The gateway runs in a temporary directory with its own SQLite file, on
a free port on 127.0.0.1, with the built-in `mock` upstream serving `mock-*`
models, and an upstream of `kind = "anthropic"` serving `claude-*`: the mock
again, on its own port (`promptgate mock-upstream`), reached over HTTP with
the Messages API. A team and a team key are created through the admin API; tests get a
`Gateway` with the base URL and both keys.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

STARTUP_TIMEOUT_S = 30.0
# The Anthropic upstream's credential: the gateway must never show it.
ANTHROPIC_UPSTREAM_KEY = "sk-ant-sdk-test-" + secrets.token_hex(16)
SHUTDOWN_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Gateway:
    origin: str  # http://127.0.0.1:PORT
    base_url: str  # http://127.0.0.1:PORT/v1, what the SDK is given
    key: str  # team key (pg-…)
    admin_key: str
    team: str
    log_path: Path

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError as err:
            return f"(no server log: {err})"

    def record(self, request_id: str) -> dict:
        """GET /v1/requests/{id} with the team key. Records reach the store through
        a background batch writer, so a record may be a moment behind the answer:
        poll until it exists (bounded; not a timing assertion)."""
        deadline = time.monotonic() + 10
        while True:
            r = httpx.get(
                f"{self.base_url}/requests/{request_id}",
                headers={"Authorization": f"Bearer {self.key}"},
                timeout=10,
            )
            if r.status_code == 200 or time.monotonic() > deadline:
                break
            assert r.status_code == 404, f"{r.status_code} {r.text}"
            time.sleep(0.05)
        assert r.status_code == 200, f"record {request_id} never appeared: {r.status_code} {r.text}"
        return r.json()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _binary() -> Path:
    value = os.environ.get("PROMPTGATE_BIN")
    if not value:
        pytest.exit(
            "PROMPTGATE_BIN is not set; run the suite through scripts/test "
            "(or set it to target/release/promptgate)",
            returncode=2,
        )
    path = Path(value)
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.exit(f"PROMPTGATE_BIN={value} is not an executable file", returncode=2)
    return path.resolve()


def _child_env(workdir: Path, admin_key: str) -> dict[str, str]:
    # Nothing from the caller's environment may reconfigure the gateway under
    # test (a stray PROMPTGATE__STORE__URL would point it at a shared database).
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PROMPTGATE") and k != "RUST_LOG"
    }
    env["PROMPTGATE_ADMIN_KEY"] = admin_key
    env["PROMPTGATE__STORE__URL"] = f"sqlite://{workdir / 'promptgate.db'}"
    env["PROMPTGATE_CONFIG"] = str(workdir / "promptgate.toml")
    env["PG_SDK_ANTHROPIC_KEY"] = ANTHROPIC_UPSTREAM_KEY
    env["RUST_LOG"] = "info"
    env["NO_COLOR"] = "1"  # plain server log, readable in test reports
    return env


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=SHUTDOWN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _start(binary: Path, workdir: Path, admin_key: str, log_path: Path, log_file) -> tuple[subprocess.Popen, str]:
    """Starts the gateway and waits for /healthz. Tries another port only if the
    chosen one was taken between picking it and binding it."""
    for _attempt in range(3):
        port = _free_port()
        origin = f"http://127.0.0.1:{port}"
        log_file.flush()
        log_offset = log_path.stat().st_size
        proc = subprocess.Popen(
            [str(binary), "serve", "--listen", f"127.0.0.1:{port}"],
            cwd=workdir,
            env=_child_env(workdir, admin_key),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                with open(log_path, "rb") as f:
                    f.seek(log_offset)
                    output = f.read().decode(errors="replace").lower()
                if "address already in use" in output or "addrinuse" in output:
                    break  # lost the race for the port: try another one
                raise RuntimeError(f"gateway exited with status {proc.returncode} before it was healthy")
            try:
                if httpx.get(f"{origin}/healthz", timeout=1.0).status_code == 200:
                    return proc, origin
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        else:
            _stop(proc)
            raise RuntimeError(f"/healthz did not answer 200 within {STARTUP_TIMEOUT_S} s")
    raise RuntimeError("could not bind a free port in 3 attempts")


def _start_mock_upstream(binary: Path, log_file) -> tuple[subprocess.Popen, int]:
    """`promptgate mock-upstream` on a free port: the Anthropic upstream."""
    for _attempt in range(3):
        port = _free_port()
        proc = subprocess.Popen(
            [str(binary), "mock-upstream", "--listen", f"127.0.0.1:{port}"],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1.0).status_code == 200:
                    return proc, port
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        _stop(proc)
    raise RuntimeError("could not start promptgate mock-upstream")


def _write_config(workdir: Path, anthropic_port: int) -> None:
    (workdir / "promptgate.toml").write_text(
        f"""
[[upstreams]]
name = "claude"
kind = "anthropic"
base_url = "http://127.0.0.1:{anthropic_port}/v1"
api_key_env = "PG_SDK_ANTHROPIC_KEY"
models = ["claude-*"]
"""
    )


def _with_team_key(origin: str, admin_key: str, log_path: Path) -> Gateway:
    """Creates a team and a team key through the admin API of a started gateway."""
    admin = {"Authorization": f"Bearer {admin_key}"}
    team = "sdk-" + secrets.token_hex(4)
    r = httpx.post(f"{origin}/v1/teams", json={"name": team}, headers=admin, timeout=10)
    assert r.status_code == 201, f"create team: {r.status_code} {r.text}"
    r = httpx.post(f"{origin}/v1/teams/{team}/keys", json={}, headers=admin, timeout=10)
    assert r.status_code == 201, f"create key: {r.status_code} {r.text}"
    key = r.json()["key"]
    assert key.startswith("pg-"), key
    return Gateway(
        origin=origin,
        base_url=f"{origin}/v1",
        key=key,
        admin_key=admin_key,
        team=team,
        log_path=log_path,
    )


@pytest.fixture(scope="session")
def gateway():
    binary = _binary()
    with tempfile.TemporaryDirectory(prefix="promptgate-sdk-") as tmp:
        workdir = Path(tmp)
        log_path = workdir / "server.log"
        admin_key = "admin-" + secrets.token_hex(24)
        with open(log_path, "wb") as log_file, open(workdir / "mock.log", "wb") as mock_log:
            try:
                mock_proc, mock_port = _start_mock_upstream(binary, mock_log)
            except RuntimeError as err:
                pytest.exit(str(err), returncode=1)
            _write_config(workdir, mock_port)
            try:
                proc, origin = _start(binary, workdir, admin_key, log_path, log_file)
            except RuntimeError as err:
                log_file.flush()
                _stop(mock_proc)
                # Nothing can run without the gateway: stop here, with its log.
                pytest.exit(
                    f"could not start {binary} serve: {err}\n"
                    f"---- promptgate server log ----\n{log_path.read_text(errors='replace')}",
                    returncode=1,
                )
            failed = False
            try:
                yield _with_team_key(origin, admin_key, log_path)
            except BaseException:
                failed = True
                raise
            finally:
                _stop(proc)
                _stop(mock_proc)
                log_file.flush()
                if failed:
                    print(f"---- promptgate server log (exit status {proc.returncode}) ----")
                    print(log_path.read_text(errors="replace"))
            # SIGTERM is a graceful shutdown: anything but a clean exit is a bug.
            if proc.returncode not in (0, -signal.SIGTERM):
                pytest.fail(
                    f"gateway exited with status {proc.returncode} on SIGTERM\n"
                    f"---- promptgate server log ----\n{log_path.read_text(errors='replace')}",
                    pytrace=False,
                )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attaches the server log to every failing test's report."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        gw = getattr(item, "funcargs", {}).get("gateway")
        if isinstance(gw, Gateway):
            report.sections.append(("promptgate server log", gw.log()[-20000:]))


@pytest.fixture(scope="session")
def client(gateway):
    """The official SDK pointed at the gateway with the team key. No retries:
    error tests must see the first answer, and retries would only slow them."""
    import openai

    with openai.OpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0, timeout=30.0) as c:
        yield c


@pytest.fixture
def start_gateway(tmp_path):
    """A factory for a gateway of the test's own: `start_gateway(toml)` starts the
    binary with that configuration (for upstreams the session gateway does not
    have) and returns its `Gateway`; it is stopped when the test ends."""
    binary = _binary()
    started: list[tuple[subprocess.Popen, object]] = []

    def start(config: str) -> Gateway:
        workdir = tmp_path / f"gateway-{len(started)}"
        workdir.mkdir()
        (workdir / "promptgate.toml").write_text(config)
        log_path = workdir / "server.log"
        log_file = open(log_path, "wb")
        admin_key = "admin-" + secrets.token_hex(24)
        try:
            proc, origin = _start(binary, workdir, admin_key, log_path, log_file)
        except RuntimeError as err:
            log_file.close()
            raise RuntimeError(f"{err}\n---- promptgate server log ----\n{log_path.read_text(errors='replace')}")
        started.append((proc, log_file))
        return _with_team_key(origin, admin_key, log_path)

    yield start
    for proc, log_file in started:
        _stop(proc)
        log_file.close()
