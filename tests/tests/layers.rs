//! The import layering of `runtime/src` and `macros/src`, read from the source: every path that
//! starts with `crate::`, `super::`, `self::` or a submodule's name is resolved to the file that
//! defines it (following `use` re-exports), and the check fails on
//! - an import from a lower layer to a higher one (the order is `RUNTIME_LAYERS` and
//!   `MACROS_LAYERS` below, the one place it is written), and
//! - any cycle between files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `runtime/src`'s top-level modules, bottom layer first. A module may import from its own
/// folder and from the layers below its own; modules of one layer do not import each other.
const RUNTIME_LAYERS: &[&[&str]] = &[
    &["error", "diag"],
    &["sys", "identity", "stats", "metric_collection"],
    &["config"],
    &["export", "sink"],
    &["health"],
    &["telemetry"],
    &["lifecycle"],
    &["server"],
    &["handler"],
    &["http"],
    &[
        "__private",
        "bench_internals",
        "guide",
        "manual",
        "net",
        "report",
    ],
];

/// `macros/src`'s top-level modules, bottom layer first: shared pieces, then the one argument
/// grammar and the item reader, then one folder a macro.
const MACROS_LAYERS: &[&[&str]] = &[
    &["ctxt", "suggest", "semconv", "private"],
    &["grammar", "item", "returns"],
    &["hook", "handler", "span_attributes"],
];

#[test]
fn runtime_imports_only_downward_and_has_no_cycle() {
    check(&crate_dir("runtime"), RUNTIME_LAYERS);
}

#[test]
fn macros_import_only_downward_and_have_no_cycle() {
    check(&crate_dir("macros"), MACROS_LAYERS);
}

/// The checker itself: an upward import and a cycle are both caught.
#[test]
fn the_check_catches_an_upward_import_and_a_cycle() {
    let files = BTreeMap::from([
        (module(""), "mod a;\nmod b;".to_string()),
        (module("a"), "use crate::b::Thing;".to_string()),
        (module("b"), "pub struct Thing;".to_string()),
    ]);
    let graph = Graph::build(&files);
    let upward = graph.upward(&[&["a"], &["b"]]);
    assert_eq!(upward, vec!["a -> b".to_string()]);
    assert!(graph.cycles().is_empty());

    let files = BTreeMap::from([
        (module(""), "mod a;".to_string()),
        (
            module("a"),
            "mod x;\nmod y;\npub use y::Y;\npub struct A;".to_string(),
        ),
        (module("a/x"), "use crate::a::Y;\npub struct X;".to_string()),
        (module("a/y"), "use crate::a::A;".to_string()),
    ]);
    let graph = Graph::build(&files);
    assert!(graph.upward(&[&["a"]]).is_empty());
    // a/y -> a (A) and a -> a/y (the re-export) make a cycle; a/x -> a/y goes through the re-export.
    let cycles = graph.cycles();
    assert_eq!(cycles, vec![vec!["a".to_string(), "a/y".to_string()]]);
    assert!(graph.edges["a/x"].contains("a/y"));

    // A private `use` does not re-export: `b::run` is b's own function, not `c`'s module.
    let files = BTreeMap::from([
        (module(""), "mod a;\nmod b;\nmod c;".to_string()),
        (module("a"), "fn f() { crate::b::run(); }".to_string()),
        (
            module("b"),
            "use crate::c::run;\npub fn run() {}".to_string(),
        ),
        (module("c"), "pub mod run {}".to_string()),
    ]);
    assert_eq!(
        Graph::build(&files).edges["a"],
        BTreeSet::from(["b".to_string()])
    );

    // A unit test module may import from anywhere.
    let files = BTreeMap::from([
        (module(""), "mod a;\nmod b;".to_string()),
        (
            module("a"),
            "#[cfg(test)]\nmod tests {\n    use crate::b::B;\n}".to_string(),
        ),
        (module("b"), "pub struct B;".to_string()),
    ]);
    assert!(Graph::build(&files).upward(&[&["a"], &["b"]]).is_empty());
}

fn crate_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name)
        .join("src")
}

