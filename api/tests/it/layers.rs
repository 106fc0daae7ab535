//! The API crate's modules form layers: no module uses another that uses it back, directly or
//! around a loop. Read from the source: every `crate::` and `super::` path (in `use` trees and in
//! code, tests left out) is an edge to the module file it names, and a parent declaring a child
//! (`mod x;`) is an edge from the parent, so a child that reaches into its parent's items closes a
//! loop too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path (`services::backtests::runs`) → source text without its tests.
fn modules(src: &Path) -> BTreeMap<String, String> {
    fn walk(dir: &Path, prefix: &[String], out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            if path.is_dir() {
                let mut p = prefix.to_vec();
                p.push(name);
                walk(&path, &p, out);
            } else if path.extension().is_some_and(|e| e == "rs") && name != "main" {
                let mut p = prefix.to_vec();
                if name != "mod" && name != "lib" {
                    p.push(name);
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap();
                // comments name modules without using them
                let code = code.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
                out.insert(p.join("::"), code);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(src, &[], &mut out);
    out
}

/// The paths a `use` tree names: `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    match tree.find('{') {
        None => vec![tree.split(" as ").next().unwrap().trim().trim_end_matches("::*").to_string()],
        Some(open) => {
            let prefix = tree[..open].trim_end_matches("::");
            let inner = &tree[open + 1..tree.rfind('}').unwrap()];
            let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        parts.push(&inner[start..i]);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            parts.push(&inner[start..]);
            parts
                .into_iter()
                .filter(|p| !p.trim().is_empty())
                .flat_map(|p| expand(p).into_iter().map(|s| if s == "self" { prefix.to_string() } else { format!("{prefix}::{s}") }).collect::<Vec<_>>())
                .collect()
        }
    }
}

/// Every `crate::…` / `super::…` path in `code`, as written.
fn paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    // use trees (possibly over several lines)
    for stmt in code.split(';') {
        let s = stmt.trim_start();
        let s = s.strip_prefix("pub ").or_else(|| s.strip_prefix("pub(crate) ")).unwrap_or(s);
        if let Some(tree) = s.strip_prefix("use ") {
            let tree: String = tree.split_whitespace().collect::<Vec<_>>().join(" ");
            out.extend(expand(&tree).into_iter().filter(|p| p.starts_with("crate::") || p.starts_with("super::")));
        }
    }
    // paths in code
    let bytes = code.as_bytes();
    for key in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(i) = code[from..].find(key) {
            let at = from + i;
            from = at + key.len();
            if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_' || bytes[at - 1] == b':') {
                continue;
            }
            let end = code[at..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')).map_or(code.len(), |e| at + e);
            if code[at..end].ends_with("::") {
                // the prefix of a use-tree group (`crate::services::{...}`): read by `expand`
                continue;
            }
            out.push(code[at..end].to_string());
        }
    }
    out
}

/// The module file a path from `module` names: the longest prefix that is a module.
fn resolve(module: &str, path: &str, known: &BTreeMap<String, String>) -> Option<String> {
    let mut parts: Vec<String> = if module.is_empty() { vec![] } else { module.split("::").map(String::from).collect() };
    // a file `x.rs` or `x/mod.rs` is module x; `super` from it is its parent
    let mut segs = path.split("::").peekable();
    match segs.next() {
        Some("crate") => parts.clear(),
        Some("super") => {
            parts.pop();
            while segs.peek() == Some(&"super") {
                segs.next();
                parts.pop();
            }
        }
        _ => return None,
    }
    let mut best = parts.join("::");
    for s in segs {
        parts.push(s.to_string());
        let candidate = parts.join("::");
        if known.contains_key(&candidate) {
            best = candidate;
        } else {
            break;
        }
    }
    Some(best)
}

fn edges(known: &BTreeMap<String, String>) -> BTreeSet<(String, String)> {
    let mut edges = BTreeSet::new();
    for (module, code) in known {
        for p in paths(code) {
            if let Some(target) = resolve(module, &p, known) {
                if &target != module && !target.is_empty() {
                    edges.insert((module.clone(), target));
                }
            }
        }
        // a parent declares its children
        if let Some((parent, _)) = module.rsplit_once("::") {
            edges.insert((parent.to_string(), module.clone()));
        } else if !module.is_empty() {
            edges.insert((String::new(), module.clone()));
        }
    }
    edges
}

/// A loop through `edges`, if there is one.
fn find_cycle(edges: &BTreeSet<(String, String)>) -> Option<Vec<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in edges {
        next.entry(a).or_default().push(b);
    }
    fn visit<'a>(n: &'a str, next: &BTreeMap<&'a str, Vec<&'a str>>, state: &mut BTreeMap<&'a str, u8>, stack: &mut Vec<&'a str>) -> Option<Vec<String>> {
        state.insert(n, 1);
        stack.push(n);
        for &m in next.get(n).into_iter().flatten() {
            match state.get(m) {
                Some(1) => {
                    let at = stack.iter().position(|s| *s == m).unwrap();
                    let mut cycle: Vec<String> = stack[at..].iter().map(|s| s.to_string()).collect();
                    cycle.push(m.to_string());
                    return Some(cycle);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(m, next, state, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state.insert(n, 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in next.keys().copied().collect::<Vec<_>>() {
        if !state.contains_key(n) {
            if let Some(c) = visit(n, &next, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn no_module_of_the_api_uses_one_that_uses_it_back() {
    let known = modules(&crate::crate_dir().join("src"));
    assert!(known.contains_key("services::backtests::runs") && known.contains_key("http::routes::strategies"), "{:?}", known.keys());
    let edges = edges(&known);
    // the parser sees what it should: a route reaches its service, a child its sibling
    assert!(edges.contains(&("http::routes::strategies".into(), "services::strategies".into())));
    assert!(edges.contains(&("services::backtests::submit".into(), "services::backtests::runs".into())));
    if let Some(cycle) = find_cycle(&edges) {
        panic!("modules that use each other: {}", cycle.join(" → "));
    }
    // and between top-level modules (the crate root, which declares them all, aside)
    let top = |m: &str| m.split("::").next().unwrap_or("").to_string();
    let top_edges: BTreeSet<(String, String)> =
        edges.iter().map(|(a, b)| (top(a), top(b))).filter(|(a, b)| a != b && !a.is_empty() && !b.is_empty()).collect();
    if let Some(cycle) = find_cycle(&top_edges) {
        panic!("top-level modules that use each other: {}", cycle.join(" → "));
    }
}

#[test]
fn the_checker_finds_a_loop_and_reads_use_trees() {
    assert_eq!(expand("crate::services::{jobs, quotas::{self, Usage}}"), vec!["crate::services::jobs", "crate::services::quotas", "crate::services::quotas::Usage"]);
    let e: BTreeSet<(String, String)> = [("a", "b"), ("b", "c"), ("c", "a")].iter().map(|(x, y)| (x.to_string(), y.to_string())).collect();
    assert_eq!(find_cycle(&e).unwrap().len(), 4);
    let known: BTreeMap<String, String> = ["", "cli", "cli::serve", "cli::worker"].iter().map(|m| (m.to_string(), String::new())).collect();
    assert_eq!(resolve("cli::serve", "super::worker::WorkerArgs", &known).as_deref(), Some("cli::worker"));
    assert_eq!(resolve("cli::serve", "super::GlobalArgs", &known).as_deref(), Some("cli"));
}
