//! `promptgate costs report`: the cost report of a running gateway as a table or CSV.

use clap::Subcommand;
use serde_json::Value;

use super::client::Gateway;
use super::table;
use crate::costs::report::{CostsQuery, METRICS};

#[derive(Subcommand)]
pub enum CostsCommand {
    /// Totals per group (team, key, model, prompt, version, day, tag).
    Report {
        #[arg(long, default_value = "team,model")]
        group_by: String,
        /// RFC 3339 time or YYYY-MM-DD (default: 30 days before --to).
        #[arg(long)]
        from: Option<String>,
        /// RFC 3339 time or YYYY-MM-DD (default: now).
        #[arg(long)]
        to: Option<String>,
        /// Only this team (admin key).
        #[arg(long)]
        team: Option<String>,
        /// Print CSV instead of a table.
        #[arg(long)]
        csv: bool,
    },
}

/// The query string, percent-encoding what a value may contain.
fn query(pairs: &[(&str, Option<&str>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| {
            v.map(|v| {
                format!(
                    "{k}={}",
                    v.replace('%', "%25")
                        .replace('&', "%26")
                        .replace('+', "%2B")
                        .replace(' ', "%20")
                )
            })
        })
        .collect();
    parts.join("&")
}

pub async fn run(cmd: CostsCommand, url: &str, key: &str) -> anyhow::Result<()> {
    let gw = Gateway::new(url, key);
    let CostsCommand::Report {
        group_by,
        from,
        to,
        team,
        csv,
    } = cmd;
    let format = if csv { "csv" } else { "json" };
    let asked = CostsQuery {
        from,
        to,
        group_by: Some(group_by),
        format: Some(format.to_owned()),
        team,
    };
    let q = query(&asked.pairs());
    let report = gw.get(&format!("/v1/costs?{q}")).await?;
    if csv {
        print!("{}", report.as_str().unwrap_or_default());
        return Ok(());
    }
    let dims: Vec<String> = report["group_by"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d.as_str().map(str::to_owned))
        .collect();
    let metrics = METRICS;
    let headers: Vec<String> = dims
        .iter()
        .cloned()
        .chain(metrics.iter().map(|m| m.to_string()))
        .map(|h| h.to_uppercase())
        .collect();
    let rows: Vec<Vec<String>> = report["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            dims.iter()
                .map(|d| d.as_str())
                .chain(metrics)
                .map(|f| match &r[f] {
                    Value::String(s) => s.clone(),
                    Value::Null => "-".to_owned(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect();
    println!(
        "{} → {}",
        report["from"].as_str().unwrap_or_default(),
        report["to"].as_str().unwrap_or_default()
    );
    let header_refs: Vec<&str> = headers.iter().map(String::as_str).collect();
    print!("{}", table::render(&header_refs, &rows));
    Ok(())
}