fn check(src: &Path, layers: &[&[&str]]) {
    let mut files = BTreeMap::new();
    read_tree(src, src, &mut files);
    assert!(files.len() > 5, "no sources under {}", src.display());
    let graph = Graph::build(&files);
    let mut unlisted: Vec<_> = graph
        .edges
        .keys()
        .map(|m| top(m))
        .filter(|t| !t.is_empty() && rank(layers, t).is_none())
        .collect();
    unlisted.dedup();
    assert!(
        unlisted.is_empty(),
        "modules of {} missing from the layer order: {unlisted:?}",
        src.display()
    );
    let upward = graph.upward(layers);
    assert!(
        upward.is_empty(),
        "imports from a lower layer to a higher one (or across one layer) in {}:\n  {}",
        src.display(),
        upward.join("\n  ")
    );
    let cycles = graph.cycles();
    assert!(
        cycles.is_empty(),
        "import cycles between files of {}: {cycles:?}",
        src.display()
    );
}

/// A module's path as written in the tree: `config/otel`, `config` (its `mod.rs`), `` (the root).
type Module = String;

fn module(path: &str) -> Module {
    path.to_string()
}

fn read_tree(root: &Path, dir: &Path, out: &mut BTreeMap<Module, String>) {
    for entry in std::fs::read_dir(dir).expect("read the source tree") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            read_tree(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).expect("under the root");
            let mut name = rel.with_extension("").to_string_lossy().replace('\\', "/");
            if name == "lib" || name == "main" {
                name.clear();
            } else if let Some(folder) = name.strip_suffix("/mod") {
                name = folder.to_string();
            }
            let text = std::fs::read_to_string(&path).expect("read a source file");
            out.insert(name, text);
        }
    }
}

fn top(module: &str) -> &str {
    module.split('/').next().unwrap_or("")
}

fn rank(layers: &[&[&str]], top: &str) -> Option<usize> {
    layers.iter().position(|layer| layer.contains(&top))
}

#[derive(Debug, Default)]
struct Graph {
    /// Module → the modules whose items it names.
    edges: BTreeMap<Module, BTreeSet<Module>>,
}

/// One file's paths, as segments from the crate root, and its `use` names (name → path).
struct FileScan {
    paths: Vec<Vec<String>>,
    uses: BTreeMap<String, Vec<String>>,
}

impl Graph {
    fn build(files: &BTreeMap<Module, String>) -> Self {
        let scans: BTreeMap<&Module, FileScan> = files
            .iter()
            .map(|(m, text)| (m, scan(m, text, files)))
            .collect();
        let mut graph = Graph::default();
        for (from, file) in &scans {
            let targets = graph.edges.entry((*from).clone()).or_default();
            for path in &file.paths {
                if let Some(to) = resolve(path, files, &scans, 0) {
                    if to != **from {
                        targets.insert(to);
                    }
                }
            }
        }
        graph
    }

    /// Edges into a higher layer, or across modules of one layer, as `from -> to`.
    fn upward(&self, layers: &[&[&str]]) -> Vec<String> {
        let mut found = Vec::new();
        for (from, targets) in &self.edges {
            for to in targets {
                let (a, b) = (top(from), top(to));
                if a.is_empty() || b.is_empty() || a == b {
                    continue;
                }
                match (rank(layers, a), rank(layers, b)) {
                    (Some(ra), Some(rb)) if rb < ra => {}
                    _ => found.push(format!("{from} -> {to}")),
                }
            }
        }
        found
    }

