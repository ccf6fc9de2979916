//! Files attached to runs: artifacts copied into the run's folder (with size and sha256) and
//! dataset versions recorded as inputs (content hash, size, rows and columns of CSV files).
use crate::error::{KirokuError, Result};
use crate::fsutil::{copy_hashed, safe_relative};
use crate::model::{Artifact, DatasetVersion, RunInput};
use crate::store::Store;
use std::fs;
use std::io::Read;
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
    collect_files(src, &dest, &mut files)?;
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

fn collect_files(src: &Path, rel: &Path, out: &mut Vec<(PathBuf, PathBuf)>) -> Result<()> {
    let meta =
        fs::metadata(src).map_err(|e| KirokuError::io(format!("reading {}", src.display()), e))?;
    if meta.is_dir() {
        let mut entries: Vec<_> = fs::read_dir(src)
            .map_err(|e| KirokuError::io(format!("reading {}", src.display()), e))?
            .filter_map(|e| e.ok())
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            collect_files(&entry.path(), &rel.join(entry.file_name()), out)?;
        }
    } else {
        out.push((src.to_path_buf(), rel.to_path_buf()));
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
) -> Result<RunInput> {
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
    let input = RunInput {
        dataset: DatasetVersion {
            name,
            location: Some(location),
            hash,
            size: Some(size),
            rows,
            schema,
        },
        context: context.to_string(),
    };
    store.add_input(run_id, &input)?;
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;

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
