//! `GET /v1/prompts/{name}/diff?from=a&to=b`: a unified diff a reviewer can read.
//!
//! Each version is laid out as one text document — the template (messages as
//! `[role]` blocks, or the text template), then config, variables schema and
//! grounding variable as pretty JSON with sorted keys — and the two documents
//! are diffed line by line. Sorting keys matters: otherwise a config re-posted
//! in another key order would show as changed when its hash says it is not.

use serde_json::Value;
use similar::TextDiff;

use super::model::{sorted_json, PromptKind, PromptVersion};

/// Lines of unchanged context around each change.
const CONTEXT_LINES: usize = 3;

/// The diffable text form of a version.
pub fn document(v: &PromptVersion) -> String {
    let mut doc = String::new();
    match &v.kind {
        PromptKind::Chat { messages } => {
            doc.push_str("## template (chat)\n");
            for m in messages {
                doc.push('[');
                doc.push_str(m.role.as_str());
                doc.push_str("]\n");
                push_block(&mut doc, &m.content);
            }
        }
        PromptKind::Text { template } => {
            doc.push_str("## template (text)\n");
            push_block(&mut doc, template);
        }
    }
    doc.push_str("## config\n");
    push_block(&mut doc, &pretty(&Value::Object(v.config.clone())));
    doc.push_str("## variables_schema\n");
    push_block(&mut doc, &pretty(&v.variables_schema.to_json()));
    doc.push_str("## grounding_variable\n");
    push_block(
        &mut doc,
        v.grounding_variable.as_deref().unwrap_or("(none)"),
    );
    doc
}

/// Append `text`, always ending in exactly one newline so blocks never run together.
fn push_block(doc: &mut String, text: &str) {
    doc.push_str(text);
    if !text.ends_with('\n') {
        doc.push('\n');
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(&sorted_json(v)).unwrap_or_default()
}

/// Unified diff from `a` to `b` with `--- name@a` / `+++ name@b` headers.
/// Empty string when the documents are identical.
pub fn diff(a: &PromptVersion, b: &PromptVersion) -> String {
    let (da, db) = (document(a), document(b));
    if da == db {
        return String::new();
    }
    TextDiff::from_lines(&da, &db)
        .unified_diff()
        .context_radius(CONTEXT_LINES)
        .header(&a.display_id(), &b.display_id())
        .to_string()
}

/// How one row of a side-by-side diff changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Same,
    /// Only on the left (removed).
    Removed,
    /// Only on the right (added).
    Added,
    /// A line replaced by another.
    Changed,
}

/// One row of a side-by-side diff: the line of each version (`None`: no
/// line on that side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SideBySide {
    pub left: Option<String>,
    pub right: Option<String>,
    pub change: Change,
}

