//! Artifact files of a local store: the file in `runs/<id>/artifacts/` and its row in
//! `artifacts` change together. An upload streams into a unique temporary beside its
//! destination, then renames it into place and writes its row inside one write transaction, so
//! of concurrent uploads to one path the last to commit wins both the file and the record (the
//! recorded hash is always the final file's). Paths are walked without following links
//! (`store::run_files`).
use super::{active_rid_of, SqliteStore};
use crate::error::{KirokuError, Result};
use crate::ingest::files::{copy_hashing, safe_relative};
use crate::model::Artifact;
use crate::store::run_files::{artifact_error, is_absent, RunFiles};
use crate::store::ArtifactStore;
use rusqlite::{params, Connection};
use std::io::{Read, Write};
use std::path::PathBuf;

impl SqliteStore {
    fn run_folder(&self, id: &str) -> PathBuf {
        self.dir().join("runs").join(id)
    }
}

/// Writes (or replaces) the record of a run's artifact.
fn record(conn: &Connection, rid: i64, artifact: &Artifact) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO artifacts (rid, path, size, hash, stored, location) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![rid, artifact.path, artifact.size, artifact.hash, artifact.stored, artifact.location])?;
    Ok(())
}

impl ArtifactStore for SqliteStore {
    fn add_artifact(&self, id: &str, artifact: &Artifact) -> Result<()> {
        self.write(|tx| {
            let rid = active_rid_of(tx, id)?;
            record(tx, rid, artifact)
        })
    }

    fn upload_artifact(
        &self,
        id: &str,
        path: &str,
        mut data: Box<dyn Read + Send>,
        location: Option<&str>,
    ) -> Result<Artifact> {
        let rel = safe_relative(path)?;
        let rel_text = rel.to_string_lossy().replace('\\', "/");
        // Refuse unknown and deleted runs before reading a byte.
        self.read(|c| active_rid_of(c, id))?;
        let run_dir = self.run_folder(id);
        std::fs::create_dir_all(&run_dir)
            .map_err(|e| KirokuError::io(format!("creating the folder of run {id}"), e))?;
        let files =
            RunFiles::open(&run_dir, "artifacts", true).map_err(|e| artifact_error(e, path))?;
        let mut partial = files
            .create_partial(&rel)
            .map_err(|e| artifact_error(e, path))?;
        let (size, hash) = copy_hashing(&mut data, Some(partial.file() as &mut dyn Write))
            .map_err(|e| KirokuError::io(format!("storing artifact '{path}'"), e))?;
        // On disk before it is renamed into place and recorded: a crash cannot leave a
        // recorded hash over an empty file.
        partial
            .file()
            .sync_data()
            .map_err(|e| KirokuError::io(format!("storing artifact '{path}'"), e))?;
        let artifact = Artifact {
            path: rel_text,
            size: Some(size),
            hash: Some(hash),
            stored: "copied".into(),
            location: location.map(str::to_string),
        };
        self.write(|tx| {
            let rid = active_rid_of(tx, id)?;
            // Under the write lock: whoever renames last also writes the row last.
            partial.commit().map_err(|e| artifact_error(e, path))?;
            record(tx, rid, &artifact)
        })?;
        Ok(artifact)
    }

    fn delete_artifact(&self, id: &str, path: &str) -> Result<()> {
        let rel = safe_relative(path)?;
        let rel_text = rel.to_string_lossy().replace('\\', "/");
        let run_dir = self.run_folder(id);
        self.write(|tx| {
            let rid = active_rid_of(tx, id)?;
            let removed = match RunFiles::open(&run_dir, "artifacts", false)
                .and_then(|files| files.remove(&rel))
            {
                Ok(()) => true,
                // Missing, or reached only through a link or a file: nothing of this run's there.
                Err(e) if is_absent(&e) => false,
                Err(e) => return Err(artifact_error(e, path)),
            };
            let rows = tx.execute(
                "DELETE FROM artifacts WHERE rid = ?1 AND (path = ?2 OR substr(path, 1, length(?2) + 1) = ?2 || '/')",
                params![rid, rel_text],
            )?;
            if !removed && rows == 0 {
                return Err(KirokuError::NotFound(format!("no artifact at '{path}'")));
            }
            Ok(())
        })
    }
}
