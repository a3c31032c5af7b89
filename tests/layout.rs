//! The crate's shape, checked from its source text: no import circles between
//! files, no source file over the size a reader can hold, and the layers that
//! must not see `http/` don't.
//!
//! This reads `src/` as text (no compiler involved), so it is a little stricter
//! than rustc: a path to an item counts as an import of the file that defines
//! or re-exports it. Test-only code (`#[cfg(test)] mod …`) is left out.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Lines a source file may have; data (word lists, price tables) lives in data
/// files instead.
const MAX_LINES: usize = 500;

/// Files that may import `http/`: the routes themselves, and the app that
/// mounts them.
fn may_import_http(file: &str) -> bool {
    file.starts_with("http/") || file == "app.rs" || file == "lib.rs"
}

#[test]
fn no_import_circles_between_files() {
    let crate_map = Crate::read();
    let cycles = crate_map.cycles();
    assert!(
        cycles.is_empty(),
        "import circles between files (each line: the files of one circle, then one path through it):\n{}",
        cycles
            .iter()
            .map(|c| format!("  {}\n    {}", c.join(", "), crate_map.one_circle(c).join(" -> ")))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn only_the_app_and_routes_import_http() {
    let crate_map = Crate::read();
    let mut bad = Vec::new();
    for (from, tos) in &crate_map.edges {
        if may_import_http(from) {
            continue;
        }
        for to in tos.iter().filter(|t| t.starts_with("http/")) {
            bad.push(format!("{from} -> {to}"));
        }
    }
    assert!(
        bad.is_empty(),
        "imports of http/ from below it:\n  {}",
        bad.join("\n  ")
    );
}

#[test]
fn no_source_file_is_too_long() {
    let mut long = Vec::new();
    for (name, path) in rust_files() {
        let lines = fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .count();
        if lines > MAX_LINES {
            long.push(format!("{name}: {lines} lines"));
        }
    }
    assert!(
        long.is_empty(),
        "files over {MAX_LINES} lines:\n  {}",
        long.join("\n  ")
    );
}

/// Every `.rs` file below `src/`, by its path relative to `src/`.
fn rust_files() -> Vec<(String, PathBuf)> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, PathBuf)>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(root).unwrap_or(&path);
                out.push((rel.to_string_lossy().replace('\\', "/"), path));
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out
}

/// One source file, reduced to what the checks need.
struct Module {
    /// File-backed child modules (`mod x;`), by name.
    children: BTreeSet<String>,
    /// Children declared under `#[cfg(test)]`.
    test_children: BTreeSet<String>,
    /// Names the file defines (items and inline modules).
    defines: BTreeSet<String>,
    /// `pub use` re-exports: the exported name and the full path it stands for.
    reexports: BTreeMap<String, Vec<String>>,
    /// `pub use path::*` targets.
    glob_reexports: Vec<Vec<String>>,
    /// Every path the file names, made absolute (`crate` dropped).
    paths: Vec<Vec<String>>,
}

struct Crate {
    /// Module path (`gateway::body`) to file (`gateway/body.rs`).
    files: BTreeMap<Vec<String>, String>,
    modules: BTreeMap<String, Module>,
    /// File to the files it imports from.
    edges: BTreeMap<String, BTreeSet<String>>,
}

impl Crate {
    fn read() -> Crate {
        let mut files = BTreeMap::new();
        let mut sources = BTreeMap::new();
        for (name, path) in rust_files() {
            if name == "main.rs" {
                continue; // the binary is its own crate
            }
            let module = module_path(&name);
            let text = fs::read_to_string(&path).unwrap_or_default();
            files.insert(module.clone(), name.clone());
            sources.insert(name, (module, text));
        }
        let mut modules = BTreeMap::new();
        for (name, (module, text)) in &sources {
            modules.insert(name.clone(), parse(module, text));
        }
        // Files declared only for tests are left out, with what they import.
        let mut test_files = BTreeSet::new();
        for (name, (module, _)) in &sources {
            for child in &modules[name].test_children {
                let mut p = module.clone();
                p.push(child.clone());
                if let Some(f) = files.get(&p) {
                    test_files.insert(f.clone());
                }
            }
        }
        let mut c = Crate {
            files,
            modules,
            edges: BTreeMap::new(),
        };
        let mut edges = BTreeMap::new();
        for (name, module) in &c.modules {
            if test_files.contains(name) {
                continue;
            }
            let mut to = BTreeSet::new();
            for path in &module.paths {
                if let Some(file) = c.resolve(path, 0) {
                    if &file != name && !test_files.contains(&file) {
                        to.insert(file);
                    }
                }
            }
            edges.insert(name.clone(), to);
        }
        c.edges = edges;
        c
    }

