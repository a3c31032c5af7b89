//! `promptgate eval grounding`: the grounding scorer's out-of-sample evaluation
//! (cross-validation by source, cross-dataset, the one-signal baseline beside
//! every figure, reliability and operating points). Runs locally on the data
//! folders given; no gateway is needed.

use std::path::PathBuf;

use clap::Args;

use crate::grounding::eval::{run, Inputs};

#[derive(Args)]
pub struct GroundingArgs {
    /// Folder holding `faithbench-dev/` and `halueval-qa/`.
    #[arg(long)]
    path: PathBuf,
    /// FaithBench folder (`batch_*.json`), if not `<path>/faithbench-dev`.
    #[arg(long)]
    faithbench: Option<PathBuf>,
    /// HaluEval QA folder or `.jsonl` file, if not `<path>/halueval-qa`.
    #[arg(long)]
    halueval: Option<PathBuf>,
    /// Optional extra test set: JSONL of `{"context", "answer", "label"}`
    /// (label 1 = supported, 0 = hallucinated; `doc`/`claim` are accepted too).
    #[arg(long)]
    extra: Option<PathBuf>,
}

/// Runs the evaluation and returns the printed report.
pub fn grounding(args: GroundingArgs) -> Result<String, String> {
    let mut inputs = Inputs::under(&args.path);
    if let Some(p) = args.faithbench {
        inputs.faithbench = p;
    }
    if let Some(p) = args.halueval {
        inputs.halueval = p;
    }
    inputs.extra = args.extra;
    run(&inputs).map(|r| r.to_string())
}
