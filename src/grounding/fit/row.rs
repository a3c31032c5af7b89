//! The unit the fitting procedure works on.

use crate::grounding::features::NC;

/// One labelled answer for fitting.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    pub x: [f64; NC],
    pub hallucinated: bool,
    /// Row weight (each data set's rows sum to the same total).
    pub weight: f64,
    /// Source group: rows of one source are never split by inner folds.
    pub group: u64,
    /// Data set index (selection asks for a gain in each).
    pub dataset: u8,
}