    /// The file a path's item lives in (following re-exports), if it is ours.
    fn resolve(&self, path: &[String], depth: usize) -> Option<String> {
        if depth > 8 {
            return None;
        }
        let mut module: Vec<String> = Vec::new();
        let mut file = self.files.get(&module)?.clone();
        for (i, seg) in path.iter().enumerate() {
            let m = &self.modules[&file];
            if m.children.contains(seg) {
                module.push(seg.clone());
                file = self.files.get(&module)?.clone();
                continue;
            }
            if m.defines.contains(seg) {
                return Some(file);
            }
            if let Some(target) = m.reexports.get(seg) {
                let mut full = target.clone();
                full.extend(path[i + 1..].iter().cloned());
                return self.resolve(&full, depth + 1).or(Some(file));
            }
            for glob in &m.glob_reexports {
                let mut full = glob.clone();
                full.extend(path[i..].iter().cloned());
                if let Some(found) = self.resolve(&full, depth + 1) {
                    return Some(found);
                }
            }
            return Some(file);
        }
        Some(file)
    }

    /// Groups of files that import each other in a circle (Tarjan's SCCs).
    fn cycles(&self) -> Vec<Vec<String>> {
        struct Tarjan<'a> {
            edges: &'a BTreeMap<String, BTreeSet<String>>,
            index: BTreeMap<&'a str, usize>,
            low: BTreeMap<&'a str, usize>,
            stack: Vec<&'a str>,
            on_stack: BTreeSet<&'a str>,
            next: usize,
            out: Vec<Vec<String>>,
        }
        impl<'a> Tarjan<'a> {
            fn visit(&mut self, v: &'a str) {
                self.index.insert(v, self.next);
                self.low.insert(v, self.next);
                self.next += 1;
                self.stack.push(v);
                self.on_stack.insert(v);
                let edges = self.edges;
                for w in edges.get(v).into_iter().flatten() {
                    let w = w.as_str();
                    if !self.index.contains_key(w) {
                        self.visit(w);
                        let lw = self.low[w];
                        if let Some(l) = self.low.get_mut(v) {
                            *l = (*l).min(lw);
                        }
                    } else if self.on_stack.contains(w) {
                        let iw = self.index[w];
                        if let Some(l) = self.low.get_mut(v) {
                            *l = (*l).min(iw);
                        }
                    }
                }
                if self.low[v] == self.index[v] {
                    let mut group = Vec::new();
                    while let Some(w) = self.stack.pop() {
                        self.on_stack.remove(w);
                        group.push(w.to_owned());
                        if w == v {
                            break;
                        }
                    }
                    if group.len() > 1 {
                        group.sort();
                        self.out.push(group);
                    }
                }
            }
        }
        let mut t = Tarjan {
            edges: &self.edges,
            index: BTreeMap::new(),
            low: BTreeMap::new(),
            stack: Vec::new(),
            on_stack: BTreeSet::new(),
            next: 0,
            out: Vec::new(),
        };
        for v in self.edges.keys() {
            if !t.index.contains_key(v.as_str()) {
                t.visit(v);
            }
        }
        t.out
    }

    /// One concrete circle inside a group, for the failure message.
    fn one_circle(&self, group: &[String]) -> Vec<String> {
        let inside: BTreeSet<&str> = group.iter().map(String::as_str).collect();
        let start = group[0].as_str();
        // Breadth-first from start back to start, staying inside the group.
        let mut prev: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        while let Some(v) = queue.pop_front() {
            for w in self.edges.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !inside.contains(w) {
                    continue;
                }
                if w == start {
                    let mut path = vec![start.to_owned()];
                    let mut at = v;
                    while at != start {
                        path.push(at.to_owned());
                        at = prev[at];
                    }
                    path.push(start.to_owned());
                    path.reverse();
                    return path;
                }
                if !prev.contains_key(w) {
                    prev.insert(w, v);
                    queue.push_back(w);
                }
            }
        }
        group.to_vec()
    }
}

