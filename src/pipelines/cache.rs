//! Stage outputs in and out of the store's content cache (`store::PipelineStore`), and the
//! run-cache key of a stage execution.
//!
//! A file output is one object named by its md5. A directory output is its files' objects plus
//! its DVC `.dir` listing (`[{"md5", "relpath"}]`), an object of its own named `<md5>.dir`:
//! restoring one reads the listing and writes each file. Only the objects the store lacks are
//! sent (one batch question first). Restored files are written beside their place and renamed
//! into it, so a reader never sees half a file.
//!
//! The run-cache key is DVC's idea: sha256 over what decides a stage's result (the command,
//! every dependency's path and hash, the tracked params' values, the outputs' paths), here
//! over one canonical JSON text of them.
use crate::error::{KirokuError, Result};
use crate::model::pipeline::CachedOut;
use crate::store::Store;
use serde::Deserialize;
use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// One entry of a `.dir` listing.
#[derive(Debug, Deserialize)]
pub(super) struct ListingEntry {
    pub(super) md5: String,
    relpath: String,
}

/// The run-cache key of an execution: `cmd` (the command lines), `deps` (path from the root
/// and md5, any order), `params` (`{file: {key: value}}`), `outs` (paths from the root).
pub fn run_cache_key(
    cmd: &[String],
    deps: &[(String, String)],
    params: &Json,
    outs: &[String],
) -> String {
    let mut deps: Vec<&(String, String)> = deps.iter().collect();
    deps.sort();
    let mut outs: Vec<&String> = outs.iter().collect();
    outs.sort();
    let text = json!({"cmd": cmd, "deps": deps, "params": params, "outs": outs}).to_string();
    crate::fsutil::hex(&Sha256::digest(text.as_bytes()))
}

/// Sends to the store whichever of `objects` (id, file on disk) it lacks.
fn push_objects(store: &dyn Store, objects: &[(String, PathBuf)]) -> Result<()> {
    let ids: Vec<String> = objects.iter().map(|(id, _)| id.clone()).collect();
    let present = store.has_objects(&ids)?;
    for ((id, path), present) in objects.iter().zip(present) {
        if present {
            continue;
        }
        let file = std::fs::File::open(path)
            .map_err(|e| KirokuError::io(format!("caching {}", path.display()), e))?;
        store.put_object(id, Box::new(file))?;
    }
    Ok(())
}

/// Caches a file output whose md5 is `md5`.
pub fn push_file(store: &dyn Store, path: &Path, md5: &str) -> Result<()> {
    push_objects(store, &[(md5.to_string(), path.to_path_buf())])
}

/// Caches a directory output: its files (`entries`: relpath and md5, sorted by relpath, as
/// the listing has them) and its listing text, whose md5 must be `dir_md5` (`<hex>.dir`).
pub fn push_tree(
    store: &dyn Store,
    dir: &Path,
    entries: &[(String, String)],
    listing: &str,
    dir_md5: &str,
) -> Result<()> {
    let listing_md5 = format!(
        "{}.dir",
        crate::fsutil::hex(&md5::Md5::digest(listing.as_bytes()))
    );
    if listing_md5 != dir_md5 {
        return Err(KirokuError::Invalid(format!(
            "{} changed while it was being cached (its listing is {listing_md5}, not {dir_md5})",
            dir.display()
        )));
    }
    let mut objects: Vec<(String, PathBuf)> = Vec::with_capacity(entries.len());
    let mut seen = std::collections::HashSet::new();
    for (rel, md5) in entries {
        if seen.insert(md5.clone()) {
            objects.push((md5.clone(), dir.join(rel)));
        }
    }
    push_objects(store, &objects)?;
    if !store.has_objects(&[dir_md5.to_string()])?[0] {
        store.put_object(
            dir_md5,
            Box::new(std::io::Cursor::new(listing.as_bytes().to_vec())),
        )?;
    }
    Ok(())
}

/// Whether the store holds everything needed to restore `out` (a directory's files too).
pub fn can_restore(store: &dyn Store, out: &CachedOut) -> Result<bool> {
    if !out.md5.ends_with(".dir") {
        return Ok(store.has_objects(std::slice::from_ref(&out.md5))?[0]);
    }
    let Some(entries) = read_listing(store, &out.md5)? else {
        return Ok(false);
    };
    let ids: Vec<String> = entries.into_iter().map(|e| e.md5).collect();
    Ok(store.has_objects(&ids)?.into_iter().all(|p| p))
}

