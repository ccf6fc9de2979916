//! Content hashes exactly as DVC 3 computes them, so `dvc.lock` files agree both ways.
//!
//! - A file: the md5 of its raw bytes (DVC 3 no longer folds line endings).
//! - A directory: the md5 of DVC's `.dir` listing, the JSON `json.dumps(sorted_entries,
//!   sort_keys=True)` writes: `[{"md5": "…", "relpath": "a/b.txt"}, …]` sorted by `relpath`,
//!   with `", "` and `": "` separators and non-ASCII escaped as `\uXXXX`; the hash gets the
//!   suffix `.dir`, the size is the sum of the files' sizes and `nfiles` their count. Only
//!   files count (empty folders are not listed); DVC's own folders (`.git`, `.dvc`, `.hg`) and
//!   what `.dvcignore` ignores (`super::dvcignore`) are left out.
//!
//! Files are looked up in a [`StatCache`] first (path, size, mtime, inode → md5), so an
//! unchanged tree is not read again; the files that must be read are hashed on all cores.
use super::stat_cache::{FileStat, StatCache};
use crate::error::{KirokuError, Result};
use md5::{Digest, Md5};
use serde::Serialize;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A path's hash as `dvc.lock` records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathHash {
    /// Hex md5; a directory's ends in `.dir`.
    pub md5: String,
    /// Bytes (a directory: the sum over its files).
    pub size: u64,
    /// A directory's file count; None for a file.
    pub nfiles: Option<u64>,
    pub is_dir: bool,
}

/// Folders DVC never looks into.
const SKIPPED_DIRS: &[&str] = &[".git", ".dvc", ".hg"];

/// Hashes a file or a directory, or None when `path` does not exist.
pub fn hash_path_opt(path: &Path, cache: &mut StatCache) -> Result<Option<PathHash>> {
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(KirokuError::io(format!("reading {}", path.display()), e)),
    };
    if meta.is_dir() {
        hash_dir(path, cache).map(Some)
    } else {
        let stat = FileStat::of(&meta);
        let md5 = match cache.get(path, &stat) {
            Some(md5) => md5,
            None => {
                let md5 = md5_file(path)?;
                cache.put(&[(path.to_path_buf(), stat, md5.clone())])?;
                md5
            }
        };
        Ok(Some(PathHash {
            md5,
            size: meta.len(),
            nfiles: None,
            is_dir: false,
        }))
    }
}

/// Hashes a file or a directory; a missing path is an error.
pub fn hash_path(path: &Path, cache: &mut StatCache) -> Result<PathHash> {
    hash_path_opt(path, cache)?
        .ok_or_else(|| KirokuError::NotFound(format!("{} does not exist", path.display())))
}

/// The md5 of a file's bytes, hex.
pub fn md5_file(path: &Path) -> Result<String> {
    let mut file = fs::File::open(path)
        .map_err(|e| KirokuError::io(format!("opening {}", path.display()), e))?;
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| KirokuError::io(format!("reading {}", path.display()), e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every file under `dir` (following links, as DVC does) that `.dvcignore` does not leave out:
/// (relpath with `/`, path, stat).
pub fn walk(dir: &Path) -> Result<Vec<(String, PathBuf, FileStat)>> {
    let ignore = super::dvcignore::Ignore::for_dir(dir)?;
    let base = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mut files = Vec::new();
    let mut pending = vec![(dir.to_path_buf(), String::new())];
    while let Some((folder, prefix)) = pending.pop() {
        let entries = fs::read_dir(&folder)
            .map_err(|e| KirokuError::io(format!("listing {}", folder.display()), e))?;
        for entry in entries {
            let entry =
                entry.map_err(|e| KirokuError::io(format!("listing {}", folder.display()), e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            let meta = fs::metadata(&path)
                .map_err(|e| KirokuError::io(format!("reading {}", path.display()), e))?;
            let rel = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            let ignored = ignore.ignored(&base.join(&rel), meta.is_dir());
            if meta.is_dir() {
                if !SKIPPED_DIRS.contains(&name.as_str()) && !ignored {
                    pending.push((path, rel));
                }
            } else if !ignored {
                files.push((rel, path, FileStat::of(&meta)));
            }
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let relpaths: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
    super::dvcignore::refuse_inner_ignore(dir, &relpaths)?;
    Ok(files)
}

/// Hashes the files of `paths` in parallel (one worker per core, at most 8).
fn md5_many(paths: &[PathBuf]) -> Result<Vec<String>> {
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 8)
        .min(paths.len().max(1));
    if workers <= 1 {
        return paths.iter().map(|p| md5_file(p)).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Result<String>>>> =
        paths.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= paths.len() {
                    break;
                }
                let hashed = md5_file(&paths[i]);
                *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(hashed);
            });
        }
    });
    results
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .unwrap_or_else(|| Err(KirokuError::Invalid("a file was not hashed".into())))
        })
        .collect()
}

