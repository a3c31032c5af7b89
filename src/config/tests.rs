//! Tests of reading and checking the configuration.

use super::*;

#[test]
fn defaults_are_valid() {
    Config::default().validate().unwrap();
}

/// Loads a config file with `text` in it.
fn load(text: &str) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, text).unwrap();
    Config::load(Some(&path))
}

#[test]
fn unknown_key_is_named() {
    let err = load("listen = \"127.0.0.1:1\"\n[store]\nurll = \"x\"\n").unwrap_err();
    assert!(err.to_string().contains("urll"), "{err}");
}

#[test]
fn judge_section_is_read_and_checked() {
    let config =
        load("[grounding.judge]\nmodel = \"mock-1\"\nmode = \"sync\"\nflag = \"either\"\n");
    let judge = config.unwrap().grounding.judge.unwrap();
    assert_eq!(judge.mode, crate::grounding::judge::JudgeMode::Sync);
    assert_eq!(judge.flag, crate::grounding::judge::FlagRule::Either);
    assert_eq!(judge.sample_rate, 1.0);
    let err = load("[grounding.judge]\nmodel = \"mock-1\"\nsample_rate = 1.5\n").unwrap_err();
    assert!(
        err.to_string().contains("grounding.judge.sample_rate"),
        "{err}"
    );
    assert!(Config::load(None).unwrap().grounding.judge.is_none());
}

#[test]
fn grounding_threshold_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "[grounding]\nthreshold = 0.6\n").unwrap();
    assert_eq!(
        Config::load(Some(&path)).unwrap().grounding.threshold,
        Some(0.6)
    );
    std::fs::write(&path, "[grounding]\nthreshold = 1.5\n").unwrap();
    let err = Config::load(Some(&path)).unwrap_err().to_string();
    assert!(err.contains("grounding.threshold"), "{err}");
}

#[test]
fn relative_prompts_dir_is_next_to_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "prompts_dir = \"p/q\"\n").unwrap();
    assert_eq!(
        Config::load(Some(&path)).unwrap().prompts_dir,
        dir.path().join("p/q")
    );
    // the default too
    std::fs::write(&path, "").unwrap();
    assert_eq!(
        Config::load(Some(&path)).unwrap().prompts_dir,
        dir.path().join("prompts")
    );
    // absolute paths stay; no file: the working directory's `prompts`
    std::fs::write(&path, "prompts_dir = \"/srv/prompts\"\n").unwrap();
    assert_eq!(
        Config::load(Some(&path)).unwrap().prompts_dir,
        std::path::PathBuf::from("/srv/prompts")
    );
    assert_eq!(
        Config::load(None).unwrap().prompts_dir,
        std::path::PathBuf::from("prompts")
    );
}

#[test]
fn bad_upstream_is_named() {
    let err = load("[[upstreams]]\nname = \"x\"\nbase_url = \"ftp://a\"\nmodels = [\"*\"]\n")
        .unwrap_err();
    assert!(err.to_string().contains("upstreams[0].base_url"), "{err}");
}