/// A directory object's listing, None when the store lacks it.
pub(super) fn read_listing(store: &dyn Store, dir_md5: &str) -> Result<Option<Vec<ListingEntry>>> {
    let mut reader = match store.open_object(dir_md5) {
        Ok(reader) => reader,
        Err(KirokuError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut text = String::new();
    std::io::Read::read_to_string(&mut reader, &mut text)
        .map_err(|e| KirokuError::io(format!("reading cache object {dir_md5}"), e))?;
    let entries: Vec<ListingEntry> =
        serde_json::from_str(&text).map_err(|e| KirokuError::Corrupt {
            path: format!("cache object {dir_md5}"),
            reason: format!("not a directory listing: {e}"),
        })?;
    Ok(Some(entries))
}

/// Writes object `md5` to `dest` (folders made), through a temporary beside it.
fn restore_file(store: &dyn Store, md5: &str, dest: &Path) -> Result<()> {
    let io = |e| KirokuError::io(format!("restoring {}", dest.display()), e);
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dest.with_file_name(format!(".{name}.kiroku-restore-{}", std::process::id()));
    let result = (|| {
        let mut reader = store.open_object(md5)?;
        let mut file = std::fs::File::create(&tmp).map_err(io)?;
        std::io::copy(&mut reader, &mut file).map_err(io)?;
        drop(file);
        remove_path(dest)?;
        std::fs::rename(&tmp, dest).map_err(io)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Restores output `out` at `dest` (replacing what is there).
pub fn restore_output(store: &dyn Store, out: &CachedOut, dest: &Path) -> Result<()> {
    if !out.md5.ends_with(".dir") {
        return restore_file(store, &out.md5, dest);
    }
    let entries = read_listing(store, &out.md5)?
        .ok_or_else(|| KirokuError::NotFound(format!("the cache holds no object {}", out.md5)))?;
    remove_path(dest)?;
    std::fs::create_dir_all(dest)
        .map_err(|e| KirokuError::io(format!("restoring {}", dest.display()), e))?;
    for entry in entries {
        let rel = crate::fsutil::safe_relative(&entry.relpath)?;
        restore_file(store, &entry.md5, &dest.join(rel))?;
    }
    Ok(())
}

/// Removes a file or a whole folder; nothing there is fine.
pub fn remove_path(path: &Path) -> Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(KirokuError::io(format!("removing {}", path.display()), e)),
    };
    let removed = if meta.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    removed.map_err(|e| KirokuError::io(format!("removing {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    fn md5_hex(bytes: &[u8]) -> String {
        crate::fsutil::hex(&md5::Md5::digest(bytes))
    }

    #[test]
    fn files_and_trees_go_in_and_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join(".kiroku"), false).unwrap();
        let work = dir.path().join("work");
        std::fs::create_dir_all(work.join("model/sub")).unwrap();
        std::fs::write(work.join("a.txt"), "hello\n").unwrap();
        std::fs::write(work.join("model/w.bin"), "weights").unwrap();
        std::fs::write(work.join("model/sub/x"), "hello\n").unwrap();
        let a = md5_hex(b"hello\n");
        push_file(&store, &work.join("a.txt"), &a).unwrap();
        let entries = vec![
            ("sub/x".to_string(), a.clone()),
            ("w.bin".to_string(), md5_hex(b"weights")),
        ];
        let listing = format!(
            "[{{\"md5\": \"{}\", \"relpath\": \"sub/x\"}}, {{\"md5\": \"{}\", \"relpath\": \"w.bin\"}}]",
            entries[0].1, entries[1].1
        );
        let dir_md5 = format!("{}.dir", md5_hex(listing.as_bytes()));
        push_tree(&store, &work.join("model"), &entries, &listing, &dir_md5).unwrap();
        assert!(push_tree(&store, &work.join("model"), &entries, "[]", &dir_md5).is_err());
        let out = |path: &str, md5: &str| CachedOut {
            path: path.into(),
            md5: md5.into(),
            size: 0,
            nfiles: None,
        };
        assert!(can_restore(&store, &out("model", &dir_md5)).unwrap());
        std::fs::remove_dir_all(&work).unwrap();
        restore_output(&store, &out("a.txt", &a), &work.join("a.txt")).unwrap();
        std::fs::create_dir_all(work.join("model/stale")).unwrap();
        restore_output(&store, &out("model", &dir_md5), &work.join("model")).unwrap();
        assert_eq!(
            std::fs::read_to_string(work.join("a.txt")).unwrap(),
            "hello\n"
        );
        assert_eq!(
            std::fs::read_to_string(work.join("model/w.bin")).unwrap(),
            "weights"
        );
        assert_eq!(
            std::fs::read_to_string(work.join("model/sub/x")).unwrap(),
            "hello\n"
        );
        assert!(!work.join("model/stale").exists());
        let missing = out("b", &md5_hex(b"never stored"));
        assert!(!can_restore(&store, &missing).unwrap());
    }

    #[test]
    fn the_run_cache_key_ignores_order_and_sees_every_part() {
        let deps = vec![
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "2".to_string()),
        ];
        let rev: Vec<_> = deps.iter().rev().cloned().collect();
        let cmd = vec!["python train.py".to_string()];
        let params = json!({"params.yaml": {"lr": 0.1}});
        let outs = vec!["m".to_string()];
        let key = run_cache_key(&cmd, &deps, &params, &outs);
        assert_eq!(key, run_cache_key(&cmd, &rev, &params, &outs));
        assert_eq!(key.len(), 64);
        assert_ne!(key, run_cache_key(&["x".into()], &deps, &params, &outs));
        assert_ne!(key, run_cache_key(&cmd, &deps[..1], &params, &outs));
        assert_ne!(
            key,
            run_cache_key(&cmd, &deps, &json!({"params.yaml": {"lr": 0.2}}), &outs)
        );
        assert_ne!(key, run_cache_key(&cmd, &deps, &params, &["n".into()]));
    }
}
