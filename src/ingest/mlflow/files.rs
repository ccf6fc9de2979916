//! Reads an MLflow FileStore (`mlruns/`): experiment and run `meta.yaml`, `params/`, `tags/`
//! and `metrics/` files, following the reading rules of MLflow's own `FileStore`.
//!
//! Layout: `mlruns/<exp id>/meta.yaml`, `mlruns/<exp id>/<run id>/{meta.yaml, params/, tags/,
//! metrics/, artifacts/}`; deleted experiments live in `mlruns/.trash/<exp id>/`. Keys with `/`
//! are nested folders. Param and tag files hold the exact value (no trailing newline); metric
//! files hold one `<timestamp_ms> <value> <step>` line per point, in logging order.
use super::datasets::MlflowDataset;
use super::report::{ImportReport, SkipReason};
use super::tree::{self, Entry, SourceTree, KEY_FOLDER};
use super::yaml::{self, Meta};
use super::{
    artifact_candidates, cut_to_chars, excerpt, parse_status, SourceExperiment, SourceRun,
    MAX_PARAM_VALUE_CHARS, MAX_TAG_VALUE_CHARS,
};
use crate::error::{KirokuError, Result};
use crate::model::KeyedPoint;
use std::collections::HashMap;
use std::fs;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

/// Experiment subfolders that are not runs.
const RESERVED: [&str; 4] = ["tags", "datasets", "traces", "models"];

/// The largest `meta.yaml` read (MLflow's are a few hundred bytes).
const MAX_META_BYTES: usize = 1 << 20;

/// The longest metric line read (MLflow's are under 1 KiB, dataset name and digest included).
const MAX_METRIC_LINE_BYTES: usize = 4096;

/// Malformed lines reported one by one per metric file; the rest are counted in one warning.
const MAX_LINE_WARNINGS_PER_FILE: u64 = 20;

