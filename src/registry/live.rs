//! The registry as the request path sees it: every version compiled, every
//! label resolved, all in memory, so resolving a prompt costs no database
//! round trip. It is rebuilt from the store after each write on this replica,
//! and other replicas notice writes by polling the store's registry revision.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::Value;

use super::model::{NewVersion, PromptVersion, Source, DEFAULT_LABEL, LATEST_LABEL};
use super::render::CompiledPrompt;
use super::rollout::{choose, Target};
use crate::store::{PromptVersionRow, Store};

/// A version ready to render.
pub struct LiveVersion {
    pub version: PromptVersion,
    pub compiled: CompiledPrompt,
}

#[derive(Default)]
pub struct PromptEntry {
    pub versions: BTreeMap<i64, Arc<LiveVersion>>,
    pub labels: BTreeMap<String, Target>,
}

impl PromptEntry {
    pub fn latest(&self) -> Option<&Arc<LiveVersion>> {
        self.versions.values().next_back()
    }

    /// `file` when the newest version came from `prompts/`.
    pub fn source(&self) -> Source {
        self.latest().map(|v| v.version.source).unwrap_or_default()
    }
}

#[derive(Default)]
pub struct Snapshot {
    pub prompts: BTreeMap<String, PromptEntry>,
}

/// Which version a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Version(i64),
    Label(String),
}