/// `gateway/body.rs` → `[gateway, body]`; `lib.rs` → `[]`.
fn module_path(file: &str) -> Vec<String> {
    let stem = file.trim_end_matches(".rs");
    let mut parts: Vec<String> = stem.split('/').map(str::to_owned).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

const ITEM_KEYWORDS: [&str; 9] = [
    "fn", "struct", "enum", "trait", "type", "const", "static", "union", "mod",
];

fn parse(module: &[String], text: &str) -> Module {
    let code = strip_test_modules(&strip_comments_and_strings(text));
    let tokens = tokenize(&code);
    let mut m = Module {
        children: BTreeSet::new(),
        test_children: BTreeSet::new(),
        defines: BTreeSet::new(),
        reexports: BTreeMap::new(),
        glob_reexports: Vec::new(),
        paths: Vec::new(),
    };
    // Child modules and defined names.
    for i in 0..tokens.len() {
        let t = tokens[i].as_str();
        if t == "mod" {
            if let (Some(name), Some(next)) = (tokens.get(i + 1), tokens.get(i + 2)) {
                if next == ";" {
                    m.children.insert(name.clone());
                    if preceded_by_cfg_test(&tokens, i) {
                        m.test_children.insert(name.clone());
                    }
                } else {
                    m.defines.insert(name.clone());
                }
            }
        } else if ITEM_KEYWORDS.contains(&t) {
            if let Some(name) = tokens.get(i + 1) {
                if is_ident(name) {
                    m.defines.insert(name.clone());
                }
            }
        } else if t == "macro_rules" {
            if let Some(name) = tokens.get(i + 2) {
                m.defines.insert(name.clone());
            }
        }
    }
    // `use` trees: what they import, and the names they bring into scope.
    let mut aliases: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i] == "use" && (i == 0 || tokens[i - 1] != "::") {
            let public = i > 0 && (tokens[i - 1] == "pub" || tokens[i - 1] == ")");
            let end = (i..tokens.len())
                .find(|&j| tokens[j] == ";")
                .unwrap_or(tokens.len());
            let mut leaves = Vec::new();
            expand_use(&tokens[i + 1..end], Vec::new(), &mut leaves);
            for (path, alias) in leaves {
                let Some(abs) = absolute(module, &m.children, &BTreeMap::new(), &path) else {
                    continue;
                };
                if alias == "*" {
                    if public {
                        m.glob_reexports.push(abs.clone());
                    }
                    m.paths.push(abs);
                    continue;
                }
                if public {
                    m.reexports.insert(alias.clone(), abs.clone());
                }
                aliases.insert(alias, abs.clone());
                m.paths.push(abs);
            }
            i = end;
        }
        i += 1;
    }
    // Paths written in the code: `crate::a::b`, `super::x`, `child::y`, `alias::z`.
    let mut i = 0;
    while i < tokens.len() {
        let starts_path = is_ident(&tokens[i])
            && tokens.get(i + 1).is_some_and(|t| t == "::")
            && (i == 0 || tokens[i - 1] != "::")
            && (i == 0 || tokens[i - 1] != "use");
        if starts_path {
            let mut path = vec![tokens[i].clone()];
            let mut j = i + 1;
            while tokens.get(j).is_some_and(|t| t == "::")
                && tokens.get(j + 1).is_some_and(|t| is_ident(t))
            {
                path.push(tokens[j + 1].clone());
                j += 2;
            }
            if let Some(abs) = absolute(module, &m.children, &aliases, &path) {
                m.paths.push(abs);
            }
            i = j;
        } else {
            i += 1;
        }
    }
    m
}

fn preceded_by_cfg_test(tokens: &[String], at: usize) -> bool {
    // `# [ cfg ( test ) ] (pub)? mod`
    let before: Vec<&str> = tokens[at.saturating_sub(8)..at]
        .iter()
        .map(String::as_str)
        .collect();
    before
        .windows(6)
        .any(|w| w == ["[", "cfg", "(", "test", ")", "]"])
}

