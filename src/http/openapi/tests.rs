use std::collections::BTreeSet;

use super::*;
use crate::http::routes;

/// (method, path) of every operation in `paths`.
fn operations(paths: &utoipa::openapi::path::Paths) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in &paths.paths {
        let item = serde_json::to_value(item).unwrap();
        for method in [
            "get", "put", "post", "delete", "options", "head", "patch", "trace",
        ] {
            if item.get(method).is_some() {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

/// axum's `{*rest}` (the rest of the path) as the document writes it: `{rest}`.
fn document_path(axum_path: &str) -> String {
    axum_path.replace("{*", "{")
}

#[test]
fn every_route_is_documented_and_every_documented_operation_is_a_route() {
    let table = routes::table();
    let mut served = BTreeSet::new();
    for route in &table {
        let ops = operations(&route.docs);
        if let Some(why) = route.undocumented {
            assert!(!why.is_empty(), "{}: say why it is left out", route.path);
            assert!(
                ops.is_empty(),
                "{}: documented and undocumented",
                route.path
            );
            continue;
        }
        assert!(
            !ops.is_empty(),
            "{} has no documented operation",
            route.path
        );
        match &route.dispatched {
            Some(dispatched) => {
                let dispatched: BTreeSet<_> = dispatched
                    .iter()
                    .map(|(m, p)| (m.to_string(), p.clone()))
                    .collect();
                assert_eq!(ops, dispatched, "{}: dispatched vs documented", route.path);
                let prefix = &route.path[..route.path.find("{*").unwrap()];
                for (_, path) in &ops {
                    assert!(
                        path.starts_with(prefix),
                        "{path} is not below {}",
                        route.path
                    );
                }
            }
            None => {
                for (method, path) in &ops {
                    assert_eq!(
                        *path,
                        document_path(route.path),
                        "{method} {path} is documented on route {}",
                        route.path
                    );
                }
            }
        }
        for op in ops {
            assert!(served.insert(op.clone()), "{op:?} is served by two routes");
        }
    }
    let documented = operations(&document(&table).paths);
    let missing: Vec<_> = served.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&served).collect();
    assert!(
        missing.is_empty(),
        "served but not in the document: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "in the document but not served: {extra:?}"
    );
}

#[test]
fn every_operation_has_an_id_a_tag_and_a_summary() {
    let doc = serde_json::to_value(document(&routes::table())).unwrap();
    let tags: BTreeSet<_> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_default();
            assert!(
                ids.insert(id.to_owned()),
                "{method} {path}: operationId `{id}` twice"
            );
            assert!(
                !op["summary"].as_str().unwrap_or_default().is_empty(),
                "{method} {path}"
            );
            for tag in op["tags"].as_array().unwrap() {
                assert!(
                    tags.contains(tag.as_str().unwrap()),
                    "{method} {path}: tag {tag}"
                );
            }
        }
    }
}

/// `openapi.json` in the repository is what the code generates. To rewrite it
/// after changing the API: `UPDATE_OPENAPI=1 cargo test --lib openapi`.
#[test]
fn the_committed_document_is_the_generated_one() {
    let generated = document_json(&routes::table());
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    if std::env::var_os("UPDATE_OPENAPI").is_some_and(|v| v == "1") {
        std::fs::write(&file, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi.json differs from the generated document: run `UPDATE_OPENAPI=1 cargo test --lib openapi` and commit it"
    );
}
