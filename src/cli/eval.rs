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
    /// Extra test set: JSONL of `{"context", "answer", "label"}` (label 1 =
    /// supported, 0 = hallucinated; `doc`/`claim` are accepted too). Repeatable:
    /// each set gets its own rows, named by the file stem (`extra:NAME`).
    #[arg(long)]
    extra: Vec<PathBuf>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: GroundingArgs,
    }

    #[test]
    fn extra_is_repeatable() {
        let cli = Cli::try_parse_from([
            "eval", "--path", "d", "--extra", "a.jsonl", "--extra", "b.jsonl",
        ])
        .unwrap();
        assert_eq!(
            cli.args.extra,
            [PathBuf::from("a.jsonl"), PathBuf::from("b.jsonl")]
        );
        let cli = Cli::try_parse_from(["eval", "--path", "d"]).unwrap();
        assert!(cli.args.extra.is_empty());
    }
}