/// A path as written, made absolute below `crate` (without it); `None` for
/// paths into other crates.
fn absolute(
    module: &[String],
    children: &BTreeSet<String>,
    aliases: &BTreeMap<String, Vec<String>>,
    path: &[String],
) -> Option<Vec<String>> {
    let first = path.first()?;
    let mut out: Vec<String>;
    let mut rest = &path[1..];
    match first.as_str() {
        "crate" => out = Vec::new(),
        "self" => out = module.to_vec(),
        "super" => {
            out = module.to_vec();
            out.pop();
            while rest.first().is_some_and(|s| s == "super") {
                out.pop();
                rest = &rest[1..];
            }
        }
        name if children.contains(name) => {
            out = module.to_vec();
            out.push(name.to_owned());
        }
        name if aliases.contains_key(name) => out = aliases[name].clone(),
        _ => return None,
    }
    out.extend(rest.iter().filter(|s| *s != "self").cloned());
    Some(out)
}

/// Flattens a `use` tree into (path, name-in-scope) leaves.
fn expand_use(tokens: &[String], prefix: Vec<String>, out: &mut Vec<(Vec<String>, String)>) {
    // Split at top-level commas.
    let mut depth = 0;
    let mut start = 0;
    let mut parts = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        match t.as_str() {
            "{" => depth += 1,
            "}" => depth -= 1,
            "," if depth == 0 => {
                parts.push(&tokens[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&tokens[start..]);
    for part in parts {
        let part: Vec<&String> = part.iter().collect();
        if part.is_empty() {
            continue;
        }
        let mut path = prefix.clone();
        let mut k = 0;
        while k < part.len() {
            let t = part[k].as_str();
            match t {
                "::" => k += 1,
                "{" => {
                    let inner: Vec<String> = part[k + 1..part.len() - 1]
                        .iter()
                        .map(|s| (*s).clone())
                        .collect();
                    expand_use(&inner, path.clone(), out);
                    k = part.len();
                    path.clear();
                }
                "*" => {
                    out.push((path.clone(), "*".to_owned()));
                    k = part.len();
                    path.clear();
                }
                "as" => {
                    let alias = part.get(k + 1).map(|s| (*s).clone()).unwrap_or_default();
                    if !path.is_empty() {
                        out.push((path.clone(), alias));
                    }
                    k = part.len();
                    path.clear();
                }
                _ => {
                    path.push(t.to_owned());
                    k += 1;
                }
            }
        }
        if !path.is_empty() {
            let mut name = path.last().cloned().unwrap_or_default();
            if name == "self" {
                path.pop();
                name = path.last().cloned().unwrap_or_default();
            }
            out.push((path, name));
        }
    }
}

fn is_ident(t: &str) -> bool {
    t.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && t.chars().all(|c| c.is_alphanumeric() || c == '_')
}

fn tokenize(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(chars[start..i].iter().collect());
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push("::".to_owned());
            i += 2;
        } else if c.is_whitespace() {
            i += 1;
        } else {
            out.push(c.to_string());
            i += 1;
        }
    }
    out
}

/// Blanks comments, string and char literals (keeping line breaks).
fn strip_comments_and_strings(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if chars[i] == '\n' {
                        out.push('\n');
                    }
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !prev_is_ident(&chars, i)
        {
            // Raw string: r"…" or r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                match chars.get(j) {
                    None => break,
                    Some('"') if (0..hashes).all(|h| chars.get(j + 1 + h) == Some(&'#')) => {
                        j += 1 + hashes;
                        break;
                    }
                    Some('\n') => {
                        out.push('\n');
                        j += 1;
                    }
                    _ => j += 1,
                }
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                if chars.get(i) == Some(&'\n') {
                    out.push('\n');
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            let close = if next == Some('\\') {
                (i + 2..chars.len().min(i + 12)).find(|&j| chars[j] == '\'')
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match close {
                Some(j) => {
                    out.push_str("' '");
                    i = j + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn prev_is_ident(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// Drops inline `#[cfg(test)] mod name { … }` blocks.
fn strip_test_modules(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "#[cfg(test)]".len()..];
        let trimmed = after.trim_start();
        let is_inline_mod = (trimmed.starts_with("mod ") || trimmed.starts_with("pub mod "))
            && trimmed
                .find(['{', ';'])
                .is_some_and(|k| trimmed.as_bytes()[k] == b'{');
        if !is_inline_mod {
            out.push_str("#[cfg(test)]");
            rest = after;
            continue;
        }
        let open = after.find('{').unwrap_or(0);
        let mut depth = 0;
        let mut end = after.len();
        for (k, ch) in after[open..].char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + k + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}
