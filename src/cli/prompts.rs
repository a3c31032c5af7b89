//! `promptgate prompts …`: the registry from the command line.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::{json, Value};

use super::client::Gateway;
use super::table;

#[derive(Subcommand)]
pub enum PromptsCommand {
    /// List prompts with their latest version and labels.
    List,
    /// Show a prompt's versions, or one version in full with --version.
    Show {
        name: String,
        #[arg(long)]
        version: Option<i64>,
    },
    /// Create a version from a .prompt file (name from --name or the file name).
    Push {
        file: PathBuf,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, short)]
        message: Option<String>,
    },
    /// Unified diff between two versions.
    Diff { name: String, from: i64, to: i64 },
    /// Point a label at a version.
    Promote {
        name: String,
        version: i64,
        #[arg(long, default_value = "production")]
        label: String,
    },
    /// Move a label back to where it pointed before its last move.
    Rollback {
        name: String,
        #[arg(long, default_value = "production")]
        label: String,
    },
    /// A label's rollout report: each version's metrics with 95 % intervals,
    /// and each candidate against the baseline.
    Report {
        name: String,
        #[arg(long, default_value = "production")]
        label: String,
        /// RFC 3339 time or YYYY-MM-DD (default: when the rollout started).
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: Option<String>,
        /// Print the JSON answer instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Sync a folder of .prompt files straight into the store (what `serve` does at start).
    Sync {
        dir: Option<PathBuf>,
        #[arg(long, env = "PROMPTGATE_CONFIG")]
        config: Option<PathBuf>,
    },
}

