//! Registry writes: validate, hash, store, refresh the live registry. Used by
//! the HTTP API and by the `prompts/` folder sync alike.

use std::path::Path;

use super::guard::Guard;
use super::live::LiveRegistry;
use super::model::{
    validate_movable_label, validate_prompt_name, ModelError, NewVersion, PromptVersion, Source,
};
use super::rollout::Target;
use crate::store::{LabelWrite, PromptVersionRow, Store, VersionWrite};

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{0}")]
    Invalid(#[from] ModelError),
    #[error("prompt `{0}` comes from a file in prompts/; change the file (then run `promptgate prompts sync` or restart) instead of writing through the API")]
    FileSourced(String),
    #[error("prompt `{0}` not found")]
    UnknownPrompt(String),
    #[error("prompt `{0}` has no version {1}")]
    UnknownVersion(String, i64),
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

impl From<sqlx::Error> for WriteError {
    fn from(e: sqlx::Error) -> Self {
        WriteError::Store(e.into())
    }
}

const RESERVED_SEGMENTS: &[&str] = &["versions", "labels", "diff", "render", "history", "report"];

/// Creates a version (or returns the latest when its content is identical).
/// Returns the version and whether it was created.
pub async fn create_version(
    store: &dyn Store,
    live: &LiveRegistry,
    name: &str,
    new: NewVersion,
    author: Option<&str>,
    source: Source,
) -> Result<(PromptVersion, bool), WriteError> {
    validate_prompt_name(name)?;
    // These words address sub-resources in `/v1/prompts/{name}/…`.
    if let Some(seg) = name.split('/').find(|s| RESERVED_SEGMENTS.contains(s)) {
        return Err(WriteError::Invalid(ModelError {
            field: "name".into(),
            message: format!(
                "`{seg}` cannot be part of a prompt name (it names an API sub-resource)"
            ),
        }));
    }
    if source == Source::Api {
        if let Some(p) = live.snapshot().prompts.get(name) {
            if p.source() == Source::File {
                return Err(WriteError::FileSourced(name.to_owned()));
            }
        }
    }
    for (i, l) in new.labels.iter().enumerate() {
        validate_movable_label(l).map_err(|e| ModelError {
            field: format!("labels[{i}]"),
            message: e.message,
        })?;
    }
    let content = new.validate()?;
    let labels = new.labels.clone();
    let now = crate::time::now_ms();
    let version = PromptVersion::new(
        name,
        0,
        content,
        new.commit_message.clone(),
        author.map(str::to_owned),
        now,
        source,
    );
    // An unchanged file changes nothing, not even labels: a label moved by
    // hand (a rollback) must survive the next sync or restart.
    if source == Source::File {
        let snap = live.snapshot();
        if let Some(latest) = snap.prompts.get(name).and_then(|p| p.latest()) {
            if latest.version.sha256 == version.sha256 {
                // Labels the file newly declares are still created.
                let existing = snap.prompts.get(name).map(|p| &p.labels);
                let missing: Vec<&String> = labels
                    .iter()
                    .filter(|l| existing.is_none_or(|e| !e.contains_key(*l)))
                    .collect();
                let found = latest.version.clone();
                if !missing.is_empty() {
                    let target = format!("{{\"version\":{}}}", found.version);
                    for label in missing {
                        let m = LabelWrite {
                            name,
                            label,
                            target: &target,
                            actor: author,
                            at: now,
                        };
                        store.move_label(&m).await?;
                    }
                    live.reload(store).await?;
                }
                return Ok((found, false));
            }
        }
    }
    // What is stored is the content in the request's own shape, so that it
    // reads back through the same validation. Labels travel separately.
    let stored = NewVersion {
        labels: Vec::new(),
        commit_message: None,
        ..new
    };
    let row = PromptVersionRow {
        name: name.to_owned(),
        version: 0,
        content: serde_json::to_string(&stored).map_err(anyhow::Error::from)?,
        sha256: version.sha256.clone(),
        commit_message: version.commit_message.clone(),
        author: version.author.clone(),
        source: match source {
            Source::Api => "api".into(),
            Source::File => "file".into(),
        },
        created_at: now,
    };
    let (row, created) = match store.write_version(&row, &labels, author).await? {
        VersionWrite::Created(r) => (r, true),
        VersionWrite::Unchanged(r) => (r, false),
    };
    live.reload(store).await?;
    let v = super::live::version_from_row(&row)?;
    Ok((v, created))
}

/// Moves a label to a version or a weighted rollout (with its guard, if any).
pub async fn move_label(
    store: &dyn Store,
    live: &LiveRegistry,
    name: &str,
    label: &str,
    target: &Target,
    guard: Option<&Guard>,
    actor: Option<&str>,
) -> Result<(), WriteError> {
    validate_movable_label(label)?;
    target.validate()?;
    if let Some(g) = guard {
        super::guard::validate(target, g)?;
    }
    let snap = live.snapshot();
    let entry = snap
        .prompts
        .get(name)
        .ok_or_else(|| WriteError::UnknownPrompt(name.to_owned()))?;
    for v in target.versions() {
        if !entry.versions.contains_key(&v) {
            return Err(WriteError::UnknownVersion(name.to_owned(), v));
        }
    }
    let json = super::guard::label_json(target, guard).to_string();
    let m = LabelWrite {
        name,
        label,
        target: &json,
        actor,
        at: crate::time::now_ms(),
    };
    store.move_label(&m).await?;
    live.reload(store).await?;
    Ok(())
}

/// Syncs the dotprompt files of `dir` into the registry. Unchanged files
/// create nothing (their content hash equals the latest version's).
/// Returns (created, unchanged) counts.
pub async fn sync_dir(
    store: &dyn Store,
    live: &LiveRegistry,
    dir: &Path,
) -> anyhow::Result<(usize, usize)> {
    if !dir.exists() {
        return Ok((0, 0));
    }
    let files = super::dotprompt::load_dir(dir).map_err(|errors| {
        let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        anyhow::anyhow!("prompt files with errors:\n  {}", text.join("\n  "))
    })?;
    let (mut created, mut unchanged) = (0, 0);
    for file in files {
        let (_, was_created) = create_version(
            store,
            live,
            &file.name,
            file.version,
            Some("prompts/"),
            Source::File,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.path.display()))?;
        if was_created {
            created += 1;
        } else {
            unchanged += 1;
        }
    }
    Ok((created, unchanged))
}
