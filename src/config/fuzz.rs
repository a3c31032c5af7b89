//! Fuzz target for config files: an operator's TOML (with typos, wrong
//! types, out-of-range numbers) either loads or is refused with an error
//! that names what is wrong; it never panics. Run by
//! [`crate::fuzzing::check`]; see `scripts/fuzz`.

use proptest::prelude::*;

use super::Config;
use crate::fuzzing::check;

/// TOML assembled from the config's own sections and keys, values of every
/// type (and some out of range), and noise.
fn config_text() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        4 => prop::sample::select(vec![
            "[store]\n", "[[upstreams]]\n", "[cache]\n", "[[cache.rules]]\n", "[aliases]\n",
            "[[rate_limits]]\n", "[grounding]\n", "[grounding.judge]\n", "[prices.\"m*\"]\n",
            "[[alerts.webhooks]]\n", "[limits]\n", "[otel]\n", "[system]\n", "[[x]]\n",
        ])
        .prop_map(str::to_owned),
        6 => (
            prop::sample::select(vec![
                "listen", "url", "name", "base_url", "api_key_env", "models", "timeout_s",
                "kind", "retry", "cooldown", "team", "key", "model", "rpm", "tpm",
                "concurrency", "threshold", "sample_rate", "mode", "flag", "input", "output",
                "ttl_s", "max_body_bytes", "shutdown_grace_s", "prompts_dir", "admin_key",
                "\"gpt-4o\"", "weird key",
            ]),
            prop::sample::select(vec![
                "\"127.0.0.1:0\"", "\"sqlite::memory:\"", "\"postgres://x\"", "\"ftp://x\"",
                "\"http://127.0.0.1:1/v1\"", "\"\"", "\"*\"", "[\"a/b\", \"*\"]", "[]", "0", "-1",
                "1e309", "nan", "inf", "18446744073709551616", "9223372036854775807", "1.5",
                "true", "{ attempts = 0 }", "{ attempts = 3, on = [429, \"connect\", \"x\"] }",
                "{ failures = 0, window_ms = 0, cooldown_ms = 0 }", "[\"openai/gpt-4o\", \"\"]",
                "\"sync\"", "\"either\"", "1979-05-27T07:32:00Z", "'''\n'''", "\"\\u0000\"",
            ]),
        )
            .prop_map(|(k, v)| format!("{k} = {v}\n")),
        1 => any::<String>(),
    ];
    prop::collection::vec(line, 0..16).prop_map(|ls| ls.concat())
}

#[test]
fn any_config_file_loads_or_is_refused() {
    let Ok(dir) = tempfile::tempdir() else {
        unreachable!("a temporary folder can be made")
    };
    let path = dir.path().join("promptgate.toml");
    check("config", config_text(), |text| {
        std::fs::write(&path, &text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        match Config::load(Some(&path)) {
            Ok(config) => prop_assert!(config.validate().is_ok()),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
        Ok(())
    });
}
