//! Per-group sums over a window of request records, read a slice at a time,
//! and the running sums the drift monitor slides forward instead of
//! re-reading its windows.
//!
//! Why slices: SQLite groups a window by sorting every record in it, and a
//! sort larger than its cache spills to temporary files whose merge buffers
//! grow with the window. Scanning seven days of records each minute made a
//! soak's resident memory climb as the table grew; statements of at most
//! [`SLICE_MS`] keep every sort small, whatever the table holds.
//!
//! Why running sums: the drift windows only move by one check interval
//! between checks, so a check reads three thin slices (the new edge of the
//! recent window, the part that passes from recent to reference, and the
//! part that leaves the reference) instead of a week of records on every
//! replica every minute. Sums of squares are floats, so adding and taking
//! away drifts by rounding; the monitor rebuilds from scratch every
//! `drift_rebuild_ms`, which also counts records that were written later
//! than `drift_settle_ms` after they were made (during a store outage).

use std::collections::BTreeMap;

use crate::store::{GroupStats, StatsQuery, Store, StoreResult};

/// The two windows compared.
#[derive(Debug, Clone, Copy)]
pub struct Windows {
    pub reference_from_ms: i64,
    /// The reference window ends where the recent one starts.
    pub split_ms: i64,
    pub to_ms: i64,
}

/// The widest window one statement sums.
pub const SLICE_MS: i64 = 5 * 60_000;

/// The group of a record: prompt name and version, or a raw call's model.
pub type GroupKey = (Option<String>, Option<i64>, Option<String>);

/// Sums per group.
pub type Sums = BTreeMap<GroupKey, GroupStats>;

fn key(s: &GroupStats) -> GroupKey {
    (s.prompt_name.clone(), s.prompt_version, s.model.clone())
}

/// The sums of `team`'s records (`None`: every team's) created in
/// `[from_ms, to_ms)`, one statement per [`SLICE_MS`], one after another.
pub async fn sums(
    store: &dyn Store,
    team: Option<&str>,
    from_ms: i64,
    to_ms: i64,
) -> StoreResult<Sums> {
    let mut out = Sums::new();
    let mut start = from_ms;
    while start < to_ms {
        let end = to_ms.min(start.saturating_add(SLICE_MS));
        let q = StatsQuery {
            from_ms: start,
            to_ms: end,
            team: team.map(str::to_owned),
            prompt: None,
        };
        for row in store.group_stats(&q).await? {
            add(&mut out, &row, 1);
        }
        start = end;
    }
    Ok(out)
}

/// Adds (`sign` 1) or takes away (`sign` -1) `row` to its group in `into`;
/// a group left with no records is removed, so groups that aged out of
/// both windows are not kept.
pub fn add(into: &mut Sums, row: &GroupStats, sign: i64) {
    let k = key(row);
    let s = into.entry(k.clone()).or_insert_with(|| GroupStats {
        prompt_name: row.prompt_name.clone(),
        prompt_version: row.prompt_version,
        model: row.model.clone(),
        ..GroupStats::default()
    });
    let f = sign as f64;
    s.requests += sign * row.requests;
    s.errors += sign * row.errors;
    s.flag_n += sign * row.flag_n;
    s.flagged += sign * row.flagged;
    s.score_n += sign * row.score_n;
    s.score_sum += f * row.score_sum;
    s.score_sq += f * row.score_sq;
    s.cost_n += sign * row.cost_n;
    s.cost_sum += f * row.cost_sum;
    s.cost_sq += f * row.cost_sq;
    s.input_n += sign * row.input_n;
    s.input_sum += f * row.input_sum;
    s.input_sq += f * row.input_sq;
    s.output_n += sign * row.output_n;
    s.output_sum += f * row.output_sum;
    s.output_sq += f * row.output_sq;
    s.cache_n += sign * row.cache_n;
    s.cache_hits += sign * row.cache_hits;
    if s.requests <= 0 {
        into.remove(&k);
    }
}

