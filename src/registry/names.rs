//! Name and label rules, and [`ModelError`]: the rule a name, label or posted
//! version broke, naming the field so a 400 can say which.

/// Longest prompt name (names appear in URLs, headers and file paths).
pub const MAX_NAME_LEN: usize = 128;
/// Longest label name.
pub const MAX_LABEL_LEN: usize = 64;
/// The label that always points at the newest version; moved only by the registry.
pub const LATEST_LABEL: &str = "latest";
/// Label resolved when a request names neither a version nor a label.
pub const DEFAULT_LABEL: &str = "production";

/// A rule a name, label or posted version broke. `field` is the JSON path
/// (`messages[1].content`, `config.temperature`, `labels[0]`, `name`, …) so the
/// 400 can say which.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ModelError {
    pub field: String,
    pub message: String,
}

pub(crate) fn model_err(field: impl Into<String>, message: impl Into<String>) -> ModelError {
    ModelError {
        field: field.into(),
        message: message.into(),
    }
}

/// `[a-z0-9][a-z0-9._/-]*`, ≤ 128 chars, every `/`-separated segment starting
/// with `[a-z0-9]` (so no `..`, `//`, `./`, leading or trailing `/`): names map
/// onto file paths under `prompts/` and must not climb out of it.
pub fn validate_prompt_name(name: &str) -> Result<(), ModelError> {
    let ok_char = |c: char| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '/' | '-')
    };
    let seg_ok = |s: &str| {
        s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    };
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(model_err(
            "name",
            format!("must be 1–{MAX_NAME_LEN} characters"),
        ));
    }
    if !name.chars().all(ok_char) || !name.split('/').all(seg_ok) || name.contains("..") {
        return Err(model_err(
            "name",
            format!("`{name}` must match [a-z0-9][a-z0-9._/-]*, each /-segment starting with a letter or digit, no `..`"),
        ));
    }
    Ok(())
}

/// `[a-z0-9][a-z0-9._-]*`, ≤ 64 chars. `latest` is a valid label to *read*.
pub fn validate_label(label: &str) -> Result<(), ModelError> {
    let mut chars = label.chars();
    let first = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let rest =
        chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if !first || !rest || label.len() > MAX_LABEL_LEN {
        return Err(model_err(
            "label",
            format!("`{label}` must match [a-z0-9][a-z0-9._-]* (≤ {MAX_LABEL_LEN} chars)"),
        ));
    }
    Ok(())
}

/// A label a client may move (`PUT …/labels/{label}`, `labels` of a new version):
/// valid and not the registry-managed `latest`.
pub fn validate_movable_label(label: &str) -> Result<(), ModelError> {
    validate_label(label)?;
    if label == LATEST_LABEL {
        return Err(model_err(
            "label",
            "`latest` is reserved: it always points at the newest version",
        ));
    }
    Ok(())
}
