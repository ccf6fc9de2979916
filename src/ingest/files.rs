//! Files attached to runs: artifacts copied into the run's folder (with size and sha256) and
//! dataset versions recorded as inputs (content hash, size, rows and columns of CSV files).
use crate::error::{KirokuError, Result};
use crate::fsutil::{copy_hashed, safe_relative};
use crate::model::{Artifact, LoggedDataset, LoggedInput};
use crate::store::Store;
use std::collections::HashSet;
use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Copies a file, or a folder's files, into the run's `artifacts/DEST` and records them.
pub fn log_artifact(
    store: &dyn Store,
    run_id: &str,
    src: &Path,
    dest: Option<&str>,
) -> Result<Vec<Artifact>> {
    let base_name = src
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dest = safe_relative(dest.unwrap_or(&base_name))?;
    let mut files = Vec::new();
    collect_files(src, &dest, &mut files, &mut HashSet::new())?;
    let mut out = Vec::new();
    for (file, rel) in files {
        let rel_text = rel.to_string_lossy().replace('\\', "/");
        // Streamed: a local store copies it into the run's folder, a remote one to the server.
        let input = fs::File::open(&file)
            .map_err(|e| KirokuError::io(format!("reading {}", file.display()), e))?;
        let location = file.display().to_string();
        out.push(store.upload_artifact(run_id, &rel_text, Box::new(input), Some(&location))?);
    }
    Ok(out)
}

/// The files of `src` (a file, or a folder walked in name order) with their paths under `rel`.
///
/// This is the user's own folder, so links are followed (a dataset linked in is meant to be
/// logged), but each real folder is entered once, by its device and inode: a link back to a
/// folder above (`a -> .`) or many links to one folder cannot make the walk endless or
/// exponential; a folder reached again is copied only at its first path. Inside a folder,
/// anything but regular files and folders (a FIFO, socket or device, whose reading would block
/// or never end) is left out; named directly, it is an error.
fn collect_files(
    src: &Path,
    rel: &Path,
    out: &mut Vec<(PathBuf, PathBuf)>,
    visited: &mut HashSet<(u64, u64)>,
) -> Result<()> {
    let meta =
        fs::metadata(src).map_err(|e| KirokuError::io(format!("reading {}", src.display()), e))?;
    if meta.is_file() {
        out.push((src.to_path_buf(), rel.to_path_buf()));
        return Ok(());
    }
    if !meta.is_dir() {
        return Err(KirokuError::Invalid(format!(
            "{} is not a regular file or a folder",
            src.display()
        )));
    }
    if !visited.insert((meta.dev(), meta.ino())) {
        return Ok(());
    }
    let mut entries: Vec<_> = fs::read_dir(src)
        .map_err(|e| KirokuError::io(format!("reading {}", src.display()), e))?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        match fs::metadata(&path) {
            Ok(m) if m.is_file() || m.is_dir() => {
                collect_files(&path, &rel.join(entry.file_name()), out, visited)?
            }
            // A special file, or a link to nothing: nothing to copy.
            _ => {}
        }
    }
    Ok(())
}

/// The longest first line (a CSV header) `scan_lines` keeps.
const HEADER_MAX: usize = 1 << 20;

/// A file's non-blank lines, read in pieces (a dataset may be far larger than memory): the first
/// one (its first `HEADER_MAX` bytes) and how many non-blank lines follow it.
fn scan_lines(path: &Path) -> Result<(Option<Vec<u8>>, u64)> {
    let io = |e| KirokuError::io(format!("reading {}", path.display()), e);
    let mut file = fs::File::open(path).map_err(io)?;
    let mut buf = vec![0u8; 64 * 1024];
    let (mut first, mut line, mut blank, mut rest) = (None, Vec::new(), true, 0u64);
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        // A last line without a newline ends at the end of the file.
        let piece: &[u8] = if n == 0 { b"\n" } else { &buf[..n] };
        for &b in piece {
            if b == b'\n' {
                if !blank {
                    match first {
                        None => first = Some(std::mem::take(&mut line)),
                        Some(_) => rest += 1,
                    }
                }
                line.clear();
                blank = true;
                continue;
            }
            blank &= b.is_ascii_whitespace();
            if first.is_none() && line.len() < HEADER_MAX {
                line.push(b);
            }
        }
        if n == 0 {
            return Ok((first, rest));
        }
    }
}

