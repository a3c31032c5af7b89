//! The operations under `/v1/prompts/{name}…`. Prompt names may contain `/`
//! (sub-folders of `prompts/`), so one wildcard route takes everything under
//! `/v1/prompts/` and [`PromptPath::parse`] reads it from the right.

use axum::http::Method;

/// Every operation under `/v1/prompts/{name}`: the method and the rest of the
/// path as the OpenAPI document writes it. `prompts::dispatch` serves only
/// these, and the OpenAPI test checks that each is documented.
pub const OPERATIONS: [(Method, &str); 10] = [
    (Method::GET, ""),
    (Method::GET, "/versions"),
    (Method::POST, "/versions"),
    (Method::GET, "/versions/{version}"),
    (Method::GET, "/labels/{label}"),
    (Method::PUT, "/labels/{label}"),
    (Method::GET, "/labels/{label}/history"),
    (Method::GET, "/diff"),
    (Method::POST, "/render"),
    (Method::GET, "/report"),
];

/// What a path under `/v1/prompts/` addresses.
#[derive(Debug, PartialEq, Eq)]
pub enum PromptPath {
    Prompt(String),
    Versions(String),
    Version(String, i64),
    Label(String, String),
    LabelHistory(String, String),
    Diff(String),
    Render(String),
    Report(String),
}

impl PromptPath {
    pub fn parse(rest: &str) -> Option<PromptPath> {
        let parts: Vec<&str> = rest.trim_matches('/').split('/').collect();
        let n = parts.len();
        let name = |k: usize| (n > k).then(|| parts[..n - k].join("/"));
        let p = match parts.as_slice() {
            [.., "labels", label, "history"] if n >= 4 => {
                PromptPath::LabelHistory(name(3)?, (*label).to_owned())
            }
            [.., "labels", label] if n >= 3 => PromptPath::Label(name(2)?, (*label).to_owned()),
            [.., "versions", v] if n >= 3 && v.parse::<i64>().is_ok() => {
                PromptPath::Version(name(2)?, v.parse().ok()?)
            }
            [.., "versions"] if n >= 2 => PromptPath::Versions(name(1)?),
            [.., "diff"] if n >= 2 => PromptPath::Diff(name(1)?),
            [.., "render"] if n >= 2 => PromptPath::Render(name(1)?),
            [.., "report"] if n >= 2 => PromptPath::Report(name(1)?),
            _ => PromptPath::Prompt(parts.join("/")),
        };
        Some(p)
    }
}

impl PromptPath {
    /// The rest of the path after the name, as [`OPERATIONS`] writes it.
    pub fn template(&self) -> &'static str {
        match self {
            PromptPath::Prompt(_) => "",
            PromptPath::Versions(_) => "/versions",
            PromptPath::Version(..) => "/versions/{version}",
            PromptPath::Label(..) => "/labels/{label}",
            PromptPath::LabelHistory(..) => "/labels/{label}/history",
            PromptPath::Diff(_) => "/diff",
            PromptPath::Render(_) => "/render",
            PromptPath::Report(_) => "/report",
        }
    }

    /// Whether `method` on this path is one of the [`OPERATIONS`].
    pub fn serves(&self, method: &Method) -> bool {
        let tail = self.template();
        OPERATIONS.iter().any(|(m, t)| m == method && *t == tail)
    }
}

/// The path parameter of every operation under `/v1/prompts/{name}`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // a document type: never built
pub struct PromptName {
    /// Prompt name, `[a-z0-9][a-z0-9._/-]*` (at most 128 characters, every `/`-separated segment starting with a letter or digit). Names may contain `/` (sub-folders of `prompts/`), which is sent as it is: `/v1/prompts/support/rag-answer/versions`. The path is read from the right, so a name may not contain the segments `versions`, `labels`, `diff`, `render`, `history` or `report` (creating such a name → 400).
    #[param(example = json!("support/rag-answer"))]
    name: String,
}

/// The label path parameter of the `…/labels/{label}` operations.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // a document type: never built
pub struct LabelName {
    /// `[a-z0-9][a-z0-9._-]*`, at most 64 characters. `latest` can be read (always the newest version) but not moved.
    #[param(example = json!("production"))]
    label: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_read_from_the_right() {
        let s = |v: &str| v.to_owned();
        let cases = [
            ("support/answer", PromptPath::Prompt(s("support/answer"))),
            (
                "support/answer/versions",
                PromptPath::Versions(s("support/answer")),
            ),
            ("a/versions/3", PromptPath::Version(s("a"), 3)),
            (
                "a/b/labels/production",
                PromptPath::Label(s("a/b"), s("production")),
            ),
            (
                "a/labels/production/history",
                PromptPath::LabelHistory(s("a"), s("production")),
            ),
            ("a/diff", PromptPath::Diff(s("a"))),
            ("a/render", PromptPath::Render(s("a"))),
        ];
        for (rest, want) in cases {
            assert_eq!(PromptPath::parse(rest), Some(want), "{rest}");
        }
    }
}
