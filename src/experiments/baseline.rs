//! Which version a rollout is measured against: the one its label pointed
//! at before the rollout began, read from the label's history.

use crate::registry::guard::read_label_text;
use crate::registry::Target;
use crate::store::LabelMove;

/// The baseline of a label and when its rollout started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Baseline {
    pub version: i64,
    /// When the label moved from the baseline into a rollout (`None` when the
    /// history does not say).
    pub since_ms: Option<i64>,
}

/// The baseline of a label now at `current`, given its history (newest
/// first). Walking back through rollout-to-rollout moves (a reweighting, a
/// guard zeroing a candidate), the move out of a single version names it.
/// Without one: the label's single version, or the rollout's heaviest entry.
pub fn baseline(current: &Target, history: &[LabelMove]) -> Option<Baseline> {
    for m in history {
        let to = read_label_text(&m.to_target).ok().map(|(t, _)| t);
        if !matches!(to, Some(Target::Rollout(_))) {
            break;
        }
        let from = m
            .from_target
            .as_deref()
            .and_then(|f| read_label_text(f).ok())
            .map(|(t, _)| t);
        match from {
            Some(Target::Version(v)) => {
                return Some(Baseline {
                    version: v,
                    since_ms: Some(m.at),
                })
            }
            Some(Target::Rollout(_)) => continue,
            None => break,
        }
    }
    let version = match current {
        Target::Version(v) => *v,
        Target::Rollout(entries) => {
            entries
                .iter()
                .fold(
                    None,
                    |best: Option<&crate::registry::RolloutEntry>, e| match best {
                        Some(b) if b.weight >= e.weight => Some(b),
                        _ => Some(e),
                    },
                )?
                .version
        }
    };
    Some(Baseline {
        version,
        since_ms: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::RolloutEntry;

    fn mv(from: Option<&str>, to: &str, at: i64) -> LabelMove {
        LabelMove {
            name: "p".into(),
            label: "production".into(),
            from_target: from.map(str::to_owned),
            to_target: to.into(),
            at,
            actor: None,
            reason: None,
        }
    }

    const ROLLOUT: &str = r#"{"rollout":[{"version":1,"weight":90},{"version":2,"weight":10}]}"#;
    const ZEROED: &str = r#"{"rollout":[{"version":1,"weight":90},{"version":2,"weight":0}],"guard":{"metric":"flag_rate","max_worse_by":0.0,"min_samples":10}}"#;

    #[test]
    fn the_version_before_the_rollout() {
        let current = Target::Rollout(vec![
            RolloutEntry {
                version: 1,
                weight: 90,
            },
            RolloutEntry {
                version: 2,
                weight: 0,
            },
        ]);
        let history = [
            mv(Some(ROLLOUT), ZEROED, 300),
            mv(Some(r#"{"version":1}"#), ROLLOUT, 200),
            mv(None, r#"{"version":1}"#, 100),
        ];
        assert_eq!(
            baseline(&current, &history),
            Some(Baseline {
                version: 1,
                since_ms: Some(200)
            })
        );
    }

    #[test]
    fn without_history_the_heaviest_entry() {
        let current = Target::Rollout(vec![
            RolloutEntry {
                version: 3,
                weight: 10,
            },
            RolloutEntry {
                version: 4,
                weight: 90,
            },
        ]);
        assert_eq!(baseline(&current, &[]).map(|b| b.version), Some(4));
        assert_eq!(
            baseline(&Target::Version(7), &[]).map(|b| b.version),
            Some(7)
        );
        // A label pointed at a version after its rollout: that rollout is over.
        let history = [mv(Some(ROLLOUT), r#"{"version":2}"#, 300)];
        assert_eq!(
            baseline(&Target::Version(2), &history),
            Some(Baseline {
                version: 2,
                since_ms: None
            })
        );
    }
}