    /// Strongly connected sets of more than one module (Tarjan), each sorted.
    fn cycles(&self) -> Vec<Vec<Module>> {
        struct Tarjan<'g> {
            graph: &'g Graph,
            index: BTreeMap<&'g str, usize>,
            low: BTreeMap<&'g str, usize>,
            stack: Vec<&'g str>,
            on_stack: BTreeSet<&'g str>,
            found: Vec<Vec<Module>>,
        }
        impl<'g> Tarjan<'g> {
            fn visit(&mut self, v: &'g str) {
                let i = self.index.len();
                self.index.insert(v, i);
                self.low.insert(v, i);
                self.stack.push(v);
                self.on_stack.insert(v);
                for w in self.graph.edges.get(v).into_iter().flatten() {
                    let w = w.as_str();
                    if !self.index.contains_key(w) {
                        self.visit(w);
                        let low = self.low[v].min(self.low[w]);
                        self.low.insert(v, low);
                    } else if self.on_stack.contains(w) {
                        let low = self.low[v].min(self.index[w]);
                        self.low.insert(v, low);
                    }
                }
                if self.low[v] == self.index[v] {
                    let mut component = Vec::new();
                    while let Some(w) = self.stack.pop() {
                        self.on_stack.remove(w);
                        component.push(w.to_string());
                        if w == v {
                            break;
                        }
                    }
                    if component.len() > 1 {
                        component.sort();
                        self.found.push(component);
                    }
                }
            }
        }
        let mut t = Tarjan {
            graph: self,
            index: BTreeMap::new(),
            low: BTreeMap::new(),
            stack: Vec::new(),
            on_stack: BTreeSet::new(),
            found: Vec::new(),
        };
        for v in self.edges.keys() {
            if !t.index.contains_key(v.as_str()) {
                t.visit(v);
            }
        }
        t.found
    }
}

/// The file that defines what `path` names: the longest module prefix, then, if the next
/// segment is a name that module brought in with `use`, wherever that name comes from.
fn resolve(
    path: &[String],
    files: &BTreeMap<Module, String>,
    scans: &BTreeMap<&Module, FileScan>,
    depth: usize,
) -> Option<Module> {
    let mut found = None;
    for len in 0..=path.len() {
        let candidate = path[..len].join("/");
        if files.contains_key(&candidate) {
            found = Some(len);
        }
    }
    let len = found?;
    let module = path[..len].join("/");
    if depth < 8 {
        if let Some(next) = path.get(len) {
            if let Some(target) = scans.get(&module).and_then(|s| s.uses.get(next)) {
                let mut rest = target.clone();
                rest.extend(path[len + 1..].iter().cloned());
                if let Some(deeper) = resolve(&rest, files, scans, depth + 1) {
                    return Some(deeper);
                }
            }
        }
    }
    Some(module)
}

fn scan(module: &Module, text: &str, files: &BTreeMap<Module, String>) -> FileScan {
    let tokens = without_test_modules(tokens(&strip_comments_and_literals(text)));
    let here: Vec<String> = if module.is_empty() {
        Vec::new()
    } else {
        module.split('/').map(String::from).collect()
    };
    // Submodules declared in this file (`mod x;`): a path may start with their names.
    let children: BTreeSet<String> = tokens
        .windows(3)
        .filter(|w| w[0] == "mod" && w[2] == ";")
        .map(|w| w[1].clone())
        .filter(|name| {
            let mut child = here.clone();
            child.push(name.clone());
            files.contains_key(&child.join("/"))
        })
        .collect();
    let mut paths = Vec::new();
    let mut uses = BTreeMap::new();
    let mut i = 0;
    while i < tokens.len() {
        let in_use = i > 0 && tokens[i - 1] == "use";
        // Only a `pub` / `pub(…)` use re-exports a name others can reach through this module
        // (a private `use run;` must not capture a path to this module's own `fn run`).
        let reexport = in_use
            && (i >= 2 && tokens[i - 2] == "pub"
                || i >= 5 && tokens[i - 2] == ")" && tokens[i - 5] == "pub"
                || i >= 6 && tokens[i - 2] == ")" && tokens[i - 6] == "pub");
        let after_dollar = i > 0 && tokens[i - 1] == "$";
        let after_path = i > 0 && tokens[i - 1] == "::";
        let followed = tokens.get(i + 1).map(String::as_str) == Some("::");
        let root = match tokens[i].as_str() {
            _ if !followed || after_path => None,
            "crate" if !after_dollar => Some(Vec::new()),
            "super" => here.split_last().map(|(_, parent)| parent.to_vec()),
            "self" => Some(here.clone()),
            name if children.contains(name) => {
                let mut child = here.clone();
                child.push(name.to_string());
                Some(child)
            }
            _ => None,
        };
        let Some(root) = root else {
            i += 1;
            continue;
        };
        let mut trees = Vec::new();
        let next = parse_tree(&tokens, i + 1, root, &mut trees);
        for (path, alias) in trees {
            if reexport {
                if let Some(name) = alias.or_else(|| path.last().cloned()) {
                    if name != "self" && name != "*" {
                        uses.insert(name, path.clone());
                    }
                }
            }
            paths.push(path);
        }
        i = next.max(i + 1);
    }
    FileScan { paths, uses }
}

