#!/usr/bin/env bash
# The floor under any proxy's numbers on the peer harness's setup: the fake
# upstream answering directly versus through `examples/tcp_relay.rs` (a byte
# relay: no HTTP parsing, no keys, no records), pinned like the harness pins a
# gateway (oha on LOADGEN_CPUS, upstream and relay sharing SUT_CPUS).
#
#   bench/lower_bound.sh            # stream c=8, chat c=1 and chat c=64; 2 rounds of 8 s each
#
# Needs oha and the harness's fake upstream (install them once with the peer
# harness: `$PEERS_DIR/run.sh --quick`). Every process started here is stopped
# by PID on exit. Only 127.0.0.1 is used.
set -euo pipefail

source "$(dirname "$0")/common.sh"
RELAY=$TARGET_DIR/release/examples/tcp_relay
SECONDS_PER_RUN=${SECONDS_PER_RUN:-8}
ROUNDS=${ROUNDS:-2}
RELAY_PORT=${RELAY_PORT:-19300}
UP_PORT=${UP_PORT:-19301}

[ "${SKIP_BUILD:-0}" = 1 ] || (cd "$ROOT" && cargo build --release --locked --example tcp_relay)
bench_tmp lower-bound

(exec taskset -c "$SUT_CPUS" "$FAKE" --listen "127.0.0.1:$UP_PORT" --threads 1 >"$TMP/upstream.log" 2>&1) &
PIDS+=($!)
(exec taskset -c "$SUT_CPUS" "$RELAY" "127.0.0.1:$RELAY_PORT" "127.0.0.1:$UP_PORT" >"$TMP/relay.log" 2>&1) &
RELAY_PID=$!
PIDS+=($RELAY_PID)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$RELAY_PORT/health" >/dev/null 2>&1 && break; sleep 0.1; done

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run() { # run <name> <port> <body> <concurrency>
  local name=$1 port=$2 body=$3 c=$4 before after
  before=$(ticks "$RELAY_PID")
  taskset -c "$LOADGEN_CPUS" "$OHA" --no-tui --output-format json -z "${SECONDS_PER_RUN}s" -c "$c" \
    -m POST -H 'content-type: application/json' -H 'authorization: Bearer x' \
    -D "$PEERS_DIR/bodies/$body" "http://127.0.0.1:$port/v1/chat/completions" > "$TMP/$name.json"
  after=$(ticks "$RELAY_PID")
  python3 - "$TMP/$name.json" "$name" "$((after - before))" "$(getconf CLK_TCK)" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
s, p = d["summary"], d["latencyPercentiles"]
name, ticks, hz = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
n = s["requestsPerSec"] * s["total"]
cpu = f"  relay CPU {ticks / hz / n * 1e6:.1f} µs/request" if name.startswith("relay") and n else ""
print(f"{name:<16} rps={s['requestsPerSec']:>8.0f}  p50={p['p50']*1000:.3f} ms  p99={p['p99']*1000:.3f} ms  ok={s['successRate']*100:.1f}%{cpu}")
PY
}

for round in $(seq "$ROUNDS"); do
  echo "== round $round"
  for scenario in "stream_c8 chat_stream.json 8" "chat_c1 chat.json 1" "chat_c64 chat.json 64"; do
    set -- $scenario
    run "direct $1" "$UP_PORT" "$2" "$3"
    run "relay $1" "$RELAY_PORT" "$2" "$3"
  done
done
