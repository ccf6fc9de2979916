//! The stat cache: (path, size, mtime, inode) → md5, so a file that has not changed since it was
//! hashed is not read again.
//!
//! It lives in the store's SQLite file when the store is local (the `pipeline_stat_cache`
//! table), and in a machine-local SQLite file under the user cache folder when the store is
//! remote (a remote server cannot know this machine's inodes). Rows are read once, on the first
//! look-up, into memory; new hashes are written back in one transaction per batch. A row whose
//! stat does not match the file is a miss, and is replaced when the file is hashed again.
use crate::error::{KirokuError, Result};
use crate::store::discover::StoreLocation;
use crate::store::sqlite::PIPELINE_STAT_CACHE_SQL;
use crate::user_dirs::UserDir;
use rusqlite::Connection;
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What identifies a file's content without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    pub size: u64,
    pub mtime_ns: i64,
    pub inode: u64,
}

impl FileStat {
    pub fn of(meta: &std::fs::Metadata) -> FileStat {
        FileStat {
            size: meta.len(),
            mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
            inode: meta.ino(),
        }
    }
}

/// The machine-local stat cache file's name under the user cache folder.
const LOCAL_FILE: &str = "pipeline-stat-cache.sqlite";

/// A stat cache, backed by SQLite (or memory only, for tests and one-off hashing).
pub struct StatCache {
    conn: Option<Connection>,
    rows: Option<HashMap<PathBuf, (FileStat, String)>>,
}

impl StatCache {
    /// A cache that forgets everything when dropped.
    pub fn in_memory() -> Result<StatCache> {
        Ok(StatCache {
            conn: None,
            rows: Some(HashMap::new()),
        })
    }

    /// Opens (creating the table when missing) the cache in SQLite file `db`.
    pub fn open(db: &Path) -> Result<StatCache> {
        if let Some(parent) = db.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| KirokuError::io(format!("creating {}", parent.display()), e))?;
        }
        let fail =
            |e: rusqlite::Error| KirokuError::Database(format!("stat cache {}: {e}", db.display()));
        let conn = Connection::open(db).map_err(fail)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(fail)?;
        conn.execute_batch(PIPELINE_STAT_CACHE_SQL).map_err(fail)?;
        Ok(StatCache {
            conn: Some(conn),
            rows: None,
        })
    }

    /// The cache for a store: its own database when local and present, else the
    /// machine-local file under the user cache folder (in memory when there is no such folder).
    pub fn for_store(location: Option<&StoreLocation>) -> Result<StatCache> {
        if let Some(StoreLocation::Local(dir)) = location {
            let db = dir.join("kiroku.db");
            if db.is_file() {
                return StatCache::open(&db);
            }
        }
        match UserDir::Cache.path() {
            Some(dir) => StatCache::open(&dir.join(LOCAL_FILE)),
            None => StatCache::in_memory(),
        }
    }

    fn rows(&mut self) -> &mut HashMap<PathBuf, (FileStat, String)> {
        if self.rows.is_none() {
            let mut rows = HashMap::new();
            if let Some(conn) = &self.conn {
                // An unreadable cache is an empty one: everything is hashed again.
                if let Ok(mut stmt) =
                    conn.prepare("SELECT path, size, mtime_ns, inode, md5 FROM pipeline_stat_cache")
                {
                    let read = stmt.query_map([], |r| {
                        Ok((
                            PathBuf::from(r.get::<_, String>(0)?),
                            FileStat {
                                size: r.get::<_, i64>(1)? as u64,
                                mtime_ns: r.get(2)?,
                                inode: r.get::<_, i64>(3)? as u64,
                            },
                            r.get::<_, String>(4)?,
                        ))
                    });
                    if let Ok(read) = read {
                        for (path, stat, md5) in read.flatten() {
                            rows.insert(path, (stat, md5));
                        }
                    }
                }
            }
            self.rows = Some(rows);
        }
        self.rows.get_or_insert_with(HashMap::new)
    }

    /// The md5 recorded for `path` when its stat still matches.
    pub fn get(&mut self, path: &Path, stat: &FileStat) -> Option<String> {
        match self.rows().get(path) {
            Some((recorded, md5)) if recorded == stat => Some(md5.clone()),
            _ => None,
        }
    }

    /// Records fresh hashes.
    pub fn put(&mut self, entries: &[(PathBuf, FileStat, String)]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let rows = self.rows();
        for (path, stat, md5) in entries {
            rows.insert(path.clone(), (*stat, md5.clone()));
        }
        let Some(conn) = &mut self.conn else {
            return Ok(());
        };
        let fail = |e: rusqlite::Error| KirokuError::Database(format!("stat cache: {e}"));
        let tx = conn.transaction().map_err(fail)?;
        {
            let mut stmt = tx
                .prepare(
                    "INSERT OR REPLACE INTO pipeline_stat_cache (path, size, mtime_ns, inode, md5) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(fail)?;
            for (path, stat, md5) in entries {
                stmt.execute(rusqlite::params![
                    path.to_string_lossy(),
                    stat.size as i64,
                    stat.mtime_ns,
                    stat.inode as i64,
                    md5
                ])
                .map_err(fail)?;
            }
        }
        tx.commit().map_err(fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_survive_reopening_and_a_changed_stat_misses() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("cache.sqlite");
        let stat = FileStat {
            size: 3,
            mtime_ns: 42,
            inode: 7,
        };
        let path = dir.path().join("f");
        StatCache::open(&db)
            .unwrap()
            .put(&[(path.clone(), stat, "abc".into())])
            .unwrap();
        let mut again = StatCache::open(&db).unwrap();
        assert_eq!(again.get(&path, &stat).as_deref(), Some("abc"));
        let touched = FileStat {
            mtime_ns: 43,
            ..stat
        };
        assert_eq!(again.get(&path, &touched), None);
    }
}
