//! Started from another folder, `serve --config DIR/promptgate.toml` finds the
//! prompt files next to its config file and says where it read them.

use std::process::Stdio;
use std::time::Duration;

use crate::helpers::ADMIN_KEY;

#[tokio::test]
async fn serve_from_another_folder_syncs_the_prompts_next_to_the_config() {
    let config_dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let dir = config_dir.path();
    std::fs::create_dir_all(dir.join("prompts/team")).unwrap();
    std::fs::write(
        dir.join("prompts/team/hello.prompt"),
        "---\nmodel: mock-1\ninput:\n  schema:\n    name: string\npromptgate.labels: [production]\n---\nHello {{name}}!\n",
    )
    .unwrap();
    // the default prompts_dir, `prompts`: next to this file
    std::fs::write(
        dir.join("promptgate.toml"),
        format!(
            "[store]\nurl = \"sqlite://{}\"\n",
            dir.join("pg.db").display()
        ),
    )
    .unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let log_path = elsewhere.path().join("out.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_promptgate"))
        .arg("serve")
        .arg("--config")
        .arg(dir.join("promptgate.toml"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .current_dir(elsewhere.path())
        .env("PROMPTGATE_ADMIN_KEY", ADMIN_KEY)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .expect("start promptgate");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut up = false;
    for _ in 0..400 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let text = || std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(up, "promptgate did not start:\n{}", text());

    let resolved = http
        .get(format!("{base}/v1/prompts/team/hello"))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resolved.status(), 200, "{}", resolved.text().await.unwrap());
    child.kill().await.unwrap();

    let log = strip_ansi(&text());
    let line = log
        .lines()
        .find(|l| l.contains("prompt files synced"))
        .unwrap_or_else(|| panic!("no sync line in:\n{log}"));
    let prompts = dir.join("prompts");
    assert!(line.contains("files=1"), "{line}");
    assert!(line.contains(&prompts.display().to_string()), "{line}");
}

/// Drops terminal colour codes (`ESC [ … m`) in case the logger adds them.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