fn add_all(into: &mut Sums, rows: &Sums, sign: i64) {
    for row in rows.values() {
        add(into, row, sign);
    }
}

/// The sums of both drift windows, as of `windows`.
#[derive(Debug, Clone)]
pub struct Tally {
    pub windows: Windows,
    pub reference: Sums,
    pub recent: Sums,
    /// When these sums were last read whole (ms since the epoch).
    pub built_ms: i64,
}

impl Tally {
    /// Both windows read whole.
    pub async fn build(store: &dyn Store, windows: Windows, now_ms: i64) -> StoreResult<Tally> {
        let reference = sums(store, None, windows.reference_from_ms, windows.split_ms).await?;
        let recent = sums(store, None, windows.split_ms, windows.to_ms).await?;
        Ok(Tally {
            windows,
            reference,
            recent,
            built_ms: now_ms,
        })
    }

    /// Whether these sums can be slid to `next`: every edge moved forward
    /// (or stayed), and the recent window moved by less than its width, so
    /// that what passes into the reference window was counted as recent.
    pub fn can_slide_to(&self, next: &Windows) -> bool {
        let w = &self.windows;
        next.reference_from_ms >= w.reference_from_ms
            && next.split_ms >= w.split_ms
            && next.to_ms >= w.to_ms
            && next.split_ms <= w.to_ms
    }

    /// Slides both windows to `next` (see [`Tally::can_slide_to`]).
    pub async fn slide(&mut self, store: &dyn Store, next: Windows) -> StoreResult<()> {
        let w = self.windows;
        let arrived = sums(store, None, w.to_ms, next.to_ms).await?;
        let aged = sums(store, None, w.split_ms, next.split_ms).await?;
        let left = sums(store, None, w.reference_from_ms, next.reference_from_ms).await?;
        add_all(&mut self.recent, &arrived, 1);
        add_all(&mut self.recent, &aged, -1);
        add_all(&mut self.reference, &aged, 1);
        add_all(&mut self.reference, &left, -1);
        self.windows = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(model: &str, requests: i64, flagged: i64, score_sum: f64) -> GroupStats {
        GroupStats {
            model: Some(model.into()),
            requests,
            flag_n: requests,
            flagged,
            score_n: requests,
            score_sum,
            ..GroupStats::default()
        }
    }

    #[test]
    fn adding_then_taking_away_leaves_nothing() {
        let mut sums = Sums::new();
        add(&mut sums, &stats("a", 10, 2, 7.5), 1);
        add(&mut sums, &stats("a", 5, 1, 2.5), 1);
        add(&mut sums, &stats("b", 3, 0, 3.0), 1);
        let a = &sums[&(None, None, Some("a".into()))];
        assert_eq!((a.requests, a.flagged, a.score_sum), (15, 3, 10.0));
        add(&mut sums, &stats("a", 15, 3, 10.0), -1);
        assert_eq!(sums.len(), 1, "a group with no records left is removed");
        assert!(sums.contains_key(&(None, None, Some("b".into()))));
    }

    fn windows(reference_from_ms: i64, split_ms: i64, to_ms: i64) -> Windows {
        Windows {
            reference_from_ms,
            split_ms,
            to_ms,
        }
    }

    #[test]
    fn slides_only_forward_and_by_less_than_the_recent_window() {
        let t = Tally {
            windows: windows(0, 100, 200),
            reference: Sums::new(),
            recent: Sums::new(),
            built_ms: 0,
        };
        assert!(t.can_slide_to(&windows(0, 100, 200)));
        assert!(t.can_slide_to(&windows(50, 150, 250)));
        assert!(t.can_slide_to(&windows(100, 200, 300)));
        // Records in [200, 250) would pass into the reference uncounted.
        assert!(!t.can_slide_to(&windows(150, 250, 350)));
        // The clock went back.
        assert!(!t.can_slide_to(&windows(-10, 90, 190)));
    }
}
