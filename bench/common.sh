# Shared by the load scripts in bench/ (sourced, not run): where the tools
# are, how processes are pinned, and a temp dir whose processes are stopped
# by PID on exit. Needs oha and the peer harness's fake upstream (install them
# once with `$PEERS_DIR/run.sh --quick`). Only 127.0.0.1 is used.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PEERS_DIR=${PEERS_DIR:-$ROOT/../shared/bench/peers}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
FAKE=${FAKE_BIN:-/tmp/fake-upstream-target/release/fake-upstream}
OHA=${OHA:-$(command -v oha || echo "$HOME/.cargo/bin/oha")}
SUT_CPUS=${SUT_CPUS:-1}
LOADGEN_CPUS=${LOADGEN_CPUS:-0}

[ -x "$OHA" ] || { echo "oha not found (install it with the peer harness)" >&2; exit 1; }
[ -x "$FAKE" ] || { echo "fake upstream not found at $FAKE (build it with the peer harness)" >&2; exit 1; }

# bench_tmp <name>: a temp dir in $TMP; processes whose PIDs are added to PIDS
# are stopped when the script exits, and the dir is removed.
bench_tmp() {
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/promptgate-$1.XXXXXX")
  PIDS=()
  trap bench_cleanup EXIT
}

bench_cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
