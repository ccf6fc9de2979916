//! The top-level `params`, `metrics`, `plots` and `artifacts` sections of `dvc.yaml` (DVC 3):
//! read and checked against DVC's own schema (`dvc/schema.py`: `MULTI_STAGE_SCHEMA`), so a file
//! DVC refuses is refused here too, naming the key and the line. kiroku runs no stage from them;
//! they are kept on the [`Pipeline`](super::Pipeline) for what shows a project (`datasets` is
//! free-form in DVC's schema and is accepted as it is).
//!
//! - `params`, `metrics`: lists of paths (strings).
//! - `plots`: a list whose items are a path, or a mapping of one or more paths (or titles)
//!   each to null or a plot definition (`x`: a string or a `{file: column}` mapping; `y`: a
//!   string, a list of strings, or a mapping of files to a string or a list of strings;
//!   `x_label`, `y_label`, `title`, `template`: strings).
//! - `artifacts`: a mapping of names to `{path, type, desc, labels, meta}` (`path` required,
//!   `labels` a list of strings, `meta` anything).
use super::yaml::{Kind, Node};

/// The project-wide sections of a `dvc.yaml`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Sections {
    pub params: Vec<String>,
    pub metrics: Vec<String>,
    /// Each plot's path (or title), with its definition as JSON (null when none).
    pub plots: Vec<(String, serde_json::Value)>,
    pub artifacts: Vec<Artifact>,
}

/// One entry of `artifacts`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Artifact {
    pub name: String,
    pub path: String,
    pub kind: Option<String>,
    pub desc: Option<String>,
    pub labels: Vec<String>,
    pub meta: serde_json::Value,
}

/// The sections' keys.
pub const KEYS: &[&str] = &["params", "metrics", "plots", "artifacts"];

/// What is wrong, and on which line (the caller names the file).
pub type SectionError = (u64, String);

/// Reads the sections present in `doc` (the whole `dvc.yaml` mapping).
pub fn read(doc: &Node) -> Result<Sections, SectionError> {
    let mut sections = Sections::default();
    if let Some(node) = doc.get("params") {
        sections.params = strings(node, "params")?;
    }
    if let Some(node) = doc.get("metrics") {
        sections.metrics = strings(node, "metrics")?;
    }
    if let Some(node) = doc.get("plots") {
        sections.plots = plots(node)?;
    }
    if let Some(node) = doc.get("artifacts") {
        sections.artifacts = artifacts(node)?;
    }
    Ok(sections)
}

fn wrong(node: &Node, key: &str, expected: &str) -> SectionError {
    (
        node.line,
        format!("key '{key}': expected {expected}, got {}", node.describe()),
    )
}

fn string(node: &Node, key: &str) -> Result<String, SectionError> {
    node.as_str()
        .map(str::to_string)
        .ok_or_else(|| wrong(node, key, "a string"))
}

fn strings(node: &Node, key: &str) -> Result<Vec<String>, SectionError> {
    match &node.kind {
        Kind::Seq(items) => items.iter().map(|item| string(item, key)).collect(),
        _ => Err(wrong(node, key, "a list of strings")),
    }
}

fn entries<'a>(node: &'a Node, key: &str) -> Result<&'a [(String, Node)], SectionError> {
    match &node.kind {
        Kind::Map(entries) => Ok(entries),
        _ => Err(wrong(node, key, "a mapping")),
    }
}

fn plots(node: &Node) -> Result<Vec<(String, serde_json::Value)>, SectionError> {
    let Kind::Seq(items) = &node.kind else {
        return Err(wrong(node, "plots", "a list"));
    };
    let mut plots = Vec::new();
    for item in items {
        match &item.kind {
            Kind::Str(path) => plots.push((path.clone(), serde_json::Value::Null)),
            Kind::Map(defs) if !defs.is_empty() => {
                for (path, def) in defs {
                    let at = format!("plots.{path}");
                    if !matches!(def.kind, Kind::Null) {
                        plot_definition(def, &at)?;
                    }
                    plots.push((path.clone(), def.to_json()));
                }
            }
            _ => {
                return Err(wrong(
                    item,
                    "plots",
                    "a path or a mapping of paths to plot definitions",
                ))
            }
        }
    }
    Ok(plots)
}

