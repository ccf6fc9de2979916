//! Reads an MLflow FileStore (`mlruns/`): experiment and run `meta.yaml`, `params/`, `tags/`
//! and `metrics/` files, following the reading rules of MLflow's own `FileStore`.
//!
//! Layout: `mlruns/<exp id>/meta.yaml`, `mlruns/<exp id>/<run id>/{meta.yaml, params/, tags/,
//! metrics/, artifacts/}`; deleted experiments live in `mlruns/.trash/<exp id>/`. Keys with `/`
//! are nested folders. Param and tag files hold the exact value (no trailing newline); metric
//! files hold one `<timestamp_ms> <value> <step>` line per point, in logging order.
use super::yaml::{self, Meta};
use super::{artifact_candidates, parse_status, SourceExperiment, SourceRun};
use crate::error::{KirokuError, Result};
use crate::model::KeyedPoint;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// Experiment subfolders that are not runs.
const RESERVED: [&str; 4] = ["tags", "datasets", "traces", "models"];

/// Whether `dir` looks like an `mlruns` folder: it has a `.trash` folder or an experiment
/// folder with a `meta.yaml`.
pub fn looks_like_mlruns(dir: &Path) -> bool {
    if dir.join(".trash").is_dir() {
        return true;
    }
    sorted_dirs(dir)
        .unwrap_or_default()
        .iter()
        .any(|d| d.join("meta.yaml").is_file())
}

/// The sub-folders of `dir`, sorted by name.
fn sorted_dirs(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    Ok(out)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn read_meta(path: &Path) -> std::result::Result<Meta, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    yaml::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads every experiment (active ones, then those in `.trash`) and their runs.
pub fn read_store(root: &Path, warnings: &mut Vec<String>) -> Result<Vec<SourceExperiment>> {
    let base = root.parent().unwrap_or(root).to_path_buf();
    let mut out = Vec::new();
    let dirs =
        sorted_dirs(root).map_err(|e| KirokuError::io(format!("listing {}", root.display()), e))?;
    for dir in dirs {
        let name = file_name(&dir);
        if name == ".trash" || name == "models" || name.starts_with('.') {
            continue;
        }
        if let Some(exp) = read_experiment(&dir, &base, false, warnings) {
            out.push(exp);
        }
    }
    let trash = root.join(".trash");
    if trash.is_dir() {
        for dir in sorted_dirs(&trash)
            .map_err(|e| KirokuError::io(format!("listing {}", trash.display()), e))?
        {
            if let Some(exp) = read_experiment(&dir, &base, true, warnings) {
                out.push(exp);
            }
        }
    }
    Ok(out)
}

fn read_experiment(
    dir: &Path,
    base: &Path,
    in_trash: bool,
    warnings: &mut Vec<String>,
) -> Option<SourceExperiment> {
    let folder = file_name(dir);
    let meta_path = dir.join("meta.yaml");
    if !meta_path.is_file() {
        if folder.bytes().all(|b| b.is_ascii_digit()) {
            warnings.push(format!(
                "{}: experiment folder without meta.yaml; skipped",
                dir.display()
            ));
        }
        return None;
    }
    let meta = match read_meta(&meta_path) {
        Ok(m) => m,
        Err(e) => {
            warnings.push(format!("{e}; experiment skipped"));
            return None;
        }
    };
    let id = meta.text("experiment_id").unwrap_or_else(|| folder.clone());
    if id != folder {
        warnings.push(format!(
            "{}: experiment_id '{id}' differs from its folder name (MLflow ignores such experiments); skipped",
            meta_path.display()
        ));
        return None;
    }
    let Some(name) = meta.text("name") else {
        warnings.push(format!(
            "{}: no experiment name; skipped",
            meta_path.display()
        ));
        return None;
    };
    let deleted = in_trash || meta.text("lifecycle_stage").as_deref() == Some("deleted");
    let tags = read_key_files(&dir.join("tags"), warnings);
    let mut runs = Vec::new();
    for run_dir in sorted_dirs(dir).unwrap_or_default() {
        let run_folder = file_name(&run_dir);
        if RESERVED.contains(&run_folder.as_str()) || run_folder.starts_with('.') {
            continue;
        }
        if !run_dir.join("meta.yaml").is_file() {
            warnings.push(format!(
                "{}: run folder without meta.yaml; skipped",
                run_dir.display()
            ));
            continue;
        }
        if let Some(run) = read_run(&run_dir, &id, base, warnings) {
            runs.push(run);
        }
    }
    Some(SourceExperiment {
        id,
        name,
        deleted,
        tags,
        runs,
    })
}

fn read_run(
    dir: &Path,
    experiment_id: &str,
    base: &Path,
    warnings: &mut Vec<String>,
) -> Option<SourceRun> {
    let meta_path = dir.join("meta.yaml");
    let meta = match read_meta(&meta_path) {
        Ok(m) => m,
        Err(e) => {
            warnings.push(format!("{e}; run skipped"));
            return None;
        }
    };
    let folder = file_name(dir);
    let id = meta
        .text("run_id")
        .or_else(|| meta.text("run_uuid"))
        .unwrap_or_else(|| folder.clone());
    if id != folder {
        warnings.push(format!(
            "{}: run_id '{id}' differs from its folder name; run skipped",
            meta_path.display()
        ));
        return None;
    }
    if let Some(exp) = meta.text("experiment_id") {
        if exp != experiment_id {
            warnings.push(format!(
                "{}: experiment_id '{exp}' differs from the experiment folder '{experiment_id}'; run skipped",
                meta_path.display()
            ));
            return None;
        }
    }
    let status = match meta.get("status").and_then(|v| v.text()) {
        None => None,
        Some(raw) => {
            let parsed = parse_status(&raw);
            if parsed.is_none() {
                warnings.push(format!(
                    "{}: unknown status '{raw}'; imported as running",
                    meta_path.display()
                ));
            }
            parsed
        }
    };
    let artifact_uri = meta.text("artifact_uri");
    let mut artifact_dirs = artifact_uri
        .as_deref()
        .map(|u| artifact_candidates(u, base))
        .unwrap_or_default();
    artifact_dirs.push(dir.join("artifacts"));
    Some(SourceRun {
        id,
        name: meta.text("run_name"),
        user: meta.text("user_id"),
        status,
        start_time: meta.int("start_time"),
        end_time: meta.int("end_time"),
        deleted: meta.text("lifecycle_stage").as_deref() == Some("deleted"),
        artifact_uri,
        artifact_dirs,
        params: read_key_files(&dir.join("params"), warnings),
        tags: read_key_files(&dir.join("tags"), warnings),
        folder: Some(dir.to_path_buf()),
    })
}

/// Every file under `dir` as (key, whole content); the key is the `/`-joined path relative to
/// `dir`. A missing folder is no entries.
fn read_key_files(dir: &Path, warnings: &mut Vec<String>) -> Vec<(String, String)> {
    let mut files = Vec::new();
    walk(dir, "", &mut files);
    let mut out = Vec::with_capacity(files.len());
    for (key, path) in files {
        match fs::read(&path) {
            Ok(bytes) => {
                let value = match String::from_utf8(bytes) {
                    Ok(s) => s,
                    Err(e) => {
                        warnings.push(format!(
                            "{}: not valid UTF-8; invalid bytes replaced",
                            path.display()
                        ));
                        String::from_utf8_lossy(e.as_bytes()).into_owned()
                    }
                };
                out.push((key, value));
            }
            Err(e) => warnings.push(format!("{}: {e}; skipped", path.display())),
        }
    }
    out
}

/// Collects (key, path) of the files under `dir`, sorted by key.
fn walk(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = rd.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let key = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let path = entry.path();
        if path.is_dir() {
            walk(&path, &key, out);
        } else if path.is_file() {
            out.push((key, path));
        }
    }
}

