use std::path::PathBuf;

use super::*;

/// The shared data sets: `GROUNDING_DATASETS`, else `../shared/datasets` beside
/// the checkout or one level further up (worktrees).
fn datasets() -> Option<PathBuf> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let found = std::env::var_os("GROUNDING_DATASETS")
        .map(PathBuf::from)
        .into_iter()
        .chain([
            here.join("../shared/datasets"),
            here.join("../../shared/datasets"),
        ])
        .find(|p| p.join("faithbench-dev").is_dir() && p.join("halueval-qa").is_dir());
    if found.is_none() {
        eprintln!("notice: grounding data sets not found; skipping the grounding eval test");
    }
    found
}

#[test]
fn metrics_definitions() {
    let ys = [true, true, false, false];
    let m = Metrics::compute(&ys, &[true, false, false, true], &[0.9, 0.2, 0.1, 0.8]);
    assert!((m.balanced_accuracy - 0.5).abs() < 1e-12);
    assert!((m.precision - 0.5).abs() < 1e-12);
    assert!((m.recall - 0.5).abs() < 1e-12);
    assert!((m.auroc - 0.75).abs() < 1e-12);
    assert!((auroc(&ys, &[0.5, 0.5, 0.5, 0.5]) - 0.5).abs() < 1e-12);
    assert_eq!("faithbench".parse::<Dataset>(), Ok(Dataset::FaithBench));
    assert_eq!("HaluEval-QA".parse::<Dataset>(), Ok(Dataset::HaluEval));
    assert!("x".parse::<Dataset>().is_err());
}

#[test]
fn extra_set_loads_benchmark_field_names() {
    let dir = std::env::temp_dir().join(format!("pg-extra-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("x.jsonl");
    std::fs::write(
        &p,
        "{\"doc\": \"A b.\", \"claim\": \"A.\", \"label\": 1}\n\n{\"context\": \"C.\", \"answer\": \"D.\", \"label\": 0}\n",
    )
    .unwrap();
    let s = load_extra(&p).unwrap();
    assert_eq!(s.len(), 2);
    assert!(!s[0].hallucinated && s[1].hallucinated);
    std::fs::write(&p, "{\"doc\": \"A\", \"claim\": \"A\", \"label\": 2}\n").unwrap();
    assert!(load_extra(&p).is_err());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn eval_beats_the_baseline_out_of_sample() {
    let Some(root) = datasets() else { return };
    let r = match run(&Inputs::under(&root)) {
        Ok(r) => r,
        Err(e) => panic!("grounding eval failed: {e}"),
    };
    println!("{r}");
    for s in &r.splits {
        assert_eq!(s.oos.ys.len(), s.oos.scores.len());
        assert!(
            s.model.auroc >= s.baseline.auroc,
            "{}: AUROC {:.3} < baseline {:.3}",
            s.name,
            s.model.auroc,
            s.baseline.auroc
        );
    }
    let qa = r
        .in_sample
        .iter()
        .find(|(d, _)| *d == Dataset::HaluEval)
        .map(|(_, m)| m.auroc);
    assert!(
        qa.is_some_and(|a| a >= 0.95),
        "HaluEval AUROC {qa:?} < 0.95"
    );
}

/// Refits `weights.json`: `GROUNDING_WRITE_WEIGHTS=path cargo test ... refit_weights -- --ignored`
/// (see `scripts/fit_grounding.sh`).
#[test]
#[ignore]
fn refit_weights() {
    let Some(root) = datasets() else { return };
    let (fitted, json) = match fit_builtin(&Inputs::under(&root)) {
        Ok(x) => x,
        Err(e) => panic!("{e}"),
    };
    println!("{json}");
    println!("{fitted:?}");
    if let Ok(p) = std::env::var("GROUNDING_WRITE_WEIGHTS") {
        if let Err(e) = std::fs::write(&p, json + "\n") {
            panic!("writing {p}: {e}");
        }
    }
}
