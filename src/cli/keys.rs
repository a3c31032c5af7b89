//! `promptgate teams …` and `promptgate keys …`: teams and API keys of a
//! running gateway (admin key).

use clap::Subcommand;
use serde_json::{json, Value};

use super::client::Gateway;
use super::table;

#[derive(Subcommand)]
pub enum TeamsCommand {
    /// Create a team.
    Create { name: String },
    /// List the teams.
    List,
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create a key for TEAM; prints the key (shown only now).
    Create {
        team: String,
        /// A label for the key.
        #[arg(long)]
        name: Option<String>,
        /// Refused after this: a duration from now (`90d`, `12h`) or an RFC 3339 time.
        #[arg(long)]
        expires: Option<String>,
        /// The only models the key may call, comma-separated.
        #[arg(long, value_delimiter = ',')]
        models: Option<Vec<String>>,
    },
    /// List TEAM's keys (hints only; keys are never shown again).
    List { team: String },
    /// Revoke a key by id.
    Revoke { id: String },
    /// Give a key a new secret under the same id; prints the new key.
    Rotate {
        id: String,
        /// How long the old secret keeps working (`24h`, `30m`, `0`).
        #[arg(long, default_value = "0")]
        grace: String,
    },
}

pub async fn teams(cmd: TeamsCommand, url: &str, key: &str) -> anyhow::Result<()> {
    let gw = Gateway::new(url, key);
    match cmd {
        TeamsCommand::Create { name } => {
            let team = gw.post("/v1/teams", &json!({ "name": name })).await?;
            println!("created team {}", team["name"].as_str().unwrap_or_default());
        }
        TeamsCommand::List => {
            let list = gw.get("/v1/teams").await?;
            let rows: Vec<Vec<String>> = items(&list)
                .iter()
                .map(|t| vec![text(&t["name"]), text(&t["created_at"])])
                .collect();
            print!("{}", table::render(&["team", "created"], &rows));
        }
    }
    Ok(())
}

pub async fn keys(cmd: KeysCommand, url: &str, key: &str) -> anyhow::Result<()> {
    let gw = Gateway::new(url, key);
    match cmd {
        KeysCommand::Create {
            team,
            name,
            expires,
            models,
        } => {
            let mut body = json!({});
            if let Some(name) = name {
                body["name"] = json!(name);
            }
            if let Some(expires) = expires {
                body["expires_at"] = json!(expires_at(&expires, chrono::Utc::now())?);
            }
            if let Some(models) = models {
                body["models"] = json!(models);
            }
            let created = gw.post(&format!("/v1/teams/{team}/keys"), &body).await?;
            print_secret(&created);
        }
        KeysCommand::List { team } => {
            let list = gw.get(&format!("/v1/teams/{team}/keys")).await?;
            let rows: Vec<Vec<String>> = items(&list)
                .iter()
                .map(|k| {
                    vec![
                        text(&k["id"]),
                        text(&k["name"]),
                        text(&k["hint"]),
                        text(&k["created_at"]),
                        text(&k["expires_at"]),
                        text(&k["revoked_at"]),
                        k["allowed_models"]
                            .as_array()
                            .map(|m| m.iter().map(text).collect::<Vec<_>>().join(","))
                            .unwrap_or_else(|| "-".into()),
                        match (&k["previous_hint"], &k["previous_expires_at"]) {
                            (Value::String(h), Value::String(until)) => {
                                format!("{h} until {until}")
                            }
                            _ => "-".into(),
                        },
                    ]
                })
                .collect();
            let headers = [
                "id",
                "name",
                "hint",
                "created",
                "expires",
                "revoked",
                "models",
                "old secret",
            ];
            print!("{}", table::render(&headers, &rows));
        }
        KeysCommand::Revoke { id } => {
            gw.delete(&format!("/v1/keys/{id}")).await?;
            println!("revoked {id}");
        }
        KeysCommand::Rotate { id, grace } => {
            let grace_s = seconds(&grace)?;
            let rotated = gw
                .post(
                    &format!("/v1/keys/{id}/rotate"),
                    &json!({ "grace_s": grace_s }),
                )
                .await?;
            print_secret(&rotated);
            match rotated["previous_expires_at"].as_str() {
                Some(until) if grace_s > 0 => println!("the old secret works until {until}"),
                _ => println!("the old secret no longer works"),
            }
        }
    }
    Ok(())
}

fn print_secret(key: &Value) {
    println!("id:  {}", text(&key["id"]));
    println!("key: {}", text(&key["key"]));
    println!("(the key is shown only now; store it safely)");
}

fn items(list: &Value) -> &[Value] {
    list["data"].as_array().map_or(&[], Vec::as_slice)
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `90s`, `30m`, `24h`, `7d` or a plain number of seconds.
pub fn seconds(text: &str) -> anyhow::Result<i64> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], c),
        _ => (text, 's'),
    };
    let n: i64 = number
        .parse()
        .map_err(|_| anyhow::anyhow!("`{text}` is not a duration (like 90s, 30m, 24h, 7d)"))?;
    let unit = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => anyhow::bail!("`{text}`: the unit must be s, m, h or d"),
    };
    n.checked_mul(unit)
        .filter(|s| *s >= 0)
        .ok_or_else(|| anyhow::anyhow!("`{text}` is out of range"))
}

/// `--expires`: an RFC 3339 time as it is, or a duration from `now`.
fn expires_at(text: &str, now: chrono::DateTime<chrono::Utc>) -> anyhow::Result<String> {
    if chrono::DateTime::parse_from_rfc3339(text).is_ok() {
        return Ok(text.to_owned());
    }
    let at = now + chrono::Duration::seconds(seconds(text)?);
    Ok(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(seconds("90").unwrap(), 90);
        assert_eq!(seconds("30m").unwrap(), 1800);
        assert_eq!(seconds("24h").unwrap(), 86_400);
        assert_eq!(seconds("7d").unwrap(), 604_800);
        assert!(seconds("3w").is_err());
        assert!(seconds("-5s").is_err());
        assert!(seconds("soon").is_err());
    }

    #[test]
    fn expiry_from_a_duration_or_a_time() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(expires_at("1d", now).unwrap(), "2026-01-02T00:00:00Z");
        assert_eq!(
            expires_at("2027-03-04T05:06:07Z", now).unwrap(),
            "2027-03-04T05:06:07Z"
        );
    }
}