/// Streams every point of every metric of the run in `run_dir`: key by key (sorted), each file
/// in line order. Malformed lines are skipped with a warning naming the file and line.
pub fn for_each_point(
    run_dir: &Path,
    warnings: &mut Vec<String>,
    f: &mut dyn FnMut(KeyedPoint) -> Result<()>,
) -> Result<()> {
    let mut files = Vec::new();
    walk(&run_dir.join("metrics"), "", &mut files);
    for (key, path) in files {
        let file = match fs::File::open(&path) {
            Ok(file) => file,
            Err(e) => {
                warnings.push(format!("{}: {e}; metric skipped", path.display()));
                continue;
            }
        };
        let mut reader = BufReader::new(file);
        let mut line = Vec::new();
        let mut line_no = 0usize;
        loop {
            line.clear();
            let n = reader
                .read_until(b'\n', &mut line)
                .map_err(|e| KirokuError::io(format!("reading {}", path.display()), e))?;
            if n == 0 {
                break;
            }
            line_no += 1;
            let text = String::from_utf8_lossy(&line);
            match parse_metric_line(&text) {
                Some((timestamp, value, step)) => f(KeyedPoint { key: key.clone(), step, timestamp, value })?,
                None => warnings.push(format!(
                    "{}:{line_no}: malformed metric line {:?} (expected '<timestamp> <value> <step>'); skipped",
                    path.display(),
                    text.trim_end_matches(['\n', '\r'])
                )),
            }
        }
    }
    Ok(())
}

/// `<timestamp> <value> [<step> [<dataset name> <dataset digest>]]`, single-space separated:
/// 2, 3 or 5 fields like MLflow's `_get_metric_from_line` (step 0 when absent). Unlike MLflow's
/// reader, which reports step 0 for 5-field lines, the step written in the line is kept.
pub fn parse_metric_line(line: &str) -> Option<(i64, f64, i64)> {
    let parts: Vec<&str> = line.trim().split(' ').collect();
    if !matches!(parts.len(), 2 | 3 | 5) {
        return None;
    }
    let timestamp = parts[0].parse::<i64>().ok()?;
    let value = parts[1].parse::<f64>().ok()?;
    let step = if parts.len() >= 3 {
        parts[2].parse::<i64>().ok()?
    } else {
        0
    };
    Some((timestamp, value, step))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_lines_follow_mlflow() {
        assert_eq!(
            parse_metric_line("1700000000000 0.5 3\n"),
            Some((1700000000000, 0.5, 3))
        );
        assert_eq!(
            parse_metric_line("1700000000000 0.5"),
            Some((1700000000000, 0.5, 0))
        );
        assert_eq!(parse_metric_line("1 inf 2"), Some((1, f64::INFINITY, 2)));
        assert_eq!(
            parse_metric_line("1 -inf 2"),
            Some((1, f64::NEG_INFINITY, 2))
        );
        assert!(parse_metric_line("1 nan 2").unwrap().1.is_nan());
        assert_eq!(parse_metric_line("1 2.5 7 ds abc"), Some((1, 2.5, 7)));
        assert_eq!(parse_metric_line("1 2 3 4"), None);
        assert_eq!(parse_metric_line("garbage"), None);
        assert_eq!(parse_metric_line("x 1 2"), None);
        assert_eq!(parse_metric_line(""), None);
    }
}