/// Parses `:: a :: b`, `:: { a :: b as c, d }` after a path root; returns where it stopped.
fn parse_tree(
    tokens: &[String],
    mut i: usize,
    mut prefix: Vec<String>,
    out: &mut Vec<(Vec<String>, Option<String>)>,
) -> usize {
    while tokens.get(i).map(String::as_str) == Some("::") {
        match tokens.get(i + 1).map(String::as_str) {
            Some("{") => {
                i += 2;
                loop {
                    match tokens.get(i).map(String::as_str) {
                        Some("}") => return i + 1,
                        Some(",") => i += 1,
                        Some(t) if is_ident(t) => {
                            let mut inner = prefix.clone();
                            if t != "self" {
                                inner.push(t.to_string());
                            }
                            let start = out.len();
                            i = parse_tree(tokens, i + 1, inner.clone(), out);
                            if out.len() == start {
                                let alias = alias_at(tokens, &mut i);
                                out.push((inner, alias));
                            }
                        }
                        _ => return i,
                    }
                }
            }
            Some(t) if is_ident(t) || t == "*" => {
                prefix.push(t.to_string());
                i += 2;
            }
            _ => break,
        }
    }
    let alias = alias_at(tokens, &mut i);
    out.push((prefix, alias));
    i
}

fn alias_at(tokens: &[String], i: &mut usize) -> Option<String> {
    if tokens.get(*i).map(String::as_str) == Some("as") {
        let alias = tokens.get(*i + 1).cloned();
        *i += 2;
        alias
    } else {
        None
    }
}

fn is_ident(t: &str) -> bool {
    t.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// The tokens without `#[cfg(test)] mod … { … }` blocks: a file's unit tests may reach for
/// whatever they exercise; the layering is that of the code that ships.
fn without_test_modules(tokens: Vec<String>) -> Vec<String> {
    const MARK: [&str; 7] = ["#", "[", "cfg", "(", "test", ")", "]"];
    let mut out = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let marked = tokens[i..].iter().take(7).map(String::as_str).eq(MARK);
        let module = marked
            && tokens.get(i + 7).map(String::as_str) == Some("mod")
            && tokens.get(i + 9).map(String::as_str) == Some("{");
        if !module {
            out.push(tokens[i].clone());
            i += 1;
            continue;
        }
        let mut depth = 0;
        i += 9;
        while i < tokens.len() {
            match tokens[i].as_str() {
                "{" => depth += 1,
                "}" => depth -= 1,
                _ => {}
            }
            i += 1;
            if depth == 0 {
                break;
            }
        }
    }
    out
}

/// Identifiers and the punctuation paths are made of.
fn tokens(code: &str) -> Vec<String> {
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
            out.push("::".into());
            i += 2;
        } else {
            if !c.is_whitespace() {
                out.push(c.to_string());
            }
            i += 1;
        }
    }
    out
}

/// The code without comments, string and character literals (a URL in a string is no path).
fn strip_comments_and_literals(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < c.len() {
        if c[i] == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            i += 2;
            while i + 1 < c.len() && !(c[i] == '*' && c[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c[i] == 'r'
            && (c.get(i + 1) == Some(&'"') || c.get(i + 1) == Some(&'#'))
            && (i == 0 || !(c[i - 1].is_alphanumeric() || c[i - 1] == '_'))
        {
            let mut j = i + 1;
            let mut hashes = 0;
            while c.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if c.get(j) != Some(&'"') {
                out.push(c[i]);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= c.len() {
                    break;
                }
                if c[j] == '"' && (0..hashes).all(|k| c.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c[i] == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c[i] == '\'' && (c.get(i + 2) == Some(&'\'') || (c.get(i + 1) == Some(&'\\'))) {
            // A character literal ('a', '\n', '\u{..}'); a lifetime has no closing quote.
            i += 1;
            while i < c.len() && c[i] != '\'' {
                if c[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("' '");
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}
