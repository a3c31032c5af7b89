//! The evaluation data sets and their loaders: FaithBench dev batches and
//! HaluEval QA, read from the folder given (nothing is copied into the repo),
//! plus the other detectors' predictions FaithBench stores beside each sample,
//! and an optional extra test set in a plain JSONL form.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dataset {
    FaithBench,
    HaluEval,
    /// The optional extra test set (`--extra`).
    Extra,
}

impl Dataset {
    /// The name tables print.
    pub fn label(self) -> &'static str {
        match self {
            Dataset::FaithBench => "FaithBench",
            Dataset::HaluEval => "HaluEval",
            Dataset::Extra => "extra",
        }
    }

    /// The index rows carry (`Row::dataset`).
    pub fn id(self) -> u8 {
        self as u8
    }
}

impl FromStr for Dataset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "faithbench" | "faithbenchdev" => Ok(Dataset::FaithBench),
            "halueval" | "haluevalqa" => Ok(Dataset::HaluEval),
            _ => Err(format!(
                "unknown dataset {s:?} (expected faithbench or halueval)"
            )),
        }
    }
}

impl fmt::Display for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dataset::FaithBench => "faithbench",
            Dataset::HaluEval => "halueval",
            Dataset::Extra => "extra",
        })
    }
}

/// One scored item.
#[derive(Clone, Debug)]
pub struct Sample {
    pub source_id: usize,
    pub context: String,
    pub answer: String,
    pub hallucinated: bool,
    /// Other detectors: (name, predicted hallucinated, hallucination score for AUROC).
    pub detectors: Vec<(String, bool, f64)>,
}

#[derive(Deserialize)]
struct FbFile {
    samples: Vec<FbSample>,
}

#[derive(Deserialize)]
struct FbSample {
    source: String,
    summary: String,
    #[serde(default)]
    annotations: Vec<FbAnnotation>,
    #[serde(default)]
    metadata: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct FbAnnotation {
    #[serde(default)]
    label: Vec<String>,
}

#[derive(Deserialize)]
struct QaLine {
    knowledge: String,
    right_answer: String,
    hallucinated_answer: String,
}

/// Detectors stored in FaithBench's metadata: (key, is a probability score).
pub(super) const DETECTORS: &[(&str, bool)] = &[
    ("hhem-2.1", true),
    ("hhem-2.1-english", true),
    ("hhemv1", true),
    ("gpt_4o", false),
    ("gpt-4-turbo", false),
    ("gpt-3.5-turbo", false),
    ("trueteacher", false),
    ("true_nli", false),
];

fn faithbench_dir(path: &Path) -> PathBuf {
    let sub = path.join("faithbench-dev");
    if !has_batches(path) && sub.is_dir() {
        sub
    } else {
        path.to_path_buf()
    }
}

fn has_batches(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|rd| rd.flatten().any(|e| is_batch(&e.path())))
        .unwrap_or(false)
}

fn is_batch(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("batch_") && n.ends_with(".json"))
}

/// Loads FaithBench samples (sorted by file name, then file order).
pub fn load_faithbench(path: &Path) -> Result<Vec<Sample>, String> {
    let dir = faithbench_dir(path);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| is_batch(p))
        .collect();
    files.sort_by_key(|p| {
        let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        (
            stem.trim_start_matches("batch_")
                .parse::<u32>()
                .unwrap_or(u32::MAX),
            p.clone(),
        )
    });
    if files.is_empty() {
        return Err(format!("{}: no batch_*.json files", dir.display()));
    }
    let mut sources: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for file in files {
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let fb: FbFile =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        for s in fb.samples {
            let hallucinated = s
                .annotations
                .iter()
                .any(|a| a.label.iter().any(|l| l.starts_with("Unwanted")));
            let source_id = match sources.iter().position(|x| *x == s.source) {
                Some(i) => i,
                None => {
                    sources.push(s.source.clone());
                    sources.len() - 1
                }
            };
            let mut detectors = Vec::new();
            for &(key, prob) in DETECTORS {
                if let Some(v) = s.metadata.get(key).and_then(serde_json::Value::as_f64) {
                    if prob {
                        detectors.push((key.to_string(), v < 0.5, 1.0 - v));
                    } else {
                        detectors.push((
                            key.to_string(),
                            v == 0.0,
                            if v == 0.0 { 1.0 } else { 0.0 },
                        ));
                    }
                }
            }
            out.push(Sample {
                source_id,
                context: s.source,
                answer: s.summary,
                hallucinated,
                detectors,
            });
        }
    }
    Ok(out)
}

/// Loads HaluEval QA: two answers per line.
pub fn load_halueval(path: &Path) -> Result<Vec<Sample>, String> {
    let file = if path.is_file() {
        path.to_path_buf()
    } else {
        let candidates = [
            path.join("qa_500.jsonl"),
            path.join("halueval-qa").join("qa_500.jsonl"),
        ];
        match candidates.iter().find(|p| p.is_file()) {
            Some(p) => p.clone(),
            None => {
                let dir = if path.join("halueval-qa").is_dir() {
                    path.join("halueval-qa")
                } else {
                    path.to_path_buf()
                };
                std::fs::read_dir(&dir)
                    .map_err(|e| format!("{}: {e}", dir.display()))?
                    .flatten()
                    .map(|e| e.path())
                    .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
                    .ok_or_else(|| format!("{}: no .jsonl file", dir.display()))?
            }
        }
    };
    let mut out = Vec::new();
    for (i, q) in jsonl::<QaLine>(&file)? {
        out.push(Sample {
            source_id: i,
            context: q.knowledge.clone(),
            answer: q.right_answer,
            hallucinated: false,
            detectors: vec![],
        });
        out.push(Sample {
            source_id: i,
            context: q.knowledge,
            answer: q.hallucinated_answer,
            hallucinated: true,
            detectors: vec![],
        });
    }
    Ok(out)
}

/// One line of the extra set. Field names of the common factual-consistency
/// benchmarks are accepted (`doc`/`claim` as in LLM-AggreFact, `document`/`summary`).
#[derive(Deserialize)]
struct ExtraLine {
    #[serde(alias = "doc", alias = "document", alias = "source")]
    context: String,
    #[serde(alias = "claim", alias = "summary")]
    answer: String,
    /// 1 = consistent (supported), 0 = not: the benchmarks' convention.
    label: u8,
}

/// Loads an extra test set: JSONL, one `{"context", "answer", "label"}` per line,
/// `label` 1 = supported, 0 = hallucinated. Each line is its own source.
pub fn load_extra(path: &Path) -> Result<Vec<Sample>, String> {
    let mut out = Vec::new();
    for (i, l) in jsonl::<ExtraLine>(path)? {
        if l.label > 1 {
            return Err(format!(
                "{}:{}: label must be 0 or 1",
                path.display(),
                i + 1
            ));
        }
        out.push(Sample {
            source_id: i,
            context: l.context,
            answer: l.answer,
            hallucinated: l.label == 0,
            detectors: vec![],
        });
    }
    if out.is_empty() {
        return Err(format!("{}: no samples", path.display()));
    }
    Ok(out)
}

/// The non-blank lines of a JSONL file, parsed, with their 0-based line index.
fn jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<(usize, T)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line)
                .map(|v| (i, v))
                .map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))
        })
        .collect()
}
