//! DVC's own local cache (`.dvc/cache/files/md5/ab/cdef…`), filled with a stage's cached
//! outputs so that `dvc status` finds them ("not in cache" otherwise) after kiroku ran the
//! stage and wrote `dvc.lock`. Only in a DVC project (a `.dvc` folder); elsewhere a no-op.
//!
//! A file goes in under its md5; a directory's `.dir` listing under its hash (with the
//! `.dir` suffix) and each of its files under theirs. Objects are copied (never linked, so the
//! workspace stays writable) and made read-only as DVC makes them; an object already present
//! is left alone.
use super::definition::Stage;
use super::hash::{dir_files, hash_path_opt, listing_of};
use super::stat_cache::StatCache;
use crate::error::{KirokuError, Result};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The project's DVC cache folder: `cache.dir` from `.dvc/config.local` or `.dvc/config`
/// (relative to `.dvc`), else `.dvc/cache`; None when `root` is not a DVC project.
pub fn cache_dir(root: &Path) -> Option<PathBuf> {
    let dvc = root.join(".dvc");
    if !dvc.is_dir() {
        return None;
    }
    for name in ["config.local", "config"] {
        if let Ok(text) = fs::read_to_string(dvc.join(name)) {
            if let Some(dir) = ini_value(&text, "cache", "dir") {
                return Some(dvc.join(dir));
            }
        }
    }
    Some(dvc.join("cache"))
}

/// `key = value` in `[section]` of DVC's ini-style config.
fn ini_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut current = String::new();
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.trim().trim_matches('\'').trim_matches('"').to_string();
        } else if current == section {
            if let Some((k, v)) = line.split_once('=') {
                if k.trim() == key {
                    return Some(v.trim().to_string());
                }
            }
        }
    }
    None
}

fn object_path(cache: &Path, md5: &str) -> PathBuf {
    cache.join("files/md5").join(&md5[..2]).join(&md5[2..])
}

fn put_object(
    cache: &Path,
    md5: &str,
    write: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<()> {
    let target = object_path(cache, md5);
    if target.exists() {
        return Ok(());
    }
    let parent = target.parent().unwrap_or(cache);
    fs::create_dir_all(parent)
        .map_err(|e| KirokuError::io(format!("creating {}", parent.display()), e))?;
    let tmp = target.with_extension(format!("tmp{}", std::process::id()));
    write(&tmp).map_err(|e| KirokuError::io(format!("writing {}", tmp.display()), e))?;
    let _ = fs::set_permissions(&tmp, fs::Permissions::from_mode(0o444));
    fs::rename(&tmp, &target)
        .map_err(|e| KirokuError::io(format!("writing {}", target.display()), e))
}

/// Copies a stage's cached outputs (`cache: true`) into the project's DVC cache.
pub fn commit_outputs(root: &Path, stage: &Stage, stat_cache: &mut StatCache) -> Result<()> {
    let Some(cache) = cache_dir(root) else {
        return Ok(());
    };
    for out in stage.outs.iter().filter(|o| o.cache) {
        let path = stage.path_on_disk(root, &out.path);
        let Some(hash) = hash_path_opt(&path, stat_cache)? else {
            continue;
        };
        if hash.is_dir {
            let files = dir_files(&path, stat_cache)?;
            for file in &files {
                put_object(&cache, &file.md5, |tmp| {
                    fs::copy(&file.path, tmp).map(|_| ())
                })?;
            }
            let listing = listing_of(&files);
            put_object(&cache, &hash.md5, |tmp| fs::write(tmp, listing.as_bytes()))?;
        } else {
            put_object(&cache, &hash.md5, |tmp| fs::copy(&path, tmp).map(|_| ()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_folder_follows_the_config() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(cache_dir(dir.path()), None);
        fs::create_dir(dir.path().join(".dvc")).unwrap();
        assert_eq!(cache_dir(dir.path()), Some(dir.path().join(".dvc/cache")));
        fs::write(
            dir.path().join(".dvc/config"),
            "[core]\n    remote = x\n[cache]\n    dir = ../shared-cache\n",
        )
        .unwrap();
        assert_eq!(
            cache_dir(dir.path()),
            Some(dir.path().join(".dvc/../shared-cache"))
        );
    }
}
