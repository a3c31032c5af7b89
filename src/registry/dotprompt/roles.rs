//! Splitting a body into messages on its top-level `{{role "…"}}` markers.

use crate::registry::model::{Message, Role};

/// `role "system"` (inside `{{ }}`, whitespace control stripped) → the role.
fn parse_role_marker(inner: &str) -> Option<Role> {
    let rest = inner.strip_prefix("role")?;
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let rest = rest.trim();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let role = rest.strip_prefix(quote)?.strip_suffix(quote)?;
    Role::parse(role)
}

/// Split a body on top-level role markers (see module docs). A light scan of
/// `{{…}}` tags tracking block depth; anything it misreads still goes through
/// the real Handlebars compiler in `NewVersion::validate`.
pub(super) fn split_roles(body: &str) -> Vec<Message> {
    let mut out = Vec::new();
    let mut role = Role::User;
    let mut seg_start = 0;
    let mut depth: usize = 0;
    let mut i = 0;
    let push = |role: Role, text: &str, out: &mut Vec<Message>| {
        let t = text.trim();
        if !t.is_empty() {
            out.push(Message {
                role,
                content: t.to_string(),
            });
        }
    };
    while let Some(off) = body[i..].find("{{") {
        let start = i + off;
        let rest = &body[start..];
        let close = if rest.starts_with("{{!--") {
            "--}}"
        } else {
            "}}"
        };
        let Some(e) = rest.find(close) else { break };
        let end = start + e + close.len();
        if !rest.starts_with("{{!") {
            let inner = rest[2..e]
                .trim_start_matches('{')
                .trim_start_matches('~')
                .trim_end_matches('~')
                .trim();
            if inner.starts_with('#') || (inner.starts_with('^') && inner.len() > 1) {
                depth += 1;
            } else if inner.starts_with('/') {
                depth = depth.saturating_sub(1);
            } else if depth == 0 {
                if let Some(r) = parse_role_marker(inner) {
                    push(role, &body[seg_start..start], &mut out);
                    role = r;
                    seg_start = end;
                }
            }
        }
        i = end;
    }
    push(role, &body[seg_start..], &mut out);
    out
}
