use std::path::PathBuf;

use super::*;

fn datasets() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!(
            "notice: {} not found; skipping the grounding eval test",
            p.display()
        );
        None
    }
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
fn eval_meets_acceptance_thresholds() {
    let Some(root) = datasets() else { return };
    let fb = run(Dataset::FaithBench, &root.join("faithbench-dev"));
    let fb = match fb {
        Ok(r) => r,
        Err(e) => panic!("faithbench eval failed: {e}"),
    };
    println!("{fb}");
    let cv = fb.cross_validated.clone().unwrap_or_default();
    assert!(
        cv.balanced_accuracy >= 0.60,
        "cross-validated balanced accuracy {:.3} < 0.60",
        cv.balanced_accuracy
    );
    let qa = match run(Dataset::HaluEval, &root.join("halueval-qa")) {
        Ok(r) => r,
        Err(e) => panic!("halueval eval failed: {e}"),
    };
    println!("{qa}");
    assert!(
        qa.builtin.auroc >= 0.95,
        "HaluEval AUROC {:.3} < 0.95",
        qa.builtin.auroc
    );
}

/// Refits `weights.json`: `GROUNDING_WRITE_WEIGHTS=path cargo test ... refit_weights -- --ignored`
/// (see `scripts/fit_grounding.sh`).
#[test]
#[ignore]
fn refit_weights() {
    let Some(root) = datasets() else { return };
    let (m, json) = match fit_builtin(&root.join("faithbench-dev")) {
        Ok(x) => x,
        Err(e) => panic!("{e}"),
    };
    println!("{json}");
    println!("{m:?}");
    if let Ok(p) = std::env::var("GROUNDING_WRITE_WEIGHTS") {
        if let Err(e) = std::fs::write(&p, json + "\n") {
            panic!("writing {p}: {e}");
        }
    }
}
