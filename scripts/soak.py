"""The load and the sampling of `scripts/soak` (see there for how to run it).

Starts one gateway (temporary SQLite store, the built-in mock upstream, the
repository's prompts/ folder), sends mixed traffic from N client threads for a
set time, samples the gateway process every --interval seconds into a CSV and
prints a summary of the samples taken after the warm-up. Standard library only.
"""

import argparse
import csv
import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter

ADMIN_KEY = "soak-admin-" + os.urandom(12).hex()
TEAM = "soak"
PROMPT = "soak-greet"

# How often each kind of call is picked; the numbers are relative weights.
MIX = {
    "plain": 3,  # chat, unique content, not cached
    "stream": 3,  # streamed chat read to [DONE]
    "cache_hit": 3,  # one of a few fixed bodies with a cache TTL: hits once warm
    "cache_expiring": 1,  # unique body cached for 2 s: misses whose entries expire
    "prompt": 2,  # the API-created registry prompt
    "prompt_stream": 1,  # the same, streamed
    "rag": 1,  # the shipped support/rag-answer prompt: grounded on its docs variable
    "grounded": 1,  # mock-repeat with grounding.context
    "abort_stream": 1,  # a slow stream cut after its first bytes
    "abort_call": 1,  # a slow non-streamed call cut before its answer
}
CACHED_BODIES = 32
DOCS = [
    "Refunds are issued within 5 business days.",
    "Refunds go back to the original payment method.",
    "Orders ship from the warehouse in Lyon within 24 hours.",
]


class Unexpected(Exception):
    """An answer the gateway should not have given."""


