#!/usr/bin/env bash
# Benchmark promptgate against the peer-gateway harness (direct upstream, LiteLLM,
# Portkey) with the harness's fake upstream behind every gateway.
#
# Usage (from anywhere):
#   bench/run.sh                          # full run: direct, litellm, portkey, promptgate (3 rounds, ~12 min)
#   bench/run.sh --quick --only direct    # smoke run: direct vs promptgate, 1 round x 2 s
#   bench/run.sh --bench-args '--scenarios chat_c1 --rounds 5'
#   UPSTREAM_CPUS=0 bench/run.sh --only direct   # fake upstream on the load generator's core
# Every argument is passed to the harness's run.sh (see `$PEERS_DIR/run.sh --help`).
#
# Environment:
#   PEERS_DIR         harness folder (default: ../shared/bench/peers relative to the repo root)
#   CARGO_TARGET_DIR  cargo target dir (default: target); the binary is $CARGO_TARGET_DIR/release/promptgate
#   PROMPTGATE_PORT   port promptgate listens on (default 9000)
#   UPSTREAM_PORT     fake upstream port (default 18080, the harness's default)
#   SKIP_BUILD=1      use the existing binary instead of running cargo build
#   KEEP_TMP=1        keep the temp dir (config, sqlite db, setup log)
#   SUT_CPUS / UPSTREAM_CPUS / LOADGEN_CPUS are read by the harness itself.
#
# The harness's install step (oha, LiteLLM, Portkey) is skipped: run `$PEERS_DIR/run.sh --quick`
# once beforehand to install them.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS_DIR=${PEERS_DIR:-$ROOT/../shared/bench/peers}
PEERS_DIR=$(cd "$PEERS_DIR" && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-target}
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR=$ROOT/$TARGET_DIR ;; esac
BIN=$TARGET_DIR/release/promptgate
PORT=${PROMPTGATE_PORT:-9000}
UPSTREAM_PORT=${UPSTREAM_PORT:-18080}
BASE=http://127.0.0.1:$PORT

[ -x "$PEERS_DIR/run.sh" ] || { echo "harness not found: $PEERS_DIR/run.sh (set PEERS_DIR)" >&2; exit 1; }

# ---------------------------------------------------------------- build
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  (cd "$ROOT" && cargo build --release --locked --bin promptgate)
fi
[ -x "$BIN" ] || { echo "binary not found: $BIN" >&2; exit 1; }
GIT_STATUS=$(git -C "$ROOT" status --short 2>/dev/null || true)

# ---------------------------------------------------------------- temp dir + config
TMP=$(mktemp -d "${TMPDIR:-/tmp}/promptgate-bench.XXXXXX")
SETUP_PID=""
cleanup() {
  if [ -n "$SETUP_PID" ] && kill -0 "$SETUP_PID" 2>/dev/null; then
    kill -TERM "$SETUP_PID" 2>/dev/null || true
    wait "$SETUP_PID" 2>/dev/null || true
  fi
  if [ "${KEEP_TMP:-0}" = 1 ]; then echo "temp dir kept: $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cat > "$TMP/promptgate.toml" <<EOF
listen = "127.0.0.1:$PORT"

[store]
url = "sqlite://$TMP/bench.db"

[[upstreams]]
name = "fake"
base_url = "http://127.0.0.1:$UPSTREAM_PORT/v1"
models = ["*"]
timeout_s = 30
EOF

ADMIN_KEY=pg-admin-bench-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')

if ss -ltn "sport = :$PORT" | grep -q LISTEN; then
  echo "port $PORT already in use; stop that process or set PROMPTGATE_PORT" >&2; exit 1
fi

# Run promptgate from the temp dir so that relative defaults (e.g. the prompt
# folder it syncs at start) do not depend on where this script was called from.
cd "$TMP"

# ---------------------------------------------------------------- one-off setup: team + key
(exec env PROMPTGATE_ADMIN_KEY="$ADMIN_KEY" "$BIN" serve --config "$TMP/promptgate.toml" >"$TMP/setup.log" 2>&1) &
SETUP_PID=$!
for _ in $(seq 1 150); do
  curl -fs -o /dev/null --max-time 1 "$BASE/healthz" && break
  kill -0 "$SETUP_PID" 2>/dev/null || { echo "promptgate exited during setup:" >&2; cat "$TMP/setup.log" >&2; exit 1; }
  sleep 0.2
done
curl -fs -o /dev/null --max-time 1 "$BASE/healthz" || { echo "promptgate did not come up" >&2; cat "$TMP/setup.log" >&2; exit 1; }

api() { # method path [json]
  curl -sS --fail-with-body --max-time 10 -X "$1" -H "authorization: Bearer $ADMIN_KEY" \
    -H 'content-type: application/json' ${3:+-d "$3"} "$BASE$2"
}
api POST /v1/teams '{"name":"bench"}' > "$TMP/team.json" || { echo "create team failed: $(cat "$TMP/team.json")" >&2; exit 1; }
api POST /v1/teams/bench/keys '{}' > "$TMP/key.json" || { echo "create key failed: $(cat "$TMP/key.json")" >&2; exit 1; }
TEAM_KEY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["key"])' "$TMP/key.json")
[ -n "$TEAM_KEY" ] || { echo "no key in $(cat "$TMP/key.json")" >&2; exit 1; }

kill -TERM "$SETUP_PID"
wait "$SETUP_PID" 2>/dev/null || true
SETUP_PID=""
echo "setup: team 'bench' and key ${TEAM_KEY:0:9}… created in $TMP/bench.db"

# ---------------------------------------------------------------- measure
CMD="env PROMPTGATE_ADMIN_KEY=$ADMIN_KEY $(printf '%q' "$BIN") serve --config $(printf '%q' "$TMP/promptgate.toml")"
set +e
UPSTREAM_PORT=$UPSTREAM_PORT "$PEERS_DIR/run.sh" --skip-install \
  --extra "promptgate=$BASE/v1" \
  --extra-cmd "$CMD" \
  --extra-header "authorization: Bearer $TEAM_KEY" \
  "$@" 2>&1 | tee "$TMP/harness.log"
RC=${PIPESTATUS[0]}
set -e

OUT=$(sed -n 's/^results: //p' "$TMP/harness.log" | tail -1)
if [ -n "$OUT" ] && [ -d "$OUT" ]; then
  cp "$TMP/promptgate.toml" "$OUT/promptgate.toml"
  {
    echo "commit: $(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
    echo "binary: $BIN (modified $(date -u -r "$BIN" +%Y-%m-%dT%H:%M:%SZ), sha256 $(sha256sum "$BIN" | cut -c1-16))"
    echo "uncommitted changes at build time:"; echo "$GIT_STATUS"
  } > "$OUT/promptgate-version.txt"
  [ -f "$OUT/extra.log" ] && mv "$OUT/extra.log" "$OUT/promptgate.log"
  echo
  echo "promptgate bench results: $OUT (table.md, summary.json, versions.txt, promptgate.log)"
else
  echo "harness exited with $RC before writing results" >&2
fi
exit "$RC"
