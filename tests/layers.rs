//! The layer table, enforced: reads every `.rs` file under `src/`, finds which top-level modules
//! each one imports (`use crate::x`, `crate::x::` paths, `use crate::{x, y::z}` groups, and
//! `super::` paths that climb out of their own top-level module), and fails on any import that
//! goes against `LAYERS` below, on a top-level module the table does not place, and on any
//! circle between top-level modules.
//!
//! `LAYERS` is the one table; `src/lib.rs`'s module doc draws the same. A module may import only
//! modules of layers below its own (`main.rs`, the binary, may import anything). Test code
//! counts too: a `#[cfg(test)]` module that imports a higher layer is still a circle in the
//! build of the tests.
//!
//! The parser is deliberately small (no `syn`): it strips comments, strings and char literals,
//! then follows `crate`/`super` tokens. It sees every way a module can name another in this
//! crate's style; `#[path]` attributes, which could load a file from elsewhere, are refused.
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The layers, top first. A module may import modules of the layers below its own, never its own
/// layer or one above. Names that do not exist yet are the planned ones
/// (`../shared/design/architecture.md`); they are placed now so that they land where planned.
const LAYERS: &[(&str, &[&str])] = &[
    // The two front ends. `cli` opens the UI (`kiroku ui`, the bare `kiroku`), so it sits above
    // `tui`; nothing else may import either (only `main.rs`).
    ("command line", &["cli"]),
    ("terminal UI", &["tui"]),
    // kiroku as an MCP server: tools over the core for agents. `cli` starts it (`kiroku mcp`,
    // and `/mcp` of `kiroku serve --mcp`); it uses `present`'s query hints and `models`' gates.
    ("agent interface", &["mcp"]),
    // Formatting and column choice shared by both front ends.
    ("presentation", &["present"]),
    // Programs that drive the core: `kiroku run` (which may start a background server for
    // `--mlflow`), pipelines, the model registry's gates and hooks.
    ("run wrapper", &["wrap", "pipelines", "models"]),
    // The HTTP server; lost-run recovery; the planned job queue, model registry and data checks.
    ("services", &["server", "supervise", "jobs", "checks"]),
    // Bringing outside records in: output scalars, the metrics file, MLflow stores.
    ("ingest", &["ingest"]),
    // Storage behind one trait: SQLite and the HTTP client.
    ("store", &["store"]),
    // Plain logic over the domain types: the wire types of the kiroku API, configuration, the
    // query language, run comparison, the demo's model, run ids.
    (
        "domain logic",
        &["api", "config", "query", "compare", "demo_model", "ids"],
    ),
    ("metric series", &["series"]),
    ("domain types", &["model"]),
    // Leaves that know nothing of kiroku's domain.
    (
        "leaf helpers",
        &[
            "fsutil",
            "limits",
            "mlflow_names",
            "process",
            "suggest",
            "user_dirs",
        ],
    ),
    ("errors", &["error"]),
];

/// Why an import into a module is refused, for the failure message.
fn rule_for(from: &str, to: &str) -> &'static str {
    match to {
        "cli" | "tui" => "nothing imports `cli` or `tui` but main.rs (and `cli`, to open the UI)",
        "server" | "ingest" | "wrap" if matches!(from, "model" | "query" | "store") => {
            "`model`, `query` and `store` never import `server`, `ingest`, `wrap`, `cli` or `tui`"
        }
        _ => "a module imports only the layers below its own",
    }
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// One import of a top-level module: who, whom, and where.
#[derive(Debug, Clone)]
struct Import {
    from: String,
    to: String,
    file: String,
    line: usize,
}

#[test]
fn imports_follow_the_layer_table() {
    let src = src_dir();
    let modules = declared_modules(&src.join("lib.rs"));
    let mut problems = Vec::new();
    let rank = layer_ranks();
    for m in &modules {
        if !rank.contains_key(m.as_str()) {
            problems.push(format!(
                "module `{m}` has no layer: place it in LAYERS (tests/layers.rs) and in lib.rs's table"
            ));
        }
    }
    let imports = all_imports(&src, &modules, &mut problems);
    for i in &imports {
        let (Some(&f), Some(&t)) = (rank.get(i.from.as_str()), rank.get(i.to.as_str())) else {
            continue;
        };
        if t <= f {
            problems.push(format!(
                "{}:{}: `{}` ({}) imports `{}` ({}): {}",
                i.file,
                i.line,
                i.from,
                LAYERS[f].0,
                i.to,
                LAYERS[t].0,
                rule_for(&i.from, &i.to)
            ));
        }
    }
    for circle in circles(&imports) {
        problems.push(format!(
            "circle between top-level modules: {}",
            circle.join(" -> ")
        ));
    }
    assert!(
        problems.is_empty(),
        "imports against the layer table (tests/layers.rs, drawn in src/lib.rs):\n  {}\n",
        problems.join("\n  ")
    );
}

