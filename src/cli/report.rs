//! `promptgate prompts report NAME`: a rollout report as a table, one line
//! per version and metric.

use serde_json::Value;

use super::table;

/// A number short enough for a table cell.
fn num(v: &Value) -> String {
    match v.as_f64() {
        Some(x) if x != 0.0 && x.abs() < 0.001 => format!("{x:.3e}"),
        Some(x) => format!("{x:.4}"),
        None => "-".into(),
    }
}

fn interval(v: &Value) -> String {
    match v.as_array() {
        Some(pair) if pair.len() == 2 => format!("[{}, {}]", num(&pair[0]), num(&pair[1])),
        _ => "-".into(),
    }
}

/// The report answer of `GET /v1/prompts/{name}/report` as text.
pub fn render(report: &Value) -> String {
    let mut rows = Vec::new();
    for v in report["versions"].as_array().into_iter().flatten() {
        let version = if v["baseline"] == Value::Bool(true) {
            format!("v{} (baseline)", v["version"])
        } else {
            format!("v{}", v["version"])
        };
        let weight = v["weight"].as_u64().map_or("-".into(), |w| w.to_string());
        for (metric, e) in v["metrics"].as_object().into_iter().flatten() {
            let c = &v["comparison"][metric];
            rows.push(vec![
                version.clone(),
                weight.clone(),
                metric.clone(),
                e["n"].to_string(),
                num(&e["value"]),
                interval(&e["ci"]),
                num(&c["difference"]),
                interval(&c["ci"]),
                c["verdict"].as_str().unwrap_or("").to_owned(),
            ]);
        }
    }
    let head = format!(
        "{} [{}] {} → {}\n",
        report["name"].as_str().unwrap_or_default(),
        report["label"].as_str().unwrap_or_default(),
        report["from"].as_str().unwrap_or_default(),
        report["to"].as_str().unwrap_or_default(),
    );
    head + &table::render(
        &[
            "VERSION",
            "WEIGHT",
            "METRIC",
            "N",
            "VALUE",
            "95% CI",
            "DIFF",
            "DIFF 95% CI",
            "VERDICT",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_line_per_version_and_metric() {
        let report = json!({"name": "p", "label": "production", "from": "a", "to": "b",
        "versions": [
            {"version": 1, "baseline": true, "weight": 90,
             "metrics": {"flag_rate": {"value": 0.1, "ci": [0.05, 0.15], "n": 100}}},
            {"version": 2, "baseline": false, "weight": 10,
             "metrics": {"flag_rate": {"value": 0.5, "ci": [0.4, 0.6], "n": 100}},
             "comparison": {"flag_rate": {"difference": 0.4, "ci": [0.3, 0.5], "verdict": "worse"}}}
        ]});
        let text = render(&report);
        assert!(text.contains("v1 (baseline)"), "{text}");
        let line = text.lines().find(|l| l.starts_with("v2 ")).unwrap();
        assert!(
            line.contains("worse") && line.contains("[0.3000, 0.5000]"),
            "{line}"
        );
    }
}
