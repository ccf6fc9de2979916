//! The pipelines' cache in a local store: content objects as files under the store folder's
//! `cache/files/md5/` (DVC 3's layout: `ab/cdef…`, a directory listing `ab/cdef….dir`), the
//! run-cache as rows of `pipeline_run_cache`.
//!
//! An object streams into a unique temporary in `cache/tmp/`, hashed on the way; it is renamed
//! into place only when its md5 is the one claimed, so a reader never sees a partial or wrong
//! object, and two writers of the same object both leave the same bytes.
use super::SqliteStore;
use crate::error::{KirokuError, Result};
use crate::model::now_ms;
use crate::model::pipeline::{is_object_id, is_run_cache_key, CachedOut, RunCacheEntry};
use crate::store::PipelineStore;
use md5::{Digest, Md5};
use rusqlite::{params, OptionalExtension};
use std::io::{Read, Write};
use std::path::PathBuf;

/// Refuses a string that names no object.
pub(crate) fn check_object_id(id: &str) -> Result<()> {
    if is_object_id(id) {
        Ok(())
    } else {
        Err(KirokuError::Invalid(format!(
            "'{id}' is no cache object id (32 hex digits, with .dir for a directory)"
        )))
    }
}

fn check_key(key: &str) -> Result<()> {
    if is_run_cache_key(key) {
        Ok(())
    } else {
        Err(KirokuError::Invalid(format!(
            "'{key}' is no run-cache key (64 hex digits)"
        )))
    }
}

impl SqliteStore {
    fn cache_folder(&self) -> PathBuf {
        self.dir().join("cache")
    }

    /// Where object `id` (already checked) lives.
    fn object_path(&self, id: &str) -> PathBuf {
        self.cache_folder()
            .join("files/md5")
            .join(&id[..2])
            .join(&id[2..])
    }
}

/// Copies `data` into `out`, returning its size and md5 (hex).
fn copy_md5(data: &mut dyn Read, out: &mut dyn Write) -> std::io::Result<(u64, String)> {
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = match data.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])?;
        size += n as u64;
    }
    Ok((size, crate::fsutil::hex(&hasher.finalize())))
}

/// Numbers this process's temporaries.
static PARTIALS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A temporary object file, removed unless renamed into place.
struct Partial(PathBuf);

impl Drop for Partial {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl PipelineStore for SqliteStore {
    fn has_objects(&self, ids: &[String]) -> Result<Vec<bool>> {
        ids.iter()
            .map(|id| {
                check_object_id(id)?;
                Ok(self.object_path(id).is_file())
            })
            .collect()
    }

    fn put_object(&self, id: &str, mut data: Box<dyn Read + Send>) -> Result<u64> {
        check_object_id(id)?;
        let io = |e| KirokuError::io(format!("storing cache object {id}"), e);
        let tmp_dir = self.cache_folder().join("tmp");
        std::fs::create_dir_all(&tmp_dir).map_err(io)?;
        let tmp = Partial(tmp_dir.join(format!(
            "{}-{}-{}",
            std::process::id(),
            PARTIALS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            crate::ids::new_run_id()
        )));
        let mut file = std::fs::File::create(&tmp.0).map_err(io)?;
        let (size, md5) = copy_md5(&mut data, &mut file).map_err(io)?;
        let hex = id.strip_suffix(".dir").unwrap_or(id);
        if md5 != hex {
            return Err(KirokuError::Invalid(format!(
                "cache object {id}: the content's md5 is {md5}"
            )));
        }
        let dest = self.object_path(id);
        if dest.is_file() {
            return Ok(size);
        }
        std::fs::create_dir_all(dest.parent().expect("objects live in a folder")).map_err(io)?;
        // Objects are read-only, as DVC leaves them.
        use std::os::unix::fs::PermissionsExt;
        let _ = file.set_permissions(std::fs::Permissions::from_mode(0o444));
        drop(file);
        std::fs::rename(&tmp.0, &dest).map_err(io)?;
        Ok(size)
    }

    fn open_object(&self, id: &str) -> Result<Box<dyn Read + Send>> {
        check_object_id(id)?;
        match std::fs::File::open(self.object_path(id)) {
            Ok(file) => Ok(Box::new(file)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(KirokuError::NotFound(
                format!("the cache holds no object {id}"),
            )),
            Err(e) => Err(KirokuError::io(format!("reading cache object {id}"), e)),
        }
    }

    fn object_file(&self, id: &str) -> Result<Option<PathBuf>> {
        check_object_id(id)?;
        let path = self.object_path(id);
        if !path.is_file() {
            return Err(KirokuError::NotFound(format!(
                "the cache holds no object {id}"
            )));
        }
        Ok(Some(path))
    }

    fn list_objects(&self) -> Result<Vec<(String, u64)>> {
        let root = self.cache_folder().join("files/md5");
        let io = |e| KirokuError::io(format!("listing {}", root.display()), e);
        let mut objects = Vec::new();
        let prefixes = match std::fs::read_dir(&root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(objects),
            Err(e) => return Err(io(e)),
        };
        for prefix in prefixes {
            let prefix = prefix.map_err(io)?;
            let head = prefix.file_name().to_string_lossy().into_owned();
            if !prefix.file_type().map_err(io)?.is_dir() {
                continue;
            }
            for object in std::fs::read_dir(prefix.path()).map_err(io)? {
                let object = object.map_err(io)?;
                let id = format!("{head}{}", object.file_name().to_string_lossy());
                let meta = object.metadata().map_err(io)?;
                if meta.is_file() && is_object_id(&id) {
                    objects.push((id, meta.len()));
                }
            }
        }
        objects.sort();
        Ok(objects)
    }

    fn delete_objects(&self, ids: &[String]) -> Result<u64> {
        let mut freed = 0;
        for id in ids {
            check_object_id(id)?;
            let path = self.object_path(id);
            let size = match std::fs::metadata(&path) {
                Ok(meta) => meta.len(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(KirokuError::io(format!("reading {}", path.display()), e)),
            };
            match std::fs::remove_file(&path) {
                Ok(()) => freed += size,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(KirokuError::io(format!("removing {}", path.display()), e)),
            }
        }
        Ok(freed)
    }

    fn record_run_cache(&self, entry: &RunCacheEntry) -> Result<()> {
        check_key(&entry.key)?;
        for out in &entry.outs {
            check_object_id(&out.md5)?;
        }
        let outs = serde_json::to_string(&entry.outs)
            .map_err(|e| KirokuError::Invalid(format!("run-cache outputs: {e}")))?;
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO pipeline_run_cache (key, stage, outs, run_id, user, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![entry.key, entry.stage, outs, entry.run_id, entry.user, now_ms()])?;
            Ok(())
        })
    }

    fn run_cache_entry(&self, key: &str) -> Result<Option<RunCacheEntry>> {
        check_key(key)?;
        let row = self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT stage, outs, run_id, user, created_ms FROM pipeline_run_cache WHERE key = ?1",
            )?
            .query_row([key], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })
            .optional()?)
        })?;
        row.map(|(stage, outs, run_id, user, created_at)| {
            let outs: Vec<CachedOut> = serde_json::from_str(&outs).map_err(|e| {
                KirokuError::Database(format!("run-cache entry {key}: unreadable outputs: {e}"))
            })?;
            Ok(RunCacheEntry {
                key: key.to_string(),
                stage,
                outs,
                run_id,
                user,
                created_at,
            })
        })
        .transpose()
    }
}