fn encode(name: &str) -> String {
    // Names may hold `/` (sub-folders); the API takes them as path segments.
    name.split('/')
        .map(|s| {
            s.replace('%', "%25")
                .replace('?', "%3F")
                .replace('#', "%23")
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn target_text(t: &Value) -> String {
    if let Some(v) = t.get("version") {
        return format!("v{v}");
    }
    match t.get("rollout").and_then(Value::as_array) {
        Some(parts) => parts
            .iter()
            .map(|p| format!("v{}:{}%", p["version"], p["weight"]))
            .collect::<Vec<_>>()
            .join(" "),
        None => t.to_string(),
    }
}

/// Runs one subcommand against the gateway at `url` (or, for `sync`, the store).
pub async fn run(cmd: PromptsCommand, url: &str, admin_key: &str) -> anyhow::Result<()> {
    let gw = &Gateway::new(url, admin_key);
    match cmd {
        PromptsCommand::List => {
            let list = gw.get("/v1/prompts").await?;
            let rows: Vec<Vec<String>> = list["data"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    let labels = p["labels"]
                        .as_object()
                        .map(|m| {
                            m.iter()
                                .map(|(l, t)| format!("{l}→{}", target_text(t)))
                                .collect::<Vec<_>>()
                                .join(", ")
                        })
                        .unwrap_or_default();
                    vec![
                        p["name"].as_str().unwrap_or_default().to_owned(),
                        p["latest_version"].to_string(),
                        p["source"].as_str().unwrap_or_default().to_owned(),
                        labels,
                    ]
                })
                .collect();
            print!(
                "{}",
                table::render(&["NAME", "LATEST", "SOURCE", "LABELS"], &rows)
            );
        }
        PromptsCommand::Show {
            name,
            version: Some(v),
        } => {
            let one = gw
                .get(&format!("/v1/prompts/{}/versions/{v}", encode(&name)))
                .await?;
            println!("{}", serde_json::to_string_pretty(&one)?);
        }
        PromptsCommand::Show {
            name,
            version: None,
        } => {
            let list = gw
                .get(&format!("/v1/prompts/{}/versions", encode(&name)))
                .await?;
            let rows: Vec<Vec<String>> = list["data"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| {
                    vec![
                        v["version"].to_string(),
                        v["created_at"].as_str().unwrap_or_default().to_owned(),
                        v["author"].as_str().unwrap_or("-").to_owned(),
                        v["labels"]
                            .as_array()
                            .map(|l| {
                                l.iter()
                                    .filter_map(Value::as_str)
                                    .collect::<Vec<_>>()
                                    .join(",")
                            })
                            .unwrap_or_default(),
                        v["sha256"]
                            .as_str()
                            .map(|s| s[..12.min(s.len())].to_owned())
                            .unwrap_or_default(),
                        v["commit_message"].as_str().unwrap_or("").to_owned(),
                    ]
                })
                .collect();
            print!(
                "{}",
                table::render(
                    &["VERSION", "CREATED", "AUTHOR", "LABELS", "SHA256", "MESSAGE"],
                    &rows
                )
            );
        }
        PromptsCommand::Push {
            file,
            name,
            message,
        } => {
            let name = match name {
                Some(n) => n,
                None => file
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "cannot take a prompt name from {}; pass --name",
                            file.display()
                        )
                    })?,
            };
            let text = std::fs::read_to_string(&file)?;
            let mut version = crate::registry::dotprompt::parse(&name, &text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            if message.is_some() {
                version.commit_message = message;
            }
            let body = serde_json::to_value(&version)?;
            let out = gw
                .post(&format!("/v1/prompts/{}/versions", encode(&name)), &body)
                .await?;
            let verb = if out["created"] == json!(true) {
                "created"
            } else {
                "unchanged (same content as)"
            };
            println!("{verb} {}@{}", name, out["version"]);
        }
        PromptsCommand::Diff { name, from, to } => {
            let d = gw
                .get(&format!(
                    "/v1/prompts/{}/diff?from={from}&to={to}",
                    encode(&name)
                ))
                .await?;
            let text = d["diff"].as_str().unwrap_or_default();
            if text.is_empty() {
                println!("versions {from} and {to} are identical");
            } else {
                print!("{text}");
            }
        }
        PromptsCommand::Promote {
            name,
            version,
            label,
        } => {
            gw.put(
                &format!("/v1/prompts/{}/labels/{label}", encode(&name)),
                &json!({"version": version}),
            )
            .await?;
            println!("{label} → {name}@{version}");
        }
        PromptsCommand::Rollback { name, label } => {
            let history = gw
                .get(&format!(
                    "/v1/prompts/{}/labels/{label}/history",
                    encode(&name)
                ))
                .await?;
            let last = history["data"].as_array().and_then(|h| h.first()).cloned();
            let previous = last
                .as_ref()
                .and_then(|m| m.get("from"))
                .filter(|f| !f.is_null())
                .cloned();
            let Some(previous) = previous else {
                anyhow::bail!("label {label} of {name} has no earlier target to roll back to");
            };
            gw.put(
                &format!("/v1/prompts/{}/labels/{label}", encode(&name)),
                &previous,
            )
            .await?;
            println!(
                "{label} of {name} rolled back to {}",
                target_text(&previous)
            );
        }
        PromptsCommand::Report {
            name,
            label,
            from,
            to,
            json,
        } => {
            let mut path = format!("/v1/prompts/{}/report?label={label}", encode(&name));
            for (key, value) in [("from", from), ("to", to)] {
                if let Some(v) = value {
                    path.push_str(&format!("&{key}={}", v.replace('+', "%2B")));
                }
            }
            let report = gw.get(&path).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", super::report::render(&report));
            }
        }
        PromptsCommand::Sync { dir, config } => sync(dir.as_deref(), config.as_deref()).await?,
    }
    Ok(())
}

/// `prompts sync`: opens the configured store and syncs `dir`.
pub async fn sync(dir: Option<&Path>, config: Option<&Path>) -> anyhow::Result<()> {
    let config = crate::Config::load(config)?;
    let dir = dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| config.prompts_dir.clone());
    let store = crate::store::connect(&config.store.url, config.store.max_connections).await?;
    let live = crate::registry::live::LiveRegistry::load(store.as_ref()).await?;
    let (created, unchanged) =
        crate::registry::service::sync_dir(store.as_ref(), &live, &dir).await?;
    println!(
        "{}: {created} version(s) created, {unchanged} unchanged",
        dir.display()
    );
    Ok(())
}
