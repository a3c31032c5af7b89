//! The evaluation's splits: which rows each fit trains on, and what it is
//! tested on. The names the tables print are made from these.

use super::cross_validation::{cross_dataset, cross_validate};
use super::datasets::Dataset;
use super::report::Split;
use crate::grounding::fit::{Procedure, Row};

/// The rows a split fits on.
#[derive(Clone, Copy, Debug)]
pub enum Train {
    Only(Dataset),
    /// FaithBench and HaluEval together (never the extra set).
    Both,
}

/// What a split is tested on.
#[derive(Clone, Copy, Debug)]
pub enum Test {
    /// Held-out source folds of one set (each fold's fit never sees them).
    Folds(Dataset),
    /// All of another set.
    Across(Dataset),
}

/// The splits every run reports.
pub const SHARED: [(Train, Test); 6] = [
    (
        Train::Only(Dataset::FaithBench),
        Test::Folds(Dataset::FaithBench),
    ),
    (Train::Both, Test::Folds(Dataset::FaithBench)),
    (
        Train::Only(Dataset::HaluEval),
        Test::Folds(Dataset::HaluEval),
    ),
    (Train::Both, Test::Folds(Dataset::HaluEval)),
    (
        Train::Only(Dataset::FaithBench),
        Test::Across(Dataset::HaluEval),
    ),
    (
        Train::Only(Dataset::HaluEval),
        Test::Across(Dataset::FaithBench),
    ),
];

/// The splits on the optional extra set.
pub const EXTRA: [(Train, Test); 3] = [
    (
        Train::Only(Dataset::FaithBench),
        Test::Across(Dataset::Extra),
    ),
    (Train::Only(Dataset::HaluEval), Test::Across(Dataset::Extra)),
    (Train::Both, Test::Across(Dataset::Extra)),
];

impl Train {
    fn admits(self, r: &Row) -> bool {
        match self {
            Train::Only(d) => r.dataset == d.id(),
            Train::Both => r.dataset != Dataset::Extra.id(),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Train::Only(d) => d.label(),
            Train::Both => "both",
        }
    }
}

/// Fits and scores one split of `rows`; `extra` names the extra set the rows
/// hold, if any (printed as `extra:NAME`).
pub fn run(
    rows: &[Row],
    (train, test): (Train, Test),
    p: &Procedure,
    extra: Option<&str>,
) -> Split {
    let admits = |r: &Row| train.admits(r);
    let label = |d: Dataset| match (d, extra) {
        (Dataset::Extra, Some(name)) => format!("{}:{name}", d.label()),
        _ => d.label().to_string(),
    };
    match test {
        Test::Folds(d) => {
            let name = format!("{} CV by source, trained on {}", label(d), train.label());
            Split::new(&name, d, cross_validate(rows, d.id(), admits, p))
        }
        Test::Across(d) => {
            let name = format!("fit on {}, test on {}", train.label(), label(d));
            Split::new(&name, d, cross_dataset(rows, admits, d.id(), p))
        }
    }
}