impl Default for Selector {
    fn default() -> Self {
        Selector::Label(DEFAULT_LABEL.to_owned())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The name asked for, and how many prompts the registry holds (so that
    /// "none loaded" is told apart from a misspelt name).
    #[error("prompt `{0}` not found ({1} prompts loaded)")]
    UnknownPrompt(String, usize),
    #[error("prompt `{0}` has no version {1}")]
    UnknownVersion(String, i64),
    #[error("prompt `{0}` has no label `{1}`")]
    UnknownLabel(String, String),
}

pub struct LiveRegistry {
    snapshot: RwLock<Arc<Snapshot>>,
    /// One reload at a time: a slow reload that read older rows must not
    /// finish after a newer one and put stale prompts back.
    reloading: tokio::sync::Mutex<()>,
    revision: std::sync::atomic::AtomicI64,
}

/// Rebuilds a version from its stored row.
pub fn version_from_row(row: &PromptVersionRow) -> anyhow::Result<PromptVersion> {
    let new: NewVersion = serde_json::from_str(&row.content)?;
    let content = new
        .validate()
        .map_err(|e| anyhow::anyhow!("stored version {}@{}: {e}", row.name, row.version))?;
    let source = if row.source == "file" {
        Source::File
    } else {
        Source::Api
    };
    let mut v = PromptVersion::new(
        &row.name,
        row.version,
        content,
        row.commit_message.clone(),
        row.author.clone(),
        row.created_at,
        source,
    );
    // The stored hash is authoritative (it is what clients were shown).
    v.sha256 = row.sha256.clone();
    Ok(v)
}

impl LiveRegistry {
    pub async fn load(store: &dyn Store) -> anyhow::Result<LiveRegistry> {
        let live = LiveRegistry {
            snapshot: RwLock::new(Arc::new(Snapshot::default())),
            reloading: tokio::sync::Mutex::new(()),
            revision: std::sync::atomic::AtomicI64::new(-1),
        };
        live.reload(store).await?;
        Ok(live)
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        match self.snapshot.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Rebuilds from the store. Versions already compiled are reused.
    pub async fn reload(&self, store: &dyn Store) -> anyhow::Result<()> {
        let _one_at_a_time = self.reloading.lock().await;
        let revision = store.registry_revision().await?;
        let rows = store.all_prompt_versions().await?;
        let labels = store.all_prompt_labels().await?;
        let old = self.snapshot();
        let mut prompts: BTreeMap<String, PromptEntry> = BTreeMap::new();
        for row in rows {
            let reused = old
                .prompts
                .get(&row.name)
                .and_then(|p| p.versions.get(&row.version))
                .filter(|v| v.version.sha256 == row.sha256)
                .cloned();
            let live = match reused {
                Some(v) => v,
                None => {
                    let version = version_from_row(&row)?;
                    let compiled = CompiledPrompt::compile(&version).map_err(|e| {
                        anyhow::anyhow!("compiling {}@{}: {e}", row.name, row.version)
                    })?;
                    Arc::new(LiveVersion { version, compiled })
                }
            };
            prompts
                .entry(row.name.clone())
                .or_default()
                .versions
                .insert(row.version, live);
        }
        for l in labels {
            match super::guard::read_label_text(&l.target) {
                Ok((t, _guard)) => {
                    prompts
                        .entry(l.name.clone())
                        .or_default()
                        .labels
                        .insert(l.label, t);
                }
                Err(e) => {
                    tracing::error!(prompt = %l.name, label = %l.label, error = %e.message, "unreadable label target")
                }
            }
        }
        if let Ok(mut s) = self.snapshot.write() {
            *s = Arc::new(Snapshot { prompts });
        }
        self.revision
            .store(revision, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Resolves a prompt for one request. `sticky` keeps a caller on one side
    /// of a weighted rollout (the request's `metadata.user`, else its key).
    pub fn resolve(
        &self,
        name: &str,
        selector: &Selector,
        sticky: &str,
    ) -> Result<Arc<LiveVersion>, ResolveError> {
        let snap = self.snapshot();
        let entry = snap.prompts.get(name).filter(|p| !p.versions.is_empty());
        let entry = entry
            .ok_or_else(|| ResolveError::UnknownPrompt(name.to_owned(), snap.prompts.len()))?;
        let version = match selector {
            Selector::Version(n) => *n,
            Selector::Label(l) if l == LATEST_LABEL => match entry.latest() {
                Some(v) => v.version.version,
                None => {
                    return Err(ResolveError::UnknownPrompt(
                        name.to_owned(),
                        snap.prompts.len(),
                    ))
                }
            },
            Selector::Label(l) => {
                let target = entry
                    .labels
                    .get(l)
                    .ok_or_else(|| ResolveError::UnknownLabel(name.to_owned(), l.clone()))?;
                choose(target, sticky, &format!("{name}:{l}"))
            }
        };
        entry
            .versions
            .get(&version)
            .cloned()
            .ok_or_else(|| ResolveError::UnknownVersion(name.to_owned(), version))
    }

    /// Reloads whenever another replica changed the registry.
    pub fn spawn_refresh(self: &Arc<Self>, store: Arc<dyn Store>, every: Duration) {
        crate::periodic::while_alive(self, store, every, |live, store| async move {
            let seen = live.revision.load(std::sync::atomic::Ordering::Relaxed);
            match store.registry_revision().await {
                Ok(rev) if rev != seen => {
                    if let Err(e) = live.reload(store.as_ref()).await {
                        tracing::warn!(error = %e, "registry reload failed; serving the last known prompts");
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "registry revision check failed"),
            }
        });
    }
}

/// The JSON shape of a version in API answers.
pub fn version_json(v: &PromptVersion, labels: &[String]) -> Value {
    let mut out = serde_json::to_value(v).unwrap_or(Value::Null);
    out["object"] = Value::String("prompt.version".into());
    out["created_at"] = Value::String(crate::time::rfc3339(v.created_at));
    out["labels"] = serde_json::json!(labels);
    out
}

/// Labels whose target includes `version` (plain or in a rollout), plus `latest`.
pub fn labels_of(entry: &PromptEntry, version: i64) -> Vec<String> {
    let mut out: Vec<String> = entry
        .labels
        .iter()
        .filter(|(_, t)| t.versions().contains(&version))
        .map(|(l, _)| l.clone())
        .collect();
    if entry.latest().map(|v| v.version.version) == Some(version) {
        out.push(LATEST_LABEL.to_owned());
    }
    out
}

pub type Labels = HashMap<String, Target>;
