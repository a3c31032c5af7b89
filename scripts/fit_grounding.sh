#!/usr/bin/env bash
# Refit src/grounding/weights.json on FaithBench dev and HaluEval QA with the same
# procedure `promptgate eval grounding` cross-validates (src/grounding/fit.rs,
# driven by src/grounding/eval.rs::fit_builtin); this runs it through an ignored test.
# Data: GROUNDING_DATASETS (default: ../shared/datasets beside the checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
GROUNDING_WRITE_WEIGHTS="$PWD/src/grounding/weights.json" \
  cargo test --release --lib grounding::eval::tests::refit_weights -- --ignored --nocapture
echo "wrote src/grounding/weights.json; re-run: cargo test --lib grounding"
