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

/// Rows of one data set whose label follows feature 0 (with some noise), one
/// source per row.
fn synthetic(dataset: u8, n: usize) -> Vec<Row> {
    (0..n)
        .map(|i| {
            let mut x = [0.0; crate::grounding::features::NC];
            x[WORST_GAP] = (i % 10) as f64 / 10.0;
            Row {
                x,
                hallucinated: (i % 10 >= 5) ^ (i % 7 == 0),
                weight: 1.0,
                group: (u64::from(dataset) << 32) | i as u64,
                dataset,
            }
        })
        .collect()
}

#[test]
fn each_extra_set_is_tested_on_its_own_and_named_by_its_file() {
    assert_eq!(extra_name(Path::new("/data/summedits/news.jsonl")), "news");
    let mut rows = synthetic(FAITHBENCH, 60);
    rows.extend(synthetic(HALUEVAL, 60));
    rows.extend(synthetic(EXTRA, 30));
    let p = Procedure::UnitWeights;
    let names: Vec<String> = splits::EXTRA
        .into_iter()
        .map(|split| {
            let s = splits::run(&rows, split, &p, Some("news"));
            // every extra row is scored once, by a fit that never saw it
            assert_eq!(s.oos.ys.len(), 30, "{}", s.name);
            assert_eq!(s.test, Dataset::Extra);
            s.name
        })
        .collect();
    assert_eq!(
        names,
        [
            "fit on FaithBench, test on extra:news",
            "fit on HaluEval, test on extra:news",
            "fit on both, test on extra:news",
        ]
    );
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
        // the acceptance criterion: balanced accuracy above the baseline's on
        // every FaithBench / HaluEval row (this run has no extra sets)
        assert!(
            s.model.balanced_accuracy > s.baseline.balanced_accuracy,
            "{}: balanced accuracy {:.3} <= baseline {:.3}",
            s.name,
            s.model.balanced_accuracy,
            s.baseline.balanced_accuracy
        );
        match s.test {
            Dataset::FaithBench if s.name.contains("CV") => assert!(
                s.model.balanced_accuracy >= 0.60,
                "{}: balanced accuracy {:.3} < 0.60",
                s.name,
                s.model.balanced_accuracy
            ),
            Dataset::HaluEval => assert!(
                s.model.auroc >= 0.95,
                "{}: AUROC {:.3} < 0.95 out of fold",
                s.name,
                s.model.auroc
            ),
            _ => {}
        }
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
