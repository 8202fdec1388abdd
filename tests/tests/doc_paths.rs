//! Every repository path the docs and the code's comments name exists: the README, BENCHMARKS.md,
//! `docs/`, and every comment in the Rust sources. A path is a word ending in a file name
//! (`runtime/src/server/worker/worker_run.rs`, `tests/tests/proxy.rs`, `server/signals.rs`,
//! `scripts/check-deps`); one that starts at a top folder is looked up from the repository's
//! root, a shorter one under each crate's source folders and beside the file that names it.
//! (`FORKLINE_REPO` checks another checkout.)

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const TOP: &[&str] = &[
    "runtime/",
    "macros/",
    "tests/",
    "examples/",
    "scripts/",
    "docs/",
    ".ci/",
];
const UNDER: &[&str] = &[
    "runtime/src",
    "macros/src",
    "tests",
    "tests/src",
    "tests/tests",
    "tests/benches",
    "examples",
    "scripts",
    "docs",
    "",
];
const SCRIPTS: &[&str] = &[
    "scripts/test",
    "scripts/check-deps",
    "scripts/public-api",
    "scripts/try-hello",
    "scripts/bench-check",
    "scripts/peers/peers",
];

fn repo() -> PathBuf {
    std::env::var_os("FORKLINE_REPO")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
}

fn files(root: &Path, dir: &str, ext: &str, into: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .expect("under the root")
            .to_path_buf();
        if path.is_dir() {
            if !rel.starts_with("tests/tests/ui") && !rel.ends_with("target") {
                files(root, rel.to_str().expect("utf-8"), ext, into);
            }
        } else if rel.extension().is_some_and(|e| e == ext) {
            into.push(rel);
        }
    }
}

/// The words of `text` that look like repository paths.
fn named_paths(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || "_./-".contains(c))) {
        let word = word.trim_matches(|c| c == '.' || c == '/');
        let is_file = [".rs", ".md", ".toml", ".py"]
            .iter()
            .any(|e| word.ends_with(e))
            && word.len() > 3;
        let is_script =
            SCRIPTS.contains(&word) || (word.starts_with("scripts/") && !word.contains('.'));
        if (is_file && word.contains('/')) || is_script || (is_file && word.ends_with(".md")) {
            found.insert(word.to_string());
        }
    }
    found
}

fn exists(root: &Path, from: &Path, named: &str) -> bool {
    if TOP.iter().any(|t| named.starts_with(t)) || !named.contains('/') && named.ends_with(".md") {
        return root.join(named).exists()
            || named.ends_with(".md") && root.join("docs").join(named).exists();
    }
    UNDER.iter().any(|dir| root.join(dir).join(named).exists())
        || from
            .parent()
            .is_some_and(|d| root.join(d).join(named).exists())
}

/// The comment text of a Rust file: what follows `//` on each line.
fn comments(source: &str) -> String {
    source
        .lines()
        .filter_map(|l| l.find("//").map(|i| &l[i..]))
        .collect::<Vec<_>>()
        .join("\n")
}

fn missing(root: &Path) -> Vec<String> {
    let mut docs = vec![PathBuf::from("README.md"), PathBuf::from("BENCHMARKS.md")];
    files(root, "docs", "md", &mut docs);
    let mut sources = Vec::new();
    for dir in [
        "runtime/src",
        "macros/src",
        "tests/src",
        "tests/tests",
        "tests/benches",
        "examples",
    ] {
        files(root, dir, "rs", &mut sources);
    }
    let mut missing = Vec::new();
    for (file, text) in docs
        .iter()
        .map(|f| (f, std::fs::read_to_string(root.join(f)).unwrap_or_default()))
        .chain(sources.iter().map(|f| {
            (
                f,
                comments(&std::fs::read_to_string(root.join(f)).unwrap_or_default()),
            )
        }))
    {
        for named in named_paths(&text) {
            if !exists(root, file, &named) {
                missing.push(format!("{}: {named}", file.display()));
            }
        }
    }
    missing
}

#[test]
fn every_path_the_docs_and_comments_name_exists() {
    let missing = missing(&repo());
    assert!(
        missing.is_empty(),
        "paths named but not in the repository:\n{}",
        missing.join("\n")
    );
}

/// The check itself: a path that is not there is found, wherever it is named.
#[test]
fn a_path_that_is_not_there_is_found() {
    let named =
        named_paths("see `runtime/src/server/worker.rs` and server/signals.rs, or README.md");
    assert!(named.contains("runtime/src/server/worker.rs") && named.contains("server/signals.rs"));
    let root = repo();
    assert!(!exists(
        &root,
        Path::new("README.md"),
        "runtime/src/server/worker.rs"
    ));
    assert!(exists(&root, Path::new("README.md"), "server/signals.rs"));
    assert!(exists(&root, Path::new("README.md"), "README.md"));
    assert!(!exists(&root, Path::new("x.rs"), "server/nowhere.rs"));
}