/// Whether `dir` looks like an `mlruns` folder: it has a `.trash` folder or an experiment
/// folder with a `meta.yaml` (links are not followed to decide).
pub fn looks_like_mlruns(dir: &Path) -> bool {
    let is_real_dir = |p: &Path| fs::symlink_metadata(p).is_ok_and(|m| m.is_dir());
    if is_real_dir(&dir.join(".trash")) {
        return true;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    entries.filter_map(|e| e.ok()).take(10_000).any(|e| {
        e.file_type().is_ok_and(|t| t.is_dir())
            && fs::symlink_metadata(e.path().join("meta.yaml")).is_ok_and(|m| m.is_file())
    })
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// What became of a `meta.yaml`.
enum MetaFile<T = Meta> {
    Missing,
    Read(T),
    /// Not read or not understood; the warning (without what is skipped) is in the string.
    Failed(String, Option<SkipReason>),
}

fn read_meta(tree: &SourceTree, path: &Path) -> MetaFile {
    read_meta_with(tree, path, yaml::parse)
}

/// A `meta.yaml` read (bounded, UTF-8) and parsed by `parse`.
fn read_meta_with<T>(
    tree: &SourceTree,
    path: &Path,
    parse: impl FnOnce(&str) -> std::result::Result<T, String>,
) -> MetaFile<T> {
    let open = match tree.entry(path) {
        Entry::Missing | Entry::Dir => return MetaFile::Missing,
        Entry::Refused(refusal) => {
            return MetaFile::Failed(
                format!("{}: {}", path.display(), refusal.why),
                Some(refusal.reason),
            )
        }
        Entry::File(open) => open,
    };
    let bytes = match tree::read_head(&open, MAX_META_BYTES) {
        Ok((bytes, true)) => bytes,
        Ok((_, false)) => {
            return MetaFile::Failed(
                format!("{}: larger than {MAX_META_BYTES} bytes", path.display()),
                Some(SkipReason::TooLarge),
            )
        }
        Err(e) => {
            return MetaFile::Failed(
                format!("{}: {e}", path.display()),
                Some(SkipReason::Unreadable),
            )
        }
    };
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(_) => return MetaFile::Failed(format!("{}: not valid UTF-8", path.display()), None),
    };
    match parse(&text) {
        Ok(meta) => MetaFile::Read(meta),
        Err(e) => MetaFile::Failed(format!("{}: {e}", path.display()), None),
    }
}

/// Records a `meta.yaml` that could not be used; `what` is what is skipped for it.
fn meta_failed(warning: String, reason: Option<SkipReason>, what: &str, report: &mut ImportReport) {
    let warning = format!("{warning}; {what} skipped");
    match reason {
        Some(reason) => report.skip(reason, warning),
        None => report.warn(warning),
    }
}

/// Reads every experiment (active ones, then those in `.trash`) and their runs. `root` is the
/// `mlruns` folder, resolved (one of `tree`'s roots); relative artifact locations are taken
/// from `base`, the folder holding the store (canonical).
pub fn read_store(
    root: &Path,
    base: &Path,
    tree: &SourceTree,
    report: &mut ImportReport,
) -> Result<Vec<SourceExperiment>> {
    fs::read_dir(root).map_err(|e| KirokuError::io(format!("listing {}", root.display()), e))?;
    let mut out = Vec::new();
    for dir in tree.sub_folders(root, report) {
        let name = file_name(&dir);
        if name == ".trash" || name == "models" || name.starts_with('.') {
            continue;
        }
        if let Some(exp) = read_experiment(&dir, base, false, tree, report) {
            out.push(exp);
        }
    }
    let trash = root.join(".trash");
    match tree.entry(&trash) {
        Entry::Dir => {
            for dir in tree.sub_folders(&trash, report) {
                if let Some(exp) = read_experiment(&dir, base, true, tree, report) {
                    out.push(exp);
                }
            }
        }
        Entry::Refused(refusal) => refusal.report(&trash, "folder", report),
        Entry::Missing | Entry::File(_) => {}
    }
    Ok(out)
}

fn read_experiment(
    dir: &Path,
    base: &Path,
    in_trash: bool,
    tree: &SourceTree,
    report: &mut ImportReport,
) -> Option<SourceExperiment> {
    let folder = file_name(dir);
    let meta_path = dir.join("meta.yaml");
    let meta = match read_meta(tree, &meta_path) {
        MetaFile::Read(meta) => meta,
        MetaFile::Missing => {
            if folder.bytes().all(|b| b.is_ascii_digit()) {
                report.warn(format!(
                    "{}: experiment folder without meta.yaml; skipped",
                    dir.display()
                ));
            }
            return None;
        }
        MetaFile::Failed(warning, reason) => {
            meta_failed(warning, reason, "experiment", report);
            return None;
        }
    };
    let id = meta.text("experiment_id").unwrap_or_else(|| folder.clone());
    if id != folder {
        report.warn(format!(
            "{}: experiment_id '{}' differs from its folder name (MLflow ignores such experiments); skipped",
            meta_path.display(),
            excerpt(&id)
        ));
        return None;
    }
    let Some(name) = meta.text("name") else {
        report.warn(format!(
            "{}: no experiment name; skipped",
            meta_path.display()
        ));
        return None;
    };
    let deleted = in_trash || meta.text("lifecycle_stage").as_deref() == Some("deleted");
    let tags = read_key_files(
        &dir.join("tags"),
        super::MAX_EXPERIMENT_TAG_VALUE_CHARS,
        tree,
        report,
    );
    let datasets = read_datasets(&dir.join("datasets"), tree, report);
    let mut runs = Vec::new();
    for run_dir in tree.sub_folders(dir, report) {
        let run_folder = file_name(&run_dir);
        if RESERVED.contains(&run_folder.as_str()) || run_folder.starts_with('.') {
            continue;
        }
        if let Some(mut run) = read_run(&run_dir, &id, base, tree, report) {
            run.datasets = read_run_inputs(&run_dir.join("inputs"), &datasets, tree, report);
            runs.push(run);
        }
    }
    Some(SourceExperiment {
        id,
        name,
        deleted,
        created_ms: meta.int("creation_time"),
        updated_ms: meta.int("last_update_time"),
        tags,
        runs,
    })
}

/// An experiment's `datasets/<id>/meta.yaml` (MLflow 2.4+), by their folder id.
fn read_datasets(
    dir: &Path,
    tree: &SourceTree,
    report: &mut ImportReport,
) -> HashMap<String, MlflowDataset> {
    let mut out = HashMap::new();
    if !matches!(tree.entry(dir), Entry::Dir) {
        return out;
    }
    for folder in tree.sub_folders(dir, report) {
        let meta_path = folder.join("meta.yaml");
        let meta: DatasetMeta = match read_meta_with(tree, &meta_path, yaml::parse_as) {
            MetaFile::Read(meta) => meta,
            MetaFile::Missing => continue,
            MetaFile::Failed(warning, reason) => {
                meta_failed(warning, reason, "dataset", report);
                continue;
            }
        };
        out.insert(
            file_name(&folder),
            MlflowDataset {
                name: meta.name.unwrap_or_default(),
                digest: meta.digest.unwrap_or_default(),
                source_type: meta.source_type.unwrap_or_default(),
                source: meta.source.unwrap_or_default(),
                schema: meta.schema.filter(|s| !s.is_empty()),
                profile: meta.profile.filter(|p| !p.is_empty()),
                tags: Vec::new(),
            },
        );
    }
    out
}

/// A dataset's `meta.yaml`, every field as written (a digest such as `299e7656` is plain).
#[derive(serde::Deserialize)]
struct DatasetMeta {
    name: Option<String>,
    digest: Option<String>,
    source_type: Option<String>,
    source: Option<String>,
    schema: Option<String>,
    profile: Option<String>,
}

/// A run's `inputs/<id>/meta.yaml`: the datasets it read (with their context tag), in folder
/// order. An input naming a dataset the experiment does not hold is a warning.
fn read_run_inputs(
    dir: &Path,
    datasets: &HashMap<String, MlflowDataset>,
    tree: &SourceTree,
    report: &mut ImportReport,
) -> Vec<MlflowDataset> {
    let mut out = Vec::new();
    if !matches!(tree.entry(dir), Entry::Dir) {
        return out;
    }
    for folder in tree.sub_folders(dir, report) {
        let meta_path = folder.join("meta.yaml");
        let meta = match read_meta(tree, &meta_path) {
            MetaFile::Read(meta) => meta,
            MetaFile::Missing => continue,
            MetaFile::Failed(warning, reason) => {
                meta_failed(warning, reason, "run input", report);
                continue;
            }
        };
        if meta.text("source_type").as_deref() != Some("DATASET") {
            continue;
        }
        let source = meta.text("source_id").unwrap_or_default();
        let Some(dataset) = datasets.get(&source) else {
            report.warn(format!(
                "{}: dataset '{}' is not in the experiment's datasets; input skipped",
                meta_path.display(),
                excerpt(&source)
            ));
            continue;
        };
        let tags = match meta.get("tags") {
            Some(yaml::Value::Map(tags)) => tags.clone(),
            _ => Vec::new(),
        };
        out.push(MlflowDataset {
            tags,
            ..dataset.clone()
        });
    }
    out
}

fn read_run(
    dir: &Path,
    experiment_id: &str,
    base: &Path,
    tree: &SourceTree,
    report: &mut ImportReport,
) -> Option<SourceRun> {
    let meta_path = dir.join("meta.yaml");
    let meta = match read_meta(tree, &meta_path) {
        MetaFile::Read(meta) => meta,
        MetaFile::Missing => {
            report.warn(format!(
                "{}: run folder without meta.yaml; skipped",
                dir.display()
            ));
            return None;
        }
        MetaFile::Failed(warning, reason) => {
            meta_failed(warning, reason, "run", report);
            return None;
        }
    };
    let folder = file_name(dir);
    let id = meta
        .text("run_id")
        .or_else(|| meta.text("run_uuid"))
        .unwrap_or_else(|| folder.clone());
    if id != folder {
        report.warn(format!(
            "{}: run_id '{}' differs from its folder name; run skipped",
            meta_path.display(),
            excerpt(&id)
        ));
        return None;
    }
    if let Some(exp) = meta.text("experiment_id") {
        if exp != experiment_id {
            report.warn(format!(
                "{}: experiment_id '{}' differs from the experiment folder '{experiment_id}'; run skipped",
                meta_path.display(),
                excerpt(&exp)
            ));
            return None;
        }
    }
    let status = match meta.get("status").and_then(|v| v.text()) {
        None => None,
        Some(raw) => {
            let parsed = parse_status(&raw);
            if parsed.is_none() {
                report.warn(format!(
                    "{}: unknown status '{}'; imported as running",
                    meta_path.display(),
                    excerpt(&raw)
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
        params: read_key_files(&dir.join("params"), MAX_PARAM_VALUE_CHARS, tree, report),
        tags: read_key_files(&dir.join("tags"), MAX_TAG_VALUE_CHARS, tree, report),
        folder: Some(dir.to_path_buf()),
        datasets: Vec::new(),
    })
}

/// Every file under `dir` as (key, value); the key is the `/`-joined path relative to `dir`.
/// A value is read up to `max_chars` characters (MLflow's limit for it): a longer one is cut
/// there with a warning, as MLflow cuts values when they are logged. A missing folder is no
/// entries.
fn read_key_files(
    dir: &Path,
    max_chars: usize,
    tree: &SourceTree,
    report: &mut ImportReport,
) -> Vec<(String, String)> {
    let files = tree.files_under(dir, KEY_FOLDER, report);
    let mut out = Vec::with_capacity(files.len());
    for (key, path) in files {
        // No character is longer than 4 bytes in UTF-8 (nor an invalid byte, replaced by one).
        let (bytes, whole) = match tree::read_head(&path, max_chars * 4) {
            Ok(read) => read,
            Err(e) => {
                report.skip(
                    SkipReason::Unreadable,
                    format!("{}: {e}; skipped", dir.join(&key).display()),
                );
                continue;
            }
        };
        let mut value = decode_head(bytes, whole, &dir.join(&key), report);
        if cut_to_chars(&mut value, max_chars) || !whole {
            report.values_truncated += 1;
            report.warn(format!(
                "{}: the value is longer than {max_chars} characters; cut to that length",
                dir.join(&key).display()
            ));
        }
        out.push((key, value));
    }
    out
}

/// The text of a file's first bytes; `whole` says whether they are all of it (a character cut
/// at the end of a partial read is dropped, not replaced). Invalid bytes are replaced with a
/// warning.
fn decode_head(mut bytes: Vec<u8>, whole: bool, path: &Path, report: &mut ImportReport) -> String {
    if !whole {
        if let Err(e) = std::str::from_utf8(&bytes) {
            if e.error_len().is_none() {
                bytes.truncate(e.valid_up_to());
            }
        }
    }
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            report.warn(format!(
                "{}: not valid UTF-8; invalid bytes replaced",
                path.display()
            ));
            String::from_utf8_lossy(e.as_bytes()).into_owned()
        }
    }
}

/// Reads the next line into `line` (without its `\n`), keeping at most `max` bytes of it.
/// None at the end of the input; otherwise whether the line was longer than `max` (the rest of
/// it is read past, never kept).
fn read_line_capped(
    reader: &mut impl BufRead,
    line: &mut Vec<u8>,
    max: usize,
) -> io::Result<Option<bool>> {
    line.clear();
    let mut too_long = false;
    let mut any = false;
    loop {
        let buf = match reader.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(any.then_some(too_long));
        }
        any = true;
        let newline = buf.iter().position(|&b| b == b'\n');
        let chunk = &buf[..newline.unwrap_or(buf.len())];
        let room = max.saturating_sub(line.len());
        if chunk.len() > room {
            too_long = true;
        }
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = newline.map_or(buf.len(), |i| i + 1);
        reader.consume(used);
        if newline.is_some() {
            return Ok(Some(too_long));
        }
    }
}

/// Streams every point of every metric of the run in `run_dir`: key by key (sorted), each file
/// in line order. Malformed lines are skipped with a warning naming the file and line; a file
/// that cannot be read is skipped with a warning.
pub fn for_each_point(
    run_dir: &Path,
    tree: &SourceTree,
    report: &mut ImportReport,
    f: &mut dyn FnMut(KeyedPoint) -> Result<()>,
) -> Result<()> {
    let metrics = run_dir.join("metrics");
    for (key, open) in tree.files_under(&metrics, KEY_FOLDER, report) {
        let path = metrics.join(&key);
        let file = match crate::fsutil::open_regular(&open) {
            Ok(file) => file,
            Err(e) => {
                report.skip(
                    SkipReason::Unreadable,
                    format!("{}: {e}; metric skipped", path.display()),
                );
                continue;
            }
        };
        let mut reader = BufReader::new(file);
        let mut line = Vec::new();
        let mut line_no = 0u64;
        let mut bad_lines = 0u64;
        loop {
            let too_long = match read_line_capped(&mut reader, &mut line, MAX_METRIC_LINE_BYTES) {
                Ok(Some(too_long)) => too_long,
                Ok(None) => break,
                Err(e) => {
                    report.skip(
                        SkipReason::Unreadable,
                        format!(
                            "{}:{}: {e}; the rest of the metric skipped",
                            path.display(),
                            line_no + 1
                        ),
                    );
                    break;
                }
            };
            line_no += 1;
            let text = String::from_utf8_lossy(&line);
            let point = if too_long {
                None
            } else {
                parse_metric_line(&text)
            };
            if let Some((timestamp, value, step)) = point {
                f(KeyedPoint {
                    key: key.clone(),
                    step,
                    timestamp,
                    value,
                })?;
                continue;
            }
            bad_lines += 1;
            if bad_lines > MAX_LINE_WARNINGS_PER_FILE {
                if too_long {
                    report.count(SkipReason::TooLarge);
                }
                continue;
            }
            if too_long {
                report.skip(
                    SkipReason::TooLarge,
                    format!(
                        "{}:{line_no}: a line longer than {MAX_METRIC_LINE_BYTES} bytes; skipped",
                        path.display()
                    ),
                );
            } else {
                report.warn(format!(
                    "{}:{line_no}: malformed metric line {:?} (expected '<timestamp> <value> <step>'); skipped",
                    path.display(),
                    excerpt(text.trim_end_matches(['\n', '\r']))
                ));
            }
        }
        if bad_lines > MAX_LINE_WARNINGS_PER_FILE {
            report.warn(format!(
                "{}: {} more malformed lines skipped",
                path.display(),
                bad_lines - MAX_LINE_WARNINGS_PER_FILE
            ));
        }
    }
    Ok(())
}

/// `<timestamp> <value> [<step> [<dataset name> <dataset digest>]]`, single-space separated:
/// 2, 3 or 5 fields like MLflow's `_get_metric_from_line` (step 0 when absent). Unlike MLflow's
/// reader, which reports step 0 for 5-field lines, the step written in the line is kept.
pub fn parse_metric_line(line: &str) -> Option<(i64, f64, i64)> {
    let parts: Vec<&str> = line.trim().split(' ').take(6).collect();
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
    use proptest::prelude::*;

    /// The lines of `bytes` as [`read_line_capped`] should see them: split at `\n`, without a
    /// last empty line after a final newline; each cut to `max` bytes, with whether it was.
    fn reference_lines(bytes: &[u8], max: usize) -> Vec<(Vec<u8>, bool)> {
        let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        if lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        lines
            .into_iter()
            .map(|l| (l[..l.len().min(max)].to_vec(), l.len() > max))
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn metric_lines_never_panic(line in "(?s).{0,200}") {
            let _ = parse_metric_line(&line);
        }

        #[test]
        fn written_points_read_back(t in any::<i64>(), v in any::<f64>(), s in any::<i64>()) {
            prop_assume!(!v.is_nan());
            prop_assert_eq!(parse_metric_line(&format!("{t} {v} {s}\n")), Some((t, v, s)));
        }

        /// Whatever the buffer size, lines come out as split at `\n`, never longer than the cap.
        #[test]
        fn capped_lines_match_a_plain_split(
            bytes in prop::collection::vec(prop_oneof![4 => any::<u8>(), 1 => Just(b'\n')], 0..200),
            max in 0usize..24,
            capacity in 1usize..16,
        ) {
            let mut reader = BufReader::with_capacity(capacity, bytes.as_slice());
            let mut line = Vec::new();
            let mut got = Vec::new();
            while let Some(too_long) = read_line_capped(&mut reader, &mut line, max).unwrap() {
                got.push((line.clone(), too_long));
            }
            prop_assert_eq!(got, reference_lines(&bytes, max));
        }

        /// Reading 4 bytes per character allowed and cutting gives the value's first characters
        /// exactly: a character cut by the partial read is dropped, never replaced.
        #[test]
        fn capped_values_are_the_first_characters(value in "\\PC{0,40}", max_chars in 0usize..30) {
            let bytes = value.as_bytes();
            let head = bytes[..bytes.len().min(max_chars * 4)].to_vec();
            let whole = bytes.len() <= max_chars * 4;
            let mut report = ImportReport::default();
            let mut text = decode_head(head, whole, Path::new("v"), &mut report);
            cut_to_chars(&mut text, max_chars);
            prop_assert_eq!(text, value.chars().take(max_chars).collect::<String>());
            prop_assert!(report.warnings.is_empty());
        }
    }

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
