//! The console's HTML: escaping, the page shell (navigation, the signed-in
//! caller, the sign-out form) and a few building blocks the pages share.
//! Everything is written on the server; the one stylesheet is embedded in the
//! binary, so a page needs nothing from the network.

use std::fmt::Write as _;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::auth::Caller;

/// The stylesheet, served at `/ui/style.css`.
pub const STYLE: &str = include_str!("style.css");

/// Text made safe for HTML bodies and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A value for a query string (`?prompt=a/b`), percent-encoded.
pub fn url(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The sections of the navigation bar: path and title.
const NAV: [(&str, &str); 5] = [
    ("/ui/costs", "Costs"),
    ("/ui/prompts", "Prompts"),
    ("/ui/rollouts", "Rollouts"),
    ("/ui/flagged", "Flagged answers"),
    ("/ui/requests", "Requests"),
];

/// A whole page for a signed-in caller (`csrf`: the session's token, for
/// the sign-out form); `active` is the navigation entry to mark as current.
pub fn shell(caller: &Caller, csrf: &str, active: &str, title: &str, body: &str) -> Response {
    let mut nav = String::new();
    for (path, name) in NAV {
        let current = if path == active {
            " aria-current=\"page\""
        } else {
            ""
        };
        let _ = write!(nav, "<a href=\"{path}\"{current}>{name}</a>");
    }
    let who = match caller.team() {
        Some(team) => format!("team <strong>{}</strong>", esc(team)),
        None => "<strong>admin</strong>".to_owned(),
    };
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t} · promptgate</title><link rel=\"stylesheet\" href=\"/ui/style.css\"></head>\
         <body><a class=\"skip\" href=\"#main\">Skip to content</a>\
         <header><span class=\"brand\">promptgate</span><nav aria-label=\"Sections\">{nav}</nav>\
         <form method=\"post\" action=\"/ui/logout\" class=\"who\">{who} {csrf}\
         <button type=\"submit\">Sign out</button></form></header>\
         <main id=\"main\"><h1>{t}</h1>{body}</main></body></html>",
        t = esc(title),
        csrf = csrf_field(csrf),
    );
    html_response(StatusCode::OK, html)
}

/// A page with no navigation (sign-in, errors before sign-in).
pub fn bare_page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t} · promptgate</title><link rel=\"stylesheet\" href=\"/ui/style.css\"></head>\
         <body><main id=\"main\" class=\"narrow\"><h1>{t}</h1>{body}</main></body></html>",
        t = esc(title),
    );
    html_response(status, html)
}

/// HTML with the headers every console page carries: never cached (pages
/// show one caller's data), never framed, scripts and styles only from us.
pub fn html_response(status: StatusCode, html: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
            (header::REFERRER_POLICY, "same-origin"),
        ],
        html,
    )
        .into_response()
}

/// The 403 of a refused post.
pub fn forbidden(why: &str) -> Response {
    bare_page(
        StatusCode::FORBIDDEN,
        "Refused",
        &format!(
            "<p>{}</p><p><a href=\"/ui/login\">Sign in</a></p>",
            esc(why)
        ),
    )
}

/// A link to a prompt's page.
pub fn prompt_link(name: &str) -> String {
    format!(
        "<a href=\"/ui/prompt?name={}\">{}</a>",
        esc(&url(name)),
        esc(name)
    )
}

/// The hidden field every form posts back: the session's CSRF token.
pub fn csrf_field(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(token)
    )
}

/// A message box (errors in red, notices in green).
pub fn notice(kind: &str, text: &str) -> String {
    format!(
        "<p class=\"notice {kind}\" role=\"status\">{}</p>",
        esc(text)
    )
}

/// A form field's value, trimmed; `None` when absent or empty (an empty
/// filter means "any").
pub fn given(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// A labelled text input of a filter form.
pub fn text_input(name: &str, label: &str, value: Option<&str>, hint: &str) -> String {
    format!(
        "<label>{label}<input name=\"{name}\" value=\"{v}\" placeholder=\"{hint}\"></label>",
        label = esc(label),
        v = esc(value.unwrap_or("")),
        hint = esc(hint),
    )
}

/// A table: header cells, then rows of already-escaped HTML cells.
pub fn table(caption: &str, head: &[&str], rows: &[Vec<String>]) -> String {
    table_or(caption, head, rows, "nothing to show")
}

/// [`table`], saying `empty` when there are no rows.
pub fn table_or(caption: &str, head: &[&str], rows: &[Vec<String>], empty: &str) -> String {
    let mut out = format!("<table><caption>{}</caption><thead><tr>", esc(caption));
    for h in head {
        let _ = write!(out, "<th scope=\"col\">{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    if rows.is_empty() {
        let _ = write!(
            out,
            "<tr><td colspan=\"{}\" class=\"empty\">{}</td></tr>",
            head.len().max(1),
            esc(empty)
        );
    }
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_quotes_are_escaped() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            url("support/rag answer&x=1"),
            "support%2Frag%20answer%26x%3D1"
        );
        assert_eq!(url("a-b_c.d~"), "a-b_c.d~");
    }
}