/// A plot definition's keys and the shapes DVC allows them.
fn plot_definition(def: &Node, at: &str) -> Result<(), SectionError> {
    for (key, value) in entries(def, at)? {
        let here = format!("{at}.{key}");
        let ok = match key.as_str() {
            "x" => match &value.kind {
                Kind::Str(_) => true,
                Kind::Map(files) => files.iter().all(|(_, v)| v.as_str().is_some()),
                _ => false,
            },
            "y" => match &value.kind {
                Kind::Str(_) => true,
                Kind::Seq(_) => strings(value, &here).is_ok(),
                Kind::Map(files) => files
                    .iter()
                    .all(|(_, v)| v.as_str().is_some() || strings(v, &here).is_ok()),
                _ => false,
            },
            "x_label" | "y_label" | "title" | "template" => value.as_str().is_some(),
            other => {
                return Err((
                    value.line,
                    format!(
                        "key '{at}': unknown plot property '{other}' (expected x, y, x_label, y_label, title, template)"
                    ),
                ))
            }
        };
        if !ok {
            let expected = match key.as_str() {
                "x" => "a column, or a mapping of files to columns",
                "y" => "a column, a list of columns, or a mapping of files to columns",
                _ => "a string",
            };
            return Err(wrong(value, &here, expected));
        }
    }
    Ok(())
}

fn artifacts(node: &Node) -> Result<Vec<Artifact>, SectionError> {
    let mut artifacts = Vec::new();
    for (name, def) in entries(node, "artifacts")? {
        let at = format!("artifacts.{name}");
        let fields = entries(def, &at)?;
        let mut artifact = Artifact {
            name: name.clone(),
            path: String::new(),
            kind: None,
            desc: None,
            labels: Vec::new(),
            meta: serde_json::Value::Null,
        };
        let mut has_path = false;
        for (key, value) in fields {
            let here = format!("{at}.{key}");
            match key.as_str() {
                "path" => {
                    artifact.path = string(value, &here)?;
                    has_path = true;
                }
                "type" => artifact.kind = Some(string(value, &here)?),
                "desc" => artifact.desc = Some(string(value, &here)?),
                "labels" => artifact.labels = strings(value, &here)?,
                "meta" => artifact.meta = value.to_json(),
                other => {
                    return Err((
                        value.line,
                        format!(
                            "key '{at}': unknown field '{other}' (expected path, type, desc, labels, meta)"
                        ),
                    ))
                }
            }
        }
        if !has_path {
            return Err((def.line, format!("key '{at}': `path` is required")));
        }
        artifacts.push(artifact);
    }
    Ok(artifacts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sections(text: &str) -> Result<Sections, SectionError> {
        read(&super::super::yaml::parse(text).unwrap())
    }

    #[test]
    fn the_shapes_dvc_accepts_are_read() {
        let s = sections(
            "params: [p.yaml]\nmetrics: [m.json, '${n}.json']\nplots:\n- a.csv\n- b.csv: {x: step, y: [loss, acc]}\n  c.csv:\n- Title: {y: {d.csv: z}, x: {d.csv: t}}\nartifacts:\n  model: {path: m.pkl, type: model, labels: [a], meta: {k: 1}}\n",
        )
        .unwrap();
        assert_eq!(s.params, ["p.yaml"]);
        assert_eq!(s.metrics, ["m.json", "${n}.json"]);
        let names: Vec<&str> = s.plots.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(names, ["a.csv", "b.csv", "c.csv", "Title"]);
        assert_eq!(s.artifacts[0].path, "m.pkl");
        assert_eq!(s.artifacts[0].kind.as_deref(), Some("model"));
    }

    #[test]
    fn the_shapes_dvc_refuses_are_refused_with_their_line() {
        for (text, line, words) in [
            ("metrics: m.json\n", 1, "a list of strings"),
            ("metrics: [5]\n", 1, "a string"),
            ("plots: {a: b}\n", 1, "a list"),
            ("plots:\n- a.csv: {x: 1}\n", 2, "plots.a.csv.x"),
            (
                "plots:\n- a.csv: {colour: red}\n",
                2,
                "unknown plot property",
            ),
            ("artifacts:\n  m: {type: model}\n", 2, "`path` is required"),
            (
                "artifacts:\n  m:\n    path: x\n    extra: 1\n",
                4,
                "unknown field 'extra'",
            ),
            ("params: p.yaml\n", 1, "key 'params'"),
        ] {
            let (at, why) = sections(text).unwrap_err();
            assert_eq!(at, line, "{text}: {why}");
            assert!(why.contains(words), "{text}: {why}");
        }
    }
}