/// The parser sees the import forms this crate uses.
#[test]
fn the_parser_finds_every_form_of_import() {
    let modules: BTreeSet<String> = ["a", "b", "c", "d", "e", "f"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let text = r##"
        use crate::b::Thing;
        use crate::{c, d::X};
        // use crate::e::Hidden;
        /* crate::e::AlsoHidden */
        const S: &str = "crate::e::InAString";
        const R: &str = r#"crate::e::InARawString"#;
        const Q: char = '"';
        fn f<'a>(x: &'a str) { let _ = crate::f::call(x); }
        mod inner { use super::super::e::Found; }
    "##;
    let mut problems = Vec::new();
    let found = imports_of(&["a".to_string()], text, &modules, "a.rs", &mut problems);
    let targets: BTreeSet<&str> = found.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(targets, BTreeSet::from(["b", "c", "d", "e", "f"]));
    assert!(problems.is_empty(), "{problems:?}");
    // `super` from the top of module `a` (a file src/a.rs) reaches the crate root.
    let found = imports_of(
        &["a".to_string()],
        "use super::b;",
        &modules,
        "a.rs",
        &mut problems,
    );
    assert_eq!(found, vec![("b".to_string(), 1)]);
}

/// Module name → index of its layer in `LAYERS`.
fn layer_ranks() -> BTreeMap<&'static str, usize> {
    let mut rank = BTreeMap::new();
    for (i, (_, names)) in LAYERS.iter().enumerate() {
        for n in *names {
            assert!(rank.insert(*n, i).is_none(), "`{n}` is in LAYERS twice");
        }
    }
    rank
}

/// The top-level modules: `mod x;` declarations in lib.rs, checked against the files on disk.
fn declared_modules(lib: &Path) -> BTreeSet<String> {
    let text = clean(&fs::read_to_string(lib).unwrap());
    let mut declared = BTreeSet::new();
    let words: Vec<&str> = text.split_whitespace().collect();
    for w in words.windows(2) {
        if w[0] == "mod" {
            declared.insert(w[1].trim_end_matches(';').to_string());
        }
    }
    let dir = lib.parent().unwrap();
    for entry in fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let module = name.strip_suffix(".rs").unwrap_or(&name).to_string();
        if module != "lib"
            && module != "main"
            && (name.ends_with(".rs") || dir.join(&name).is_dir())
        {
            assert!(
                declared.contains(&module),
                "src/{name} is not declared in lib.rs"
            );
        }
    }
    declared
}

/// Every import between top-level modules in `src/` (main.rs and lib.rs excepted).
fn all_imports(src: &Path, modules: &BTreeSet<String>, problems: &mut Vec<String>) -> Vec<Import> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut imports = Vec::new();
    for file in files {
        let rel = file.strip_prefix(src).unwrap();
        let mut path: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let last = path.pop().unwrap();
        let stem = last.strip_suffix(".rs").unwrap().to_string();
        if path.is_empty() && (stem == "main" || stem == "lib") {
            continue;
        }
        if stem != "mod" {
            path.push(stem);
        }
        let top = path[0].clone();
        let shown = format!("src/{}", rel.display());
        let text = fs::read_to_string(&file).unwrap();
        for (to, line) in imports_of(&path, &text, modules, &shown, problems) {
            if to != top {
                imports.push(Import {
                    from: top.clone(),
                    to,
                    file: shown.clone(),
                    line,
                });
            }
        }
    }
    imports
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules named by one file's text (with their line numbers), for a file whose
/// module path is `path` (`["store", "sqlite", "rows"]`).
fn imports_of(
    path: &[String],
    text: &str,
    modules: &BTreeSet<String>,
    file: &str,
    problems: &mut Vec<String>,
) -> Vec<(String, usize)> {
    let cleaned = clean(text);
    if cleaned.contains("#[path") {
        problems.push(format!(
            "{file}: `#[path]` attributes are refused (a module's file is where its name says)"
        ));
    }
    let tokens = tokenize(&cleaned);
    let mut found = Vec::new();
    let mut push = |name: &str, line: usize| {
        if modules.contains(name) {
            found.push((name.to_string(), line));
        }
    };
    // Inline modules (`mod tests { .. }`) open a module one level below the file's: `super`
    // inside them climbs one level less far out.
    let mut depth = 0usize;
    let mut inline_mods: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let (tok, line) = (&tokens[i].0, tokens[i].1);
        match tok.as_str() {
            "{" => depth += 1,
            "}" => {
                if inline_mods.last() == Some(&depth) {
                    inline_mods.pop();
                }
                depth = depth.saturating_sub(1);
            }
            "mod" if tokens.get(i + 2).is_some_and(|t| t.0 == "{") => {
                inline_mods.push(depth + 1);
            }
            "crate" if tokens.get(i + 1).is_some_and(|t| t.0 == "::") => {
                for name in segment_after(&tokens, i + 2) {
                    push(&name, line);
                }
            }
            "super" if i == 0 || tokens[i - 1].0 != "::" => {
                // Count the chain `super::super::...` and where it lands.
                let mut climbs = 0;
                let mut j = i;
                while tokens.get(j).is_some_and(|t| t.0 == "super")
                    && tokens.get(j + 1).is_some_and(|t| t.0 == "::")
                {
                    climbs += 1;
                    j += 2;
                }
                let level = path.len() + inline_mods.len();
                if climbs == 0 {
                    // `pub(super)`, `super` alone: no path.
                    i += 1;
                    continue;
                }
                if climbs >= level {
                    // Reached the crate root (or tried to climb past it): the next segment is
                    // a top-level module.
                    for name in segment_after(&tokens, j) {
                        push(&name, line);
                    }
                }
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    found
}

/// The names a path continues with at `tokens[at]`: one identifier, or the first identifier
/// of each item of a `{ a::x, b }` group.
fn segment_after(tokens: &[(String, usize)], at: usize) -> Vec<String> {
    match tokens.get(at).map(|t| t.0.as_str()) {
        Some("{") => {
            let mut names = Vec::new();
            let mut nesting = 0;
            let mut expect_item = true;
            for (tok, _) in &tokens[at + 1..] {
                match tok.as_str() {
                    "{" => nesting += 1,
                    "}" if nesting == 0 => break,
                    "}" => nesting -= 1,
                    "," if nesting == 0 => expect_item = true,
                    t if expect_item && nesting == 0 && is_ident(t) => {
                        names.push(t.to_string());
                        expect_item = false;
                    }
                    _ => {}
                }
            }
            names
        }
        Some(t) if is_ident(t) => vec![t.to_string()],
        _ => Vec::new(),
    }
}

fn is_ident(t: &str) -> bool {
    t.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// Identifiers, `::` and single punctuation characters, each with its line number.
fn tokenize(text: &str) -> Vec<(String, usize)> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let (mut i, mut line) = (0, 1);
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push((chars[start..i].iter().collect(), line));
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            tokens.push(("::".to_string(), line));
            i += 2;
        } else {
            tokens.push((c.to_string(), line));
            i += 1;
        }
    }
    tokens
}

