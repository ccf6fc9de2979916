//! Files attached to runs: artifacts copied into the run's folder (with size and sha256) and
//! dataset versions recorded as inputs (content hash, size, rows and columns of CSV files).
use crate::error::{KirokuError, Result};
use crate::model::{Artifact, DatasetVersion, RunInput};
use crate::store::Store;
use sha2::{Digest, Sha256};
use std::fs;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

/// Reads `src` once, hashing it (sha256, hex) and copying it to `dest` when given (creating
/// folders). Returns its size and hash.
pub fn copy_hashed(src: &Path, dest: Option<&Path>) -> Result<(u64, String)> {
    let mut output = match dest {
        Some(dest) => {
            if let Some(parent) = dest.parent() {
                fs::create_dir_all(parent)
                    .map_err(|e| KirokuError::io(format!("creating {}", parent.display()), e))?;
            }
            Some(
                fs::File::create(dest)
                    .map_err(|e| KirokuError::io(format!("writing {}", dest.display()), e))?,
            )
        }
        None => None,
    };
    let mut input = fs::File::open(src)
        .map_err(|e| KirokuError::io(format!("reading {}", src.display()), e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = input
            .read(&mut buf)
            .map_err(|e| KirokuError::io(format!("reading {}", src.display()), e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        if let (Some(out), Some(dest)) = (output.as_mut(), dest) {
            out.write_all(&buf[..n])
                .map_err(|e| KirokuError::io(format!("writing {}", dest.display()), e))?;
        }
        size += n as u64;
    }
    Ok((
        size,
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    ))
}

/// The SHA-256 of some bytes, hex.
pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes a file whole or not at all (a temporary beside it, then a rename), making folders.
pub fn write_atomic(dest: &Path, data: &[u8]) -> Result<()> {
    let io = |what: &str, e| KirokuError::io(format!("{what} {}", dest.display()), e);
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent).map_err(|e| io("creating the folder of", e))?;
    }
    let mut partial = dest.as_os_str().to_owned();
    partial.push(".kiroku-partial");
    let partial = PathBuf::from(partial);
    fs::write(&partial, data).map_err(|e| io("writing", e))?;
    fs::rename(&partial, dest).map_err(|e| io("renaming into", e))
}

/// A relative artifact path that stays inside the run's artifact folder.
pub fn safe_relative(path: &str) -> Result<PathBuf> {
    let p = Path::new(path);
    let ok = !path.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)));
    if ok {
        Ok(p.to_path_buf())
    } else {
        Err(KirokuError::Invalid(format!("artifact path '{path}' must be relative and stay inside the run (no '..', no leading '/')")))
    }
}

/// Copies a file, or a folder's files, into the run's `artifacts/DEST` and records them.
pub fn log_artifact(
    store: &dyn Store,
    run_id: &str,
    src: &Path,
    dest: Option<&str>,
) -> Result<Vec<Artifact>> {
    let run_dir = store.run_dir(run_id);
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
        let Some(run_dir) = &run_dir else {
            // A remote store: the server keeps the copy.
            let data = fs::read(&file)
                .map_err(|e| KirokuError::io(format!("reading {}", file.display()), e))?;
            let mut artifact = store.upload_artifact(run_id, &rel_text, &data)?;
            artifact.location = Some(file.display().to_string());
            store.add_artifact(run_id, &artifact)?;
            out.push(artifact);
            continue;
        };
        let (size, hash) = copy_hashed(&file, Some(&run_dir.join("artifacts").join(&rel)))?;
        let artifact = Artifact {
            path: rel_text,
            size: Some(size),
            hash: Some(hash),
            stored: "copied".into(),
            location: Some(file.display().to_string()),
        };
        store.add_artifact(run_id, &artifact)?;
        out.push(artifact);
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
            let text = fs::read(path)
                .map_err(|e| KirokuError::io(format!("reading {}", path.display()), e))?;
            let text = String::from_utf8_lossy(&text);
            let mut lines = text.lines().filter(|l| !l.trim().is_empty());
            let sep = if ext == "tsv" { '\t' } else { ',' };
            let columns: Vec<serde_json::Value> = lines
                .next()
                .map(|h| {
                    h.split(sep)
                        .map(|c| serde_json::Value::String(c.trim().trim_matches('"').to_string()))
                        .collect()
                })
                .unwrap_or_default();
            (
                Some(lines.count() as u64),
                Some(serde_json::json!({ "columns": columns })),
            )
        }
        "jsonl" | "ndjson" => {
            let text = fs::read(path)
                .map_err(|e| KirokuError::io(format!("reading {}", path.display()), e))?;
            (
                Some(
                    text.split(|b| *b == b'\n')
                        .filter(|l| !l.is_empty())
                        .count() as u64,
                ),
                None,
            )
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
    fn artifact_paths_cannot_escape() {
        assert!(safe_relative("model/w.bin").is_ok());
        for bad in ["", "../x", "/etc/passwd", "a/../../b", "./"] {
            assert!(safe_relative(bad).is_err(), "{bad}");
        }
    }
}