def parse_duration(text):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smh]?)", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 90s, 5m, 1h)")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gateway:
    """The gateway process under test."""

    def __init__(self, binary, repo, workdir):
        self.port = free_port()
        self.workdir = workdir
        os.makedirs(workdir, exist_ok=True)
        config = os.path.join(workdir, "promptgate.toml")
        self.db = os.path.join(workdir, "promptgate.db")
        with open(config, "w") as f:
            f.write(
                f'prompts_dir = "{repo}/prompts"\n'
                "shutdown_grace_s = 5\n"
                "[store]\n"
                f'url = "sqlite://{self.db}"\n'
            )
        env = dict(os.environ, PROMPTGATE_ADMIN_KEY=ADMIN_KEY)
        env.setdefault("RUST_LOG", "info")
        self.log = open(os.path.join(workdir, "gateway.log"), "w")
        self.proc = subprocess.Popen(
            [binary, "serve", "--config", config, "--listen", f"127.0.0.1:{self.port}"],
            cwd=workdir,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def db_bytes(self):
        """Size of the SQLite store: its file and its write-ahead log."""
        return sum(
            os.path.getsize(p)
            for p in (self.db, self.db + "-wal")
            if os.path.exists(p)
        )

    def call(self, method, path, body=None, key=ADMIN_KEY, timeout=10):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            data = None if body is None else json.dumps(body).encode()
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def wait_ready(self, seconds=60):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"soak: the gateway exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if self.call("GET", "/readyz", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"soak: the gateway was not ready within {seconds} s; see {self.log.name}")

    def setup(self):
        """A team and its key, and a registry prompt written through the API."""
        status, _ = self.call("POST", "/v1/teams", {"name": TEAM})
        expect(status == 201 or status == 200, f"create team: {status}")
        status, body = self.call("POST", f"/v1/teams/{TEAM}/keys", {})
        expect(status in (200, 201), f"create key: {status} {body[:200]!r}")
        key = json.loads(body)["key"]
        version = {
            "type": "chat",
            "messages": [{"role": "system", "content": "Greet {{name}} briefly, about {{topic}}."}],
            "config": {"model": "mock-1", "temperature": 0.3},
            "variables_schema": {"name": "string", "topic": "string"},
            "labels": ["production"],
            "commit_message": "soak",
        }
        status, body = self.call("POST", f"/v1/prompts/{PROMPT}/versions", version)
        expect(status in (200, 201), f"create prompt: {status} {body[:200]!r}")
        return key

    def stop(self):
        """SIGTERM, as an orchestrator would; the exit status is returned."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def expect(ok, message):
    if not ok:
        raise Unexpected(message)


class Client(threading.Thread):
    """One client: one keep-alive connection at a time, closed by each cut call."""

    def __init__(self, index, gateway, key, stop_at, pause, totals):
        super().__init__(daemon=True)
        self.index = index
        self.gateway = gateway
        self.key = key
        self.stop_at = stop_at
        self.pause = pause
        self.totals = totals
        self.rng = random.Random(index)
        self.conn = None
        self.serial = 0

    def run(self):
        kinds = list(MIX)
        weights = [MIX[k] for k in kinds]
        while time.monotonic() < self.stop_at:
            kind = self.rng.choices(kinds, weights)[0]
            self.serial += 1
            try:
                outcome = getattr(self, kind)()
                self.totals.done(kind, outcome)
            except (Unexpected, OSError, http.client.HTTPException, ValueError) as err:
                self.totals.error(kind, f"{type(err).__name__}: {err}")
                self.close()
            if self.pause:
                time.sleep(self.pause)
        self.close()

    # --- transport ---------------------------------------------------------

    def headers(self):
        return {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}

    def post(self, body, path="/v1/chat/completions"):
        """One call on the keep-alive connection: (status, headers, body)."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.gateway.port, timeout=30)
        self.conn.request("POST", path, body=json.dumps(body).encode(), headers=self.headers())
        resp = self.conn.getresponse()
        data = resp.read()
        return resp.status, resp, data

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def unique(self, what):
        return f"{what} {self.index}-{self.serial}: what is the status of order {self.rng.randrange(10**9)}?"

    def chat(self, body, stream=False):
        status, resp, data = self.post(dict(body, stream=stream))
        expect(status == 200, f"status {status}: {data[:300]!r}")
        if stream:
            expect(data.rstrip().endswith(b"data: [DONE]"), f"stream did not end with [DONE]: {data[-200:]!r}")
        else:
            json.loads(data)
        return resp, data

    # --- the kinds of call -------------------------------------------------

    def plain(self):
        self.chat(
            {
                "model": "mock-1",
                "messages": [{"role": "user", "content": self.unique("plain")}],
                "metadata": {"user": f"u-{self.index}"},
            }
        )

    def stream(self):
        self.chat({"model": "mock-1", "messages": [{"role": "user", "content": self.unique("stream")}]}, True)

    def cache_hit(self):
        n = self.rng.randrange(CACHED_BODIES)
        body = {
            "model": "mock-1",
            "cache": {"ttl": 3600},
            "messages": [{"role": "user", "content": f"cached question number {n}"}],
        }
        resp, _ = self.chat(body)
        state = resp.getheader("x-promptgate-cache")
        expect(state in ("hit", "miss"), f"x-promptgate-cache: {state}")
        return state

    def cache_expiring(self):
        body = {
            "model": "mock-1",
            "cache": {"ttl": 2},
            "messages": [{"role": "user", "content": self.unique("expiring")}],
        }
        resp, _ = self.chat(body)
        state = resp.getheader("x-promptgate-cache")
        expect(state == "miss", f"a unique body was not a miss: {state}")

    def prompt_body(self):
        names = ["Ada", "Grace", "Linus", "Barbara"]
        return {
            "prompt": {"id": PROMPT, "variables": {"name": self.rng.choice(names), "topic": self.unique("topic")}},
            "metadata": {"user": f"u-{self.index}"},
        }

    def prompt(self):
        resp, _ = self.chat(self.prompt_body())
        used = resp.getheader("x-promptgate-prompt") or ""
        expect(used.startswith(f"{PROMPT}@"), f"x-promptgate-prompt: {used!r}")

    def prompt_stream(self):
        _, data = self.chat(self.prompt_body(), stream=True)
        expect(b"x-promptgate" not in data, "headers leaked into the stream")

    def rag(self):
        body = {
            "prompt": {
                "id": "support/rag-answer",
                "variables": {"question": self.unique("refund"), "docs": self.rng.sample(DOCS, 2)},
            }
        }
        resp, _ = self.chat(body)
        expect(resp.getheader("x-promptgate-grounding") is not None, "no x-promptgate-grounding on a RAG call")
        return "flagged" if resp.getheader("x-promptgate-flagged") == "true" else "supported"

    def grounded(self):
        answer = self.rng.choice(["Refunds are issued within 5 business days.", "Refunds take 30 days, in cash."])
        body = {
            "model": "mock-repeat",
            "messages": [{"role": "user", "content": answer}],
            "grounding": {"context": DOCS},
        }
        resp, _ = self.chat(body)
        expect(resp.getheader("x-promptgate-grounding") is not None, "no x-promptgate-grounding")
        return "flagged" if resp.getheader("x-promptgate-flagged") == "true" else "supported"

    def cut_connection(self, stream):
        """A call cut by hanging up, as a client that gives up closes its connection."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.gateway.port, timeout=30)
        try:
            body = {
                "model": "mock-slow",
                "stream": stream,
                "messages": [{"role": "user", "content": self.unique("cut")}],
            }
            self.conn.request("POST", "/v1/chat/completions", body=json.dumps(body).encode(), headers=self.headers())
            if stream:
                # The head comes with the first event; mock-slow then waits 100 ms per chunk.
                resp = self.conn.getresponse()
                expect(resp.status == 200, f"status {resp.status}")
                expect(resp.read1(64).startswith(b"data: "), "the stream did not start with an event")
            else:
                # mock-slow answers after 100 ms: hang up before that.
                time.sleep(0.03)
        finally:
            self.close()

    def abort_stream(self):
        self.cut_connection(stream=True)

    def abort_call(self):
        self.cut_connection(stream=False)


class Totals:
    """Counts shared by the client threads."""

    def __init__(self, errors_path):
        self.lock = threading.Lock()
        self.requests = 0
        self.errors = 0
        self.kinds = Counter()
        self.outcomes = Counter()
        self.error_log = open(errors_path, "w")

    def done(self, kind, outcome):
        with self.lock:
            self.requests += 1
            self.kinds[kind] += 1
            if outcome:
                self.outcomes[f"{kind}:{outcome}"] += 1

    def error(self, kind, message):
        with self.lock:
            self.requests += 1
            self.errors += 1
            self.kinds[kind] += 1
            self.error_log.write(f"{time.strftime('%H:%M:%S')} {kind} {message}\n")
            self.error_log.flush()

    def snapshot(self):
        with self.lock:
            return self.requests, self.errors


STATUS_FIELDS = {"VmRSS": "rss_kib", "RssAnon": "rss_anon_kib", "RssFile": "rss_file_kib", "Threads": "threads"}


def read_process(pid):
    """RSS (whole, anonymous, file-backed) in KiB, threads, open fds and CPU seconds of a process, from /proc."""
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, rest = line.partition(":")
            if name in STATUS_FIELDS:
                values[STATUS_FIELDS[name]] = int(rest.split()[0])
    fd_dir = f"/proc/{pid}/fd"
    links = []
    for fd in os.listdir(fd_dir):
        try:
            links.append(os.readlink(os.path.join(fd_dir, fd)))
        except OSError:  # closed between the listing and the read
            pass
    values["fds"] = len(links)
    # Sockets (the clients' connections, which come and go with the traffic)
    # apart from files, pipes and event fds, where a leak would show.
    values["fds_sockets"] = sum(link.startswith("socket:") for link in links)
    with open(f"/proc/{pid}/stat") as f:
        # utime and stime are fields 14 and 15; the command name before them may hold spaces.
        fields = f.read().rsplit(")", 1)[1].split()
    values["cpu_s"] = round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 1)
    return values


def scrape(gateway, names):
    """The values of unlabelled series in /metrics (None when absent or unreachable)."""
    try:
        status, body = gateway.call("GET", "/metrics", timeout=5)
    except OSError:
        return {n: None for n in names}
    values = {n: None for n in names}
    if status == 200:
        for line in body.decode().splitlines():
            parts = line.split(" ")
            if len(parts) == 2 and parts[0] in values:
                values[parts[0]] = float(parts[1])
    return values


COLUMNS = [
    "elapsed_s", "rss_kib", "rss_anon_kib", "rss_file_kib", "fds", "fds_sockets", "threads", "tokio_tasks",
    "in_flight", "cache_bytes", "db_bytes", "cpu_s", "requests", "errors",
]
SCRAPED = {
    "tokio_tasks": "promptgate_tokio_alive_tasks",
    "in_flight": "promptgate_in_flight_requests",
    "cache_bytes": "promptgate_cache_local_bytes",
}


def sample(gateway, started, totals):
    row = {"elapsed_s": round(time.monotonic() - started)}
    row.update(read_process(gateway.proc.pid))
    metrics = scrape(gateway, SCRAPED.values())
    for column, name in SCRAPED.items():
        row[column] = "" if metrics[name] is None else int(metrics[name])
    row["db_bytes"] = gateway.db_bytes()
    row["requests"], row["errors"] = totals.snapshot()
    return row


def spread(values):
    lo, hi = min(values), max(values)
    return lo, hi, (hi - lo) * 100.0 / lo if lo else float("inf")


def summarize(rows, warmup, max_spread):
    """Summary lines and whether the spread stayed within bounds."""
    after = [r for r in rows if r["elapsed_s"] >= warmup]
    if len(after) < 2:
        return [f"fewer than 2 samples after the {warmup:.0f} s warm-up: nothing to judge"], False
    lines, ok = [], True
    for column, unit, gated in [
        ("rss_kib", "KiB", True),
        ("rss_anon_kib", "KiB", False),
        ("rss_file_kib", "KiB", False),
        ("fds", "", True),
        ("fds_sockets", "", False),
        ("threads", "", False),
        ("tokio_tasks", "", False),
        ("cache_bytes", "B", False),
        ("db_bytes", "B", False),
    ]:
        values = [r[column] for r in after if r[column] != ""]
        if not values:
            lines.append(f"{column}: not sampled")
            continue
        lo, hi, pct = spread(values)
        verdict = ""
        if gated:
            verdict = "ok" if pct <= max_spread else f"OVER {max_spread:g} %"
            ok = ok and pct <= max_spread
        lines.append(
            f"{column:12} min {lo:>10} {unit:3} max {hi:>10} {unit:3} last {values[-1]:>10} {unit:3} "
            f"spread {pct:5.1f} % {verdict}"
        )
    return lines, ok


def main():
    p = argparse.ArgumentParser(description="promptgate soak run (see scripts/soak)")
    p.add_argument("--bin", required=True, help="the promptgate binary")
    p.add_argument("--repo", required=True, help="the repository (for prompts/)")
    p.add_argument("--duration", type=parse_duration, default=parse_duration("60m"))
    p.add_argument("--warmup", type=parse_duration, default=parse_duration("5m"))
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--interval", type=parse_duration, default=10.0, help="seconds between samples")
    p.add_argument("--pause", type=parse_duration, default=0.0, help="each client's pause between calls")
    p.add_argument("--max-spread", type=float, default=10.0, help="largest RSS / fd spread after warm-up, in %%")
    p.add_argument("--out", required=True, help="folder for samples.csv, summary.txt, errors.log and the gateway's files")
    args = p.parse_args()
    if args.concurrency < 1:
        p.error("--concurrency must be at least 1")

    os.makedirs(args.out, exist_ok=True)
    gateway = Gateway(args.bin, args.repo, os.path.join(args.out, "gateway"))
    try:
        gateway.wait_ready()
        key = gateway.setup()
    except (Unexpected, OSError) as err:
        gateway.stop()
        raise SystemExit(f"soak: setup failed: {err}")

    totals = Totals(os.path.join(args.out, "errors.log"))
    started = time.monotonic()
    stop_at = started + args.duration
    clients = [Client(i, gateway, key, stop_at, args.pause, totals) for i in range(args.concurrency)]
    print(
        f"soak: gateway pid {gateway.proc.pid} on port {gateway.port}; {args.concurrency} clients for "
        f"{args.duration:.0f} s (warm-up {args.warmup:.0f} s); samples every {args.interval:g} s in {args.out}",
        flush=True,
    )
    for c in clients:
        c.start()

    rows = []
    died = False
    with open(os.path.join(args.out, "samples.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        next_at = started
        while True:
            if gateway.proc.poll() is not None:
                died = True
                break
            row = sample(gateway, started, totals)
            rows.append(row)
            writer.writerow(row)
            f.flush()
            print(" ".join(f"{k}={row[k]}" for k in COLUMNS), flush=True)
            next_at += args.interval
            if next_at > stop_at:
                break
            time.sleep(max(0.0, next_at - time.monotonic()))
    for c in clients:
        c.join(timeout=60)

    # Once the traffic has stopped, every call's task should be gone.
    idle = None
    if not died:
        time.sleep(2)
        idle = sample(gateway, started, totals)
    exit_status = gateway.stop()

    requests, errors = totals.snapshot()
    lines = [
        f"duration {args.duration:.0f} s, warm-up {args.warmup:.0f} s, concurrency {args.concurrency}, "
        f"{len(rows)} samples",
        f"requests {requests} ({requests / max(args.duration, 1):.0f}/s), unexpected errors {errors}",
        "by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(totals.kinds.items())),
        "outcomes: " + ", ".join(f"{k} {n}" for k, n in sorted(totals.outcomes.items())),
    ]
    judged, ok = summarize(rows, args.warmup, args.max_spread)
    lines += judged
    if idle:
        lines.append(
            f"idle after the load: tokio_tasks {idle['tokio_tasks']}, in_flight {idle['in_flight']}, "
            f"fds {idle['fds']}, rss {idle['rss_kib']} KiB"
        )
    lines.append(f"gateway exit status after SIGTERM: {exit_status}")
    if died:
        lines.append("THE GATEWAY DIED during the run")
    if errors:
        lines.append(f"unexpected errors: see {os.path.join(args.out, 'errors.log')}")
    if totals.outcomes.get("cache_hit:hit", 0) == 0:
        lines.append("no cache hit was seen")
        ok = False
    passed = ok and not died and errors == 0 and exit_status == 0
    lines.append("PASS" if passed else "FAIL")
    with open(os.path.join(args.out, "summary.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
