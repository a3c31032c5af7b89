#!/usr/bin/env bash
# Cache-hit benchmark: the release gateway answering from its in-process cache
# versus the fake upstream answering directly, in one run.
#
#   bench/cache.sh            # c=1 latency and c=64 throughput, 10 s each
#
# Needs oha and the harness's fake upstream (install them once with the peer
# harness: `$PEERS_DIR/run.sh --quick`). The gateway and the upstream share one
# core (SUT_CPUS, default 1); oha runs on LOADGEN_CPUS (default 0). Every
# process started here is stopped by PID on exit. Only 127.0.0.1 is used.
set -euo pipefail

source "$(dirname "$0")/common.sh"
BIN=$TARGET_DIR/release/promptgate
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
GW_PORT=${GW_PORT:-19200}
UP_PORT=${UP_PORT:-19201}
BODY=$PEERS_DIR/bodies/chat.json

[ "${SKIP_BUILD:-0}" = 1 ] || (cd "$ROOT" && cargo build --release --locked --bin promptgate)
bench_tmp cache-bench

cat > "$TMP/promptgate.toml" <<TOML
listen = "127.0.0.1:$GW_PORT"
[store]
url = "sqlite://$TMP/bench.db"
[cache]
# Every model is cached, so after the first request every answer is a hit.
rules = [{ models = ["*"], ttl_s = 3600 }]
[[upstreams]]
name = "fake"
base_url = "http://127.0.0.1:$UP_PORT/v1"
models = ["*"]
TOML
KEY=bench-$RANDOM$RANDOM

(exec taskset -c "$SUT_CPUS" "$FAKE" --listen "127.0.0.1:$UP_PORT" --threads 1 >"$TMP/upstream.log" 2>&1) &
PIDS+=($!)
(PROMPTGATE_ADMIN_KEY=$KEY RUST_LOG=warn exec taskset -c "$SUT_CPUS" "$BIN" serve --config "$TMP/promptgate.toml" >"$TMP/gw.log" 2>&1) &
GW_PID=$!
PIDS+=($GW_PID)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$GW_PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
# Warm the entry.
curl -fs "http://127.0.0.1:$GW_PORT/v1/chat/completions" -H "authorization: Bearer $KEY" \
  -H 'content-type: application/json' --data @"$BODY" -o /dev/null -D - | grep -i x-promptgate-cache

run() { # run <name> <url> <concurrency> [headers...]
  local name=$1 url=$2 c=$3; shift 3
  taskset -c "$LOADGEN_CPUS" "$OHA" --no-tui --output-format json -z "${SECONDS_PER_RUN}s" -c "$c" \
    -m POST -H 'content-type: application/json' "$@" -D "$BODY" "$url" > "$TMP/$name.json"
  python3 - "$TMP/$name.json" "$name" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
s, p = d["summary"], d["latencyPercentiles"]
print(f"{sys.argv[2]:<22} rps={s['requestsPerSec']:>9.0f}  p50={p['p50']*1000:.3f} ms  p99={p['p99']*1000:.3f} ms  ok={s['successRate']*100:.1f}%")
PY
}

echo "== c=1 (latency)"
run direct_c1 "http://127.0.0.1:$UP_PORT/v1/chat/completions" 1
run cache_hit_c1 "http://127.0.0.1:$GW_PORT/v1/chat/completions" 1 -H "authorization: Bearer $KEY"
echo "== c=64 (throughput)"
run direct_c64 "http://127.0.0.1:$UP_PORT/v1/chat/completions" 64
run cache_hit_c64 "http://127.0.0.1:$GW_PORT/v1/chat/completions" 64 -H "authorization: Bearer $KEY"
echo "gateway peak RSS: $(grep VmHWM /proc/$GW_PID/status | awk '{print $2/1024 " MiB"}')"
curl -fs "http://127.0.0.1:$GW_PORT/metrics" | grep -E '^promptgate_cache_lookups_total' || true