/// One file of a directory: its path relative to the directory (`/`-separated), on disk,
/// its size and md5.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirFile {
    pub relpath: String,
    pub path: PathBuf,
    pub size: u64,
    pub md5: String,
}

/// Every file under `dir`, sorted by relpath, with md5s from the stat cache or read afresh.
pub fn dir_files(dir: &Path, cache: &mut StatCache) -> Result<Vec<DirFile>> {
    let files = walk(dir)?;
    let mut md5s: Vec<Option<String>> = files
        .iter()
        .map(|(_, path, stat)| cache.get(path, stat))
        .collect();
    let missing: Vec<usize> = (0..files.len()).filter(|&i| md5s[i].is_none()).collect();
    if !missing.is_empty() {
        let paths: Vec<PathBuf> = missing.iter().map(|&i| files[i].1.clone()).collect();
        let hashed = md5_many(&paths)?;
        let mut rows = Vec::with_capacity(missing.len());
        for (&i, md5) in missing.iter().zip(hashed) {
            rows.push((files[i].1.clone(), files[i].2, md5.clone()));
            md5s[i] = Some(md5);
        }
        cache.put(&rows)?;
    }
    Ok(files
        .into_iter()
        .zip(md5s)
        .map(|((relpath, path, stat), md5)| DirFile {
            relpath,
            path,
            size: stat.size,
            md5: md5.unwrap_or_default(),
        })
        .collect())
}

/// The `.dir` listing of a directory's files (as [`dir_files`] returns them).
pub fn listing_of(files: &[DirFile]) -> String {
    let entries: Vec<(&str, &str)> = files
        .iter()
        .map(|f| (f.relpath.as_str(), f.md5.as_str()))
        .collect();
    dir_listing(&entries)
}

/// A directory's `.dir` hash, size and file count.
fn hash_dir(dir: &Path, cache: &mut StatCache) -> Result<PathHash> {
    let files = dir_files(dir, cache)?;
    let md5 = format!("{}.dir", hex(&Md5::digest(listing_of(&files).as_bytes())));
    Ok(PathHash {
        md5,
        size: files.iter().map(|f| f.size).sum(),
        nfiles: Some(files.len() as u64),
        is_dir: true,
    })
}

/// DVC's `.dir` listing for (relpath, md5) entries already sorted by relpath.
pub fn dir_listing(entries: &[(&str, &str)]) -> String {
    let mut out = String::from("[");
    for (i, (rel, md5)) in entries.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str("{\"md5\": ");
        push_python_json_str(&mut out, md5);
        out.push_str(", \"relpath\": ");
        push_python_json_str(&mut out, rel);
        out.push('}');
    }
    out.push(']');
    out
}

/// A string as Python's `json.dumps` writes it (ensure_ascii): `\uXXXX` for non-ASCII
/// (surrogate pairs above the BMP), the short escapes for `"`, `\` and control characters.
fn push_python_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_matches_python_json_dumps() {
        let listing = dir_listing(&[("a/é.txt", "00"), ("b\"q", "11")]);
        assert_eq!(
            listing,
            r#"[{"md5": "00", "relpath": "a/\u00e9.txt"}, {"md5": "11", "relpath": "b\"q"}]"#
        );
        assert_eq!(dir_listing(&[]), "[]");
    }

    #[test]
    fn files_and_dirs_hash_and_the_cache_answers_the_second_time() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        fs::create_dir_all(data.join("sub")).unwrap();
        fs::write(data.join("a.txt"), "hello\n").unwrap();
        fs::write(data.join("sub/b.txt"), "").unwrap();
        let mut cache = StatCache::in_memory().unwrap();
        let file = hash_path(&data.join("a.txt"), &mut cache).unwrap();
        assert_eq!(file.md5, "b1946ac92492d2347c6235b4d2611184");
        assert_eq!((file.size, file.nfiles, file.is_dir), (6, None, false));
        let tree = hash_path(&data, &mut cache).unwrap();
        assert!(tree.md5.ends_with(".dir"));
        assert_eq!((tree.size, tree.nfiles), (6, Some(2)));
        let expected = format!(
            "{}.dir",
            hex(&Md5::digest(
                dir_listing(&[
                    ("a.txt", "b1946ac92492d2347c6235b4d2611184"),
                    ("sub/b.txt", "d41d8cd98f00b204e9800998ecf8427e"),
                ])
                .as_bytes()
            ))
        );
        assert_eq!(tree.md5, expected);
        assert_eq!(hash_path(&data, &mut cache).unwrap(), tree);
        assert!(hash_path_opt(&dir.path().join("nope"), &mut cache)
            .unwrap()
            .is_none());
    }
}
