//! The `prompts/` folder: finding `*.prompt` files, naming each prompt after
//! its path, and loading them all with one error per bad file.

use std::fmt;
use std::path::{Path, PathBuf};

use super::parse::parse;
use crate::registry::model::NewVersion;
use crate::registry::names::{model_err, validate_prompt_name, ModelError};

/// Recursion bound for sub-folders of `prompts/` (names are ≤ 128 chars anyway).
const MAX_DIR_DEPTH: usize = 16;
const EXTENSION: &str = "prompt";
/// `.prompt` files are small; refuse anything that is clearly not a prompt.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// A loaded `.prompt` file. `version.labels` holds `promptgate.labels`.
#[derive(Clone, Debug, PartialEq)]
pub struct PromptFile {
    pub name: String,
    pub path: PathBuf,
    pub version: NewVersion,
}

/// What is wrong with one file; `field` is the front-matter key or body part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileError {
    pub path: PathBuf,
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{}: {}: {}", self.path.display(), field, self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for FileError {}

/// Prompt name of `file` under `root`: the relative path without `.prompt`,
/// `/`-separated (`support/answer.prompt` → `support/answer`).
pub fn name_from_path(root: &Path, file: &Path) -> Result<String, ModelError> {
    let rel = file
        .strip_prefix(root)
        .map_err(|_| model_err("path", "file is not under the prompts directory"))?;
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            std::path::Component::Normal(s) => parts.push(
                s.to_str()
                    .ok_or_else(|| model_err("path", "file name is not UTF-8"))?,
            ),
            _ => return Err(model_err("path", "unexpected path component")),
        }
    }
    let Some(last) = parts.pop() else {
        return Err(model_err("path", "empty path"));
    };
    let stem = last
        .strip_suffix(".prompt")
        .ok_or_else(|| model_err("path", "not a .prompt file"))?;
    if stem.starts_with('_') {
        return Err(model_err(
            "path",
            "dotprompt partials (`_name.prompt`) are not supported",
        ));
    }
    parts.push(stem);
    let name = parts.join("/");
    validate_prompt_name(&name).map_err(|e| model_err("name", e.message))?;
    Ok(name)
}

/// Load every `*.prompt` under `dir` (recursively; hidden entries skipped),
/// sorted by name. All files are checked: the error list names every bad file.
pub fn load_dir(dir: &Path) -> Result<Vec<PromptFile>, Vec<FileError>> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    collect(dir, 0, &mut files, &mut errors);
    files.sort();
    let mut out = Vec::new();
    for path in files {
        match load_file(dir, &path) {
            Ok(f) => out.push(f),
            Err(e) => errors.push(FileError {
                path: path.clone(),
                field: Some(e.field),
                message: e.message,
            }),
        }
    }
    if errors.is_empty() {
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    } else {
        Err(errors)
    }
}

fn load_file(root: &Path, path: &Path) -> Result<PromptFile, ModelError> {
    let name = name_from_path(root, path)?;
    let meta = std::fs::metadata(path).map_err(|e| model_err("file", e.to_string()))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(model_err(
            "file",
            format!("larger than {MAX_FILE_BYTES} bytes"),
        ));
    }
    let source = std::fs::read_to_string(path).map_err(|e| model_err("file", e.to_string()))?;
    let version = parse(&name, &source)?;
    Ok(PromptFile {
        name,
        path: path.to_path_buf(),
        version,
    })
}

fn collect(dir: &Path, depth: usize, files: &mut Vec<PathBuf>, errors: &mut Vec<FileError>) {
    let io_err = |path: &Path, e: std::io::Error| FileError {
        path: path.to_path_buf(),
        field: None,
        message: e.to_string(),
    };
    if depth > MAX_DIR_DEPTH {
        errors.push(FileError {
            path: dir.to_path_buf(),
            field: None,
            message: "directories nested too deeply".into(),
        });
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => return errors.push(io_err(dir, e)),
    };
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                errors.push(io_err(dir, e));
                continue;
            }
        };
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        // `metadata` follows symlinks, like the rest of the file tools would.
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => collect(&path, depth + 1, files, errors),
            Ok(_) if path.extension().is_some_and(|e| e == EXTENSION) => files.push(path),
            Ok(_) => {}
            Err(e) => errors.push(io_err(&path, e)),
        }
    }
}