/// The text without comments, and with string and char literals emptied (newlines kept, so
/// line numbers stay right).
fn clean(text: &str) -> String {
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
            let mut nesting = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    nesting += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    nesting -= 1;
                    i += 2;
                    if nesting == 0 {
                        break;
                    }
                } else {
                    if chars[i] == '\n' {
                        out.push('\n');
                    }
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && !chars[..i]
                .last()
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            // A raw string: r"..." or r#"..."#.
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
                    Some('"') if (0..hashes).all(|k| chars.get(j + 1 + k) == Some(&'#')) => {
                        j += 1 + hashes;
                        break;
                    }
                    Some('\n') => out.push('\n'),
                    _ => {}
                }
                j += 1;
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
            out.push_str("\"\"");
            i += 1;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{1F600}') or a lifetime ('a): only literals are
            // skipped.
            if next == Some('\\') {
                let mut j = i + 2;
                while j < chars.len() && chars[j] != '\'' {
                    j += 1;
                }
                out.push_str("' '");
                i = j + 1;
            } else if chars.get(i + 2) == Some(&'\'') {
                out.push_str("' '");
                i += 3;
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Every circle between top-level modules (strongly connected components of two or more), each
/// drawn as its shortest way from its first module back to itself, one import per step.
fn circles(imports: &[Import]) -> Vec<Vec<String>> {
    let mut edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for i in imports {
        edges.entry(&i.from).or_default().insert(&i.to);
        edges.entry(&i.to).or_default();
    }
    let reach = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from];
        while let Some(m) = todo.pop() {
            for &n in &edges[m] {
                if seen.insert(n) {
                    todo.push(n);
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&str, BTreeSet<&str>> = edges.keys().map(|&m| (m, reach(m))).collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for &m in edges.keys() {
        if done.contains(m) || !reachable[m].contains(m) {
            continue;
        }
        let component: BTreeSet<&str> = reachable[m]
            .iter()
            .copied()
            .filter(|n| reachable[n].contains(m))
            .collect();
        done.extend(component.iter().copied());
        // The shortest way around: breadth first from m, inside the component, back to m.
        let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([m]);
        'search: while let Some(at) = queue.pop_front() {
            for &n in &edges[at] {
                if n == m {
                    came_from.insert(m, at);
                    break 'search;
                }
                if component.contains(n) && !came_from.contains_key(n) {
                    came_from.insert(n, at);
                    queue.push_back(n);
                }
            }
        }
        let mut walk = vec![m.to_string()];
        let mut at = came_from[m];
        while at != m {
            walk.push(at.to_string());
            at = came_from[at];
        }
        walk.push(m.to_string());
        walk.reverse();
        out.push(walk);
    }
    out
}
