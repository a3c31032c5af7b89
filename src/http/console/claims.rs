//! A stored grounding report as HTML: the answer with its unsupported
//! claims marked, and each claim beside its evidence.

use std::fmt::Write as _;

use serde_json::Value;

use super::html::esc;

/// A stored grounding report as HTML: the answer (its claims in order) with
/// the claims below the threshold marked, then each claim with its support,
/// evidence and reasons.
pub fn grounding_html(g: &Value) -> String {
    let threshold = g["threshold"].as_f64().unwrap_or(0.5);
    let claims = g["claims"].as_array().cloned().unwrap_or_default();
    let unsupported = |c: &Value| c["support"].as_f64().is_some_and(|s| s < threshold);
    let mut out = format!(
        "<p>Score <strong>{:.4}</strong> (threshold {:.3}){}</p><p class=\"hint\">The answer, claim by claim; unsupported claims are marked.</p><div class=\"answer\">",
        g["score"].as_f64().unwrap_or(0.0),
        threshold,
        if g["flagged"].as_bool() == Some(true) {
            ": <span class=\"bad\">flagged</span>"
        } else {
            ""
        },
    );
    for c in &claims {
        let text = esc(c["text"].as_str().unwrap_or(""));
        if unsupported(c) {
            let _ = write!(out, "<mark class=\"claim\">{text}</mark> ");
        } else {
            let _ = write!(out, "<span>{text}</span> ");
        }
    }
    out.push_str("</div><table><caption>Claims and their evidence</caption><thead><tr><th scope=\"col\">claim</th><th scope=\"col\">support</th><th scope=\"col\">best evidence in the context</th><th scope=\"col\">reasons</th></tr></thead><tbody>");
    for c in &claims {
        let reasons: Vec<String> = c["reasons"]
            .as_array()
            .map(|r| r.iter().filter_map(|x| x.as_str()).map(esc).collect())
            .unwrap_or_default();
        let evidence = c["evidence"].as_str().unwrap_or("");
        let claim = esc(c["text"].as_str().unwrap_or(""));
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"num\">{:.3}</td><td class=\"evidence\">{}</td><td>{}</td></tr>",
            if unsupported(c) {
                format!("<mark class=\"claim\">{claim}</mark>")
            } else {
                claim
            },
            c["support"].as_f64().unwrap_or(0.0),
            if evidence.is_empty() {
                "(nothing matches)".to_owned()
            } else {
                esc(evidence)
            },
            reasons.join("; "),
        );
    }
    out.push_str("</tbody></table>");
    out
}