/// Records a dataset file as an input of the run: its content hash, size, and for CSV/TSV
/// files the row count and column names.
pub fn log_input(
    store: &dyn Store,
    run_id: &str,
    path: &Path,
    name: Option<&str>,
    context: &str,
) -> Result<LoggedInput> {
    let (size, hash) = copy_hashed(path, None)?;
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let (rows, schema) = match ext.as_str() {
        "csv" | "tsv" => {
            let (header, rest) = scan_lines(path)?;
            let sep = if ext == "tsv" { '\t' } else { ',' };
            let columns: Vec<serde_json::Value> = header
                .map(|h| {
                    String::from_utf8_lossy(&h)
                        .trim_end_matches(['\r', '\n'])
                        .split(sep)
                        .map(|c| serde_json::Value::String(c.trim().trim_matches('"').to_string()))
                        .collect()
                })
                .unwrap_or_default();
            (Some(rest), Some(serde_json::json!({ "columns": columns })))
        }
        "jsonl" | "ndjson" => {
            let (first, rest) = scan_lines(path)?;
            (Some(rest + u64::from(first.is_some())), None)
        }
        _ => (None, None),
    };
    let name = name.map(str::to_string).unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "dataset".into())
    });
    let location = path
        .canonicalize()
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string();
    let input = LoggedInput {
        dataset: LoggedDataset {
            name,
            location: Some(location),
            hash,
            size: Some(size),
            rows,
            schema,
        },
        context: context.to_string(),
        mlflow: None,
    };
    store.add_input(run_id, &input)?;
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::prelude::*;

    fn store_with_run(dir: &Path) -> (crate::store::SqliteStore, String) {
        let store = crate::store::SqliteStore::open(&dir.join(".kiroku"), false).unwrap();
        store.create_experiment("e", "u").unwrap();
        let run = store
            .create_run(&crate::model::NewRun {
                experiment: "e".into(),
                user: "u".into(),
                ..Default::default()
            })
            .unwrap();
        (store, run.id)
    }

    #[test]
    fn log_artifact_follows_links_in_the_users_folder_without_looping() {
        use std::os::unix::fs::symlink;
        let store_dir = tempfile::tempdir().unwrap();
        let (store, id) = store_with_run(store_dir.path());
        let tmp = tempfile::tempdir().unwrap();
        let model = tmp.path().join("model");
        fs::create_dir_all(&model).unwrap();
        fs::create_dir_all(tmp.path().join("elsewhere")).unwrap();
        fs::write(model.join("w.bin"), "weights").unwrap();
        fs::write(tmp.path().join("elsewhere/x.bin"), "data").unwrap();
        symlink(".", model.join("a")).unwrap();
        symlink(".", model.join("b")).unwrap();
        symlink("..", model.join("up")).unwrap();
        symlink("../elsewhere", model.join("data")).unwrap();
        symlink("nothing", model.join("broken")).unwrap();
        let fifo = std::ffi::CString::new(model.join("pipe").to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);

        let (done, wait) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let logged = log_artifact(&store, &id, &model, None)
                .map(|a| a.into_iter().map(|a| a.path).collect::<Vec<_>>());
            let _ = done.send(logged);
        });
        let logged = wait
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("log_artifact looped or blocked")
            .unwrap();
        assert_eq!(logged, ["model/data/x.bin", "model/w.bin"]);
    }

    #[test]
    fn log_input_counts_rows_and_columns_in_one_pass() {
        let store_dir = tempfile::tempdir().unwrap();
        let (store, id) = store_with_run(store_dir.path());
        let csv = store_dir.path().join("d.csv");
        fs::write(&csv, "\n  \r\n\"a\", b ,c\r\n1,2,3\r\n\r\n4,5,6").unwrap();
        let input = log_input(&store, &id, &csv, None, "train").unwrap();
        assert_eq!(input.dataset.rows, Some(2));
        assert_eq!(
            input.dataset.schema,
            Some(serde_json::json!({"columns": ["a", "b", "c"]}))
        );
        let jsonl = store_dir.path().join("d.jsonl");
        fs::write(&jsonl, "{}\n\n \n{}\n").unwrap();
        let input = log_input(&store, &id, &jsonl, None, "eval").unwrap();
        // A line of only whitespace holds no record.
        assert_eq!(input.dataset.rows, Some(2));
    }

    #[test]
    fn dataset_lines_are_counted_in_pieces_without_blank_lines() {
        let dir = tempfile::tempdir().unwrap();
        let count = |text: &[u8]| {
            let path = dir.path().join("d.csv");
            fs::write(&path, text).unwrap();
            let (first, rest) = scan_lines(&path).unwrap();
            (first.map(|f| String::from_utf8(f).unwrap()), rest)
        };
        assert_eq!(count(b""), (None, 0));
        assert_eq!(count(b"\n \n"), (None, 0));
        assert_eq!(count(b"a,b\r\n1,2\r\n\r\n3,4"), (Some("a,b\r".into()), 2));
        assert_eq!(count(b"\n  \nh\n\t\nx\ny\n"), (Some("h".into()), 2));
        // Longer than one read: the count stays exact.
        let big = "h\n".to_string() + &"1,2\n".repeat(100_000);
        assert_eq!(count(big.as_bytes()), (Some("h".into()), 100_000));
    }
}
