//! The unit the fitting procedure works on.

use crate::grounding::features::NC;

/// One labelled answer for fitting.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    pub x: [f64; NC],
    pub hallucinated: bool,
    /// Row weight (each data set's rows sum to the same total).
    pub weight: f64,
    /// Source group: the cross-validation folds never split a source's rows.
    pub group: u64,
    /// Data set index (the threshold rules take the worst data set).
    pub dataset: u8,
}
