#!/usr/bin/env bash
# Refit src/grounding/weights.json on FaithBench dev (../shared/datasets/faithbench-dev).
# The fitting code is Rust (src/grounding/scorer.rs::fit, driven by
# src/grounding/eval.rs::fit_builtin); this runs it through an ignored test.
set -euo pipefail
cd "$(dirname "$0")/.."
GROUNDING_WRITE_WEIGHTS="$PWD/src/grounding/weights.json" \
  cargo test --release --lib grounding::eval::tests::refit_weights -- --ignored --nocapture
echo "wrote src/grounding/weights.json; re-run: cargo test --lib grounding (eval test checks the thresholds)"
