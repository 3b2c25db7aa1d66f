//! The dependency order of ARCHITECTURE.md, read from the imports alone:
//! `cli`/`startup` -> `api` -> {`auth`, `vibe`, `export`} -> {`db`, `domain`};
//! `api` -> `web` -> `http`; `db` -> `domain`; `config` (which may use `domain`'s rules) and
//! `telemetry` are read by the layers above `http` and `domain`; `fnv` (a stable hash) by `web`, `vibe` and `db`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The Serene modules each top-level module may name with `crate::`.
fn allowed(module: &str) -> Option<&'static [&'static str]> {
    Some(match module {
        "main" | "cli" | "startup" | "lib" => &[
            "api",
            "auth",
            "config",
            "crypto",
            "db",
            "domain",
            "export",
            "fnv",
            "http",
            "startup",
            "telemetry",
            "vibe",
            "web",
        ],
        "api" => &[
            "auth", "config", "db", "domain", "export", "http", "vibe", "web",
        ],
        "web" => &["fnv", "http"],
        "auth" => &["config", "crypto", "db", "domain"],
        "vibe" => &["config", "db", "domain", "fnv"],
        "export" => &["db", "domain"],
        "db" => &["config", "crypto", "domain", "fnv"],
        "telemetry" => &["config"],
        "config" => &["crypto", "domain"],
        "domain" | "http" | "crypto" | "fnv" => &[],
        _ => return None,
    })
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to: `src/api/auth.rs` -> `api`, `src/cli.rs` -> `cli`.
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).expect("file under src");
    let first = relative
        .components()
        .next()
        .expect("a path component")
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    first.trim_end_matches(".rs").to_owned()
}

/// Every module named as `crate::<name>`; a grouped `crate::{...}` import is
/// reported as `{`, so that each dependency stays visible on its own line.
fn crate_paths(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (index, _) in text.match_indices("crate::") {
        if text[..index].ends_with('$') {
            continue;
        }
        let rest = &text[index + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '{')
            .take_while(|c| *c != '{' || rest.starts_with('{'))
            .collect();
        found.insert(if rest.starts_with('{') {
            "{".to_owned()
        } else {
            name
        });
    }
    found
}

#[test]
fn every_module_imports_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 20, "found the sources");
    let mut violations = Vec::new();
    for file in &files {
        let module = module_of(&src, file);
        let Some(allowed) = allowed(&module) else {
            violations.push(format!(
                "{}: module `{module}` has no place in the dependency order",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).expect("source is readable");
        for used in crate_paths(&text) {
            if used != module && !allowed.contains(&used.as_str()) {
                violations.push(format!(
                    "{}: `{module}` must not name `crate::{used}`",
                    file.display()
                ));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "forbidden imports:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_import_reader_finds_paths_and_grouped_imports() {
    let found = crate_paths("use crate::db::Database;\nuse crate::{api, http};\n$crate::x");
    assert_eq!(
        found,
        BTreeSet::from(["db".to_owned(), "{".to_owned()]),
        "a grouped import is reported, a macro's $crate is not"
    );
}
