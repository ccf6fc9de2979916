//! Numbered, append-only schema migrations tracked in `PRAGMA user_version`.
//!
//! Migration N brings a database from version N-1 to N. Never edit a released migration: add
//! the next one. A database newer than `SCHEMA_VERSION` is refused rather than misread. The
//! check and the migration run in one write transaction, so processes opening a new store at
//! the same moment do not trip over each other.
use crate::error::{KirokuError, Result};
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;

const MIGRATIONS: &[&str] = &[
    include_str!("schema_v1.sql"),
    include_str!("schema_v2.sql"),
    include_str!("schema_v3.sql"),
    include_str!("schema_v4.sql"),
    include_str!("schema_v5.sql"),
    include_str!("schema_v6.sql"),
    include_str!("schema_v7.sql"),
    include_str!("schema_v8.sql"),
    include_str!("schema_v9.sql"),
    include_str!("schema_v10.sql"),
    include_str!("schema_v11.sql"),
    include_str!("schema_v12.sql"),
    include_str!("schema_v13.sql"),
    include_str!("schema_v14.sql"),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

pub fn migrate(conn: &Connection, path: &Path) -> Result<()> {
    let corrupt = |e: rusqlite::Error| KirokuError::Corrupt {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let too_new = |found| KirokuError::SchemaTooNew {
        path: path.display().to_string(),
        found,
        supported: SCHEMA_VERSION,
    };
    // Fast path without taking the write lock.
    let version = user_version(conn).map_err(corrupt)?;
    if version > SCHEMA_VERSION {
        return Err(too_new(version));
    }
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
        .map_err(corrupt)?;
    let version = user_version(&tx).map_err(corrupt)?;
    if version > SCHEMA_VERSION {
        return Err(too_new(version));
    }
    if version == 0 {
        let tables: i64 = tx
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                [],
                |r| r.get(0),
            )
            .map_err(corrupt)?;
        if tables > 0 {
            return Err(KirokuError::Corrupt {
                path: path.display().to_string(),
                reason: "it holds tables but no kiroku schema version".into(),
            });
        }
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let target = index as i64 + 1;
        tx.execute_batch(sql)
            .and_then(|_| tx.pragma_update(None, "user_version", target))
            .map_err(|e| {
                KirokuError::Database(format!(
                    "migrating {} to schema version {target}: {e}",
                    path.display()
                ))
            })?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_schema_is_refused_and_foreign_db_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.db");
        let c = Connection::open(&p).unwrap();
        c.pragma_update(None, "user_version", 99).unwrap();
        assert!(matches!(
            migrate(&c, &p),
            Err(KirokuError::SchemaTooNew { found: 99, .. })
        ));
        let p2 = dir.path().join("b.db");
        let c2 = Connection::open(&p2).unwrap();
        c2.execute_batch("CREATE TABLE x(a)").unwrap();
        assert!(matches!(
            migrate(&c2, &p2),
            Err(KirokuError::Corrupt { .. })
        ));
        let p3 = dir.path().join("c.db");
        let c3 = Connection::open(&p3).unwrap();
        migrate(&c3, &p3).unwrap();
        assert_eq!(user_version(&c3).unwrap(), SCHEMA_VERSION);
        migrate(&c3, &p3).unwrap();
    }

    #[test]
    fn a_version_1_store_migrates_keeping_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v1.db");
        let c = Connection::open(&p).unwrap();
        c.execute_batch(MIGRATIONS[0]).unwrap();
        c.pragma_update(None, "user_version", 1).unwrap();
        c.execute(
            "INSERT INTO experiments (name, created_ms, updated_ms) VALUES ('old', 1, 1)",
            [],
        )
        .unwrap();
        migrate(&c, &p).unwrap();
        assert_eq!(user_version(&c).unwrap(), SCHEMA_VERSION);
        let name: String = c
            .query_row("SELECT name FROM experiments", [], |r| r.get(0))
            .unwrap();
        assert_eq!(name, "old");
        let version: i64 = c
            .query_row(
                "SELECT value FROM store_meta WHERE key = 'version'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(version, 0);
    }

    #[test]
    fn a_version_2_store_gains_the_token_table_keeping_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v2.db");
        let c = Connection::open(&p).unwrap();
        c.execute_batch(MIGRATIONS[0]).unwrap();
        c.execute_batch(MIGRATIONS[1]).unwrap();
        c.pragma_update(None, "user_version", 2).unwrap();
        c.execute(
            "INSERT INTO experiments (name, created_ms, updated_ms) VALUES ('kept', 1, 1)",
            [],
        )
        .unwrap();
        migrate(&c, &p).unwrap();
        assert_eq!(user_version(&c).unwrap(), SCHEMA_VERSION);
        let name: String = c
            .query_row("SELECT name FROM experiments", [], |r| r.get(0))
            .unwrap();
        assert_eq!(name, "kept");
        let tokens: i64 = c
            .query_row("SELECT count(*) FROM api_tokens", [], |r| r.get(0))
            .unwrap();
        assert_eq!(tokens, 0);
    }

    #[test]
    fn a_version_3_store_gains_experiment_tags_keeping_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v3.db");
        let c = Connection::open(&p).unwrap();
        for sql in &MIGRATIONS[..3] {
            c.execute_batch(sql).unwrap();
        }
        c.pragma_update(None, "user_version", 3).unwrap();
        c.execute(
            "INSERT INTO experiments (name, description, created_ms, updated_ms) VALUES ('kept', 'about', 1, 1)",
            [],
        )
        .unwrap();
        migrate(&c, &p).unwrap();
        assert_eq!(user_version(&c).unwrap(), SCHEMA_VERSION);
        let (id, description): (i64, String) = c
            .query_row("SELECT id, description FROM experiments", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(description, "about");
        c.execute(
            "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?1, 'k', 'v')",
            [id],
        )
        .unwrap();
        let tags: i64 = c
            .query_row("SELECT count(*) FROM experiment_tags", [], |r| r.get(0))
            .unwrap();
        assert_eq!(tags, 1);
    }

    /// A store at schema `version` holding one running run named `kept`, migrated to now.
    fn migrated_from_with_a_run(dir: &Path, version: usize) -> Connection {
        let p = dir.join(format!("v{version}.db"));
        let c = Connection::open(&p).unwrap();
        for sql in &MIGRATIONS[..version] {
            c.execute_batch(sql).unwrap();
        }
        c.pragma_update(None, "user_version", version as i64)
            .unwrap();
        c.execute_batch(
            "INSERT INTO experiments (name, created_ms, updated_ms) VALUES ('e', 1, 1);
             INSERT INTO runs (id, experiment_id, name, status, user, start_ms, updated_ms)
             VALUES ('r', 1, 'kept', 'running', 'u', 1, 1);",
        )
        .unwrap();
        migrate(&c, &p).unwrap();
        assert_eq!(user_version(&c).unwrap(), SCHEMA_VERSION);
        let name: String = c
            .query_row("SELECT name FROM runs", [], |r| r.get(0))
            .unwrap();
        assert_eq!(name, "kept");
        c
    }

    #[test]
    fn a_version_4_store_gains_the_supervisor_table_keeping_its_runs() {
        let dir = tempfile::tempdir().unwrap();
        let c = migrated_from_with_a_run(dir.path(), 4);
        c.execute(
            "INSERT INTO run_supervisors (rid, host, boot_id, pid_namespace, pid, start_ticks, metrics_file)
             SELECT rid, 'h', 'b', 'pid:[1]', 1, 2, '/m' FROM runs",
            [],
        )
        .unwrap();
        let offset: i64 = c
            .query_row("SELECT ingested_to FROM run_supervisors", [], |r| r.get(0))
            .unwrap();
        assert_eq!(offset, 0);
    }

    #[test]
    fn a_version_5_store_gains_the_job_queue_keeping_its_runs() {
        let dir = tempfile::tempdir().unwrap();
        let c = migrated_from_with_a_run(dir.path(), 5);
        c.execute(
            "INSERT INTO jobs (name, experiment, target, command, workdir, gpus, user, host, status, reason, queued_ms)
             VALUES ('j', 'e', 'local', '[\"true\"]', '/', 0, 'u', 'h', 'queued', 'queued', 1)",
            [],
        )
        .unwrap();
        let (id, after): (i64, String) = c
            .query_row("SELECT id, after FROM jobs", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((id, after.as_str()), (1, "[]"));
    }

    #[test]
    fn a_version_6_store_gains_the_data_tables_keeping_its_runs() {
        let dir = tempfile::tempdir().unwrap();
        let c = migrated_from_with_a_run(dir.path(), 6);
        c.execute(
            "INSERT INTO dataset_versions (dataset, number, id, path, format, size_bytes, row_count, created_ms, created_by)
             VALUES ('train', 1, 'sha256:00', '/d', 'csv', 1, 1, 1, 'u')",
            [],
        )
        .unwrap();
        c.execute(
            "INSERT INTO data_run_inputs (rid, name, vid, path, seq) SELECT rid, 'train', 1, '/d', 1 FROM runs",
            [],
        )
        .unwrap();
        let (columns, files): (String, String) = c
            .query_row("SELECT columns, files FROM dataset_versions", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((columns.as_str(), files.as_str()), ("[]", "[]"));
    }
}