/// The two documents of [`diff`] aligned row by row, every line of both
/// (for reading two versions next to each other): replaced blocks pair
/// their lines up, the longer side's rest standing alone.
pub fn side_by_side(a: &PromptVersion, b: &PromptVersion) -> Vec<SideBySide> {
    let (da, db) = (document(a), document(b));
    let old: Vec<&str> = da.lines().collect();
    let new: Vec<&str> = db.lines().collect();
    let mut rows = Vec::new();
    let line = |s: &str| Some(s.to_owned());
    for op in TextDiff::from_lines(&da, &db).ops() {
        let (o, n) = (op.old_range(), op.new_range());
        match op.tag() {
            similar::DiffTag::Equal => rows.extend(o.zip(n).map(|(i, j)| SideBySide {
                left: line(old[i]),
                right: line(new[j]),
                change: Change::Same,
            })),
            similar::DiffTag::Delete => rows.extend(o.map(|i| SideBySide {
                left: line(old[i]),
                right: None,
                change: Change::Removed,
            })),
            similar::DiffTag::Insert => rows.extend(n.map(|j| SideBySide {
                left: None,
                right: line(new[j]),
                change: Change::Added,
            })),
            similar::DiffTag::Replace => {
                let width = o.len().max(n.len());
                for k in 0..width {
                    let l = old.get(o.start + k).filter(|_| k < o.len());
                    let r = new.get(n.start + k).filter(|_| k < n.len());
                    let change = match (l, r) {
                        (Some(_), Some(_)) => Change::Changed,
                        (Some(_), None) => Change::Removed,
                        _ => Change::Added,
                    };
                    rows.push(SideBySide {
                        left: l.map(|s| (*s).to_owned()),
                        right: r.map(|s| (*s).to_owned()),
                        change,
                    });
                }
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::model::{NewVersion, Source};
    use serde_json::json;

    fn v(n: i64, body: Value) -> PromptVersion {
        let nv: NewVersion = serde_json::from_value(body).unwrap();
        PromptVersion::new(
            "support/answer",
            n,
            nv.validate().unwrap(),
            None,
            None,
            0,
            Source::Api,
        )
    }

    fn base() -> Value {
        json!({
            "type": "chat",
            "messages": [
                {"role": "system", "content": "Answer from the docs.\n{{#each docs}}- {{this}}\n{{/each}}"},
                {"role": "user", "content": "{{question}}"}
            ],
            "config": {"model": "gpt-4o-mini", "temperature": 0.2},
            "variables_schema": {"question": "string", "docs": "array<string>"},
            "grounding_variable": "docs"
        })
    }

    #[test]
    fn shows_template_and_config_changes() {
        let a = v(1, base());
        let mut b2 = base();
        b2["messages"][0]["content"] =
            json!("Answer ONLY from the docs.\n{{#each docs}}- {{this}}\n{{/each}}");
        b2["config"]["temperature"] = json!(0);
        let b = v(2, b2);
        let d = diff(&a, &b);
        assert!(
            d.starts_with("--- support/answer@1\n+++ support/answer@2\n"),
            "{d}"
        );
        assert!(
            d.contains("-Answer from the docs.\n+Answer ONLY from the docs.\n"),
            "{d}"
        );
        assert!(
            d.contains("-  \"temperature\": 0.2\n+  \"temperature\": 0\n"),
            "{d}"
        );
        assert!(d.contains("@@"), "{d}");
        assert!(!d.contains("-{{question}}"), "{d}");
    }

    #[test]
    fn role_changes_and_schema_changes_are_visible() {
        let a = v(1, base());
        let mut b2 = base();
        b2["messages"][1]["role"] = json!("developer");
        b2["variables_schema"]["tone?"] = json!("string");
        b2["grounding_variable"] = Value::Null;
        let d = diff(&a, &v(3, b2));
        assert!(d.contains("-[user]\n+[developer]\n"), "{d}");
        assert!(d.contains("+  \"tone\": {"), "{d}");
        assert!(d.contains("-docs\n+(none)\n"), "{d}");
    }

    #[test]
    fn key_order_does_not_show_and_identical_is_empty() {
        let a = v(1, base());
        let mut b2 = base();
        b2["config"] = json!({"temperature": 0.2, "model": "gpt-4o-mini"});
        assert_eq!(diff(&a, &v(2, b2)), "");
        let doc = document(&a);
        assert!(doc.contains("[system]\nAnswer from the docs.\n"), "{doc}");
        assert!(
            doc.contains(
                "## config\n{\n  \"model\": \"gpt-4o-mini\",\n  \"temperature\": 0.2\n}\n"
            ),
            "{doc}"
        );
    }

    #[test]
    fn chat_to_text() {
        let t = v(
            2,
            json!({"type": "text", "template": "Summarize: {{text}}"}),
        );
        let d = diff(&v(1, base()), &t);
        assert!(d.contains("\n-## template (chat)\n"), "{d}");
        assert!(d.contains("\n+## template (text)\n"), "{d}");
        assert!(d.contains("+Summarize: {{text}}\n"), "{d}");
    }

    #[test]
    fn side_by_side_keeps_every_line_of_both_versions() {
        let a = v(1, base());
        let mut changed = base();
        changed["config"]["temperature"] = json!(0.7);
        let b = v(2, changed);
        let rows = side_by_side(&a, &b);
        let left: Vec<&str> = rows.iter().filter_map(|r| r.left.as_deref()).collect();
        let right: Vec<&str> = rows.iter().filter_map(|r| r.right.as_deref()).collect();
        assert_eq!(left, document(&a).lines().collect::<Vec<_>>());
        assert_eq!(right, document(&b).lines().collect::<Vec<_>>());
        let changed: Vec<&SideBySide> = rows.iter().filter(|r| r.change != Change::Same).collect();
        assert_eq!(changed.len(), 1, "{rows:?}");
        assert_eq!(changed[0].change, Change::Changed);
        assert!(changed[0].right.as_deref().unwrap().contains("0.7"));
    }
}
