//! `DataStore` in SQLite: `dataset_versions`, `data_run_inputs`, `check_runs` with
//! `check_run_datasets` and `check_results`, and `reviews` (schema v7).
//!
//! Registering a version, recording a check run and adding a review are each one write
//! transaction that also records an activity event (`dataset.version_added`, `check.recorded`,
//! `review.approved|waived|rejected`). Numbering a version reads the dataset's highest number in
//! the same transaction, so two processes registering at once cannot take the same number. What
//! a review covers is decided by `store::checks_gate`, which the `awaiting_review` listing uses.
use super::events::record_event;
use super::jobs::{conversion_failure, json_column, to_json};
use super::SqliteStore;
use crate::error::{KirokuError, Result};
use crate::limits;
use crate::model::data::{DatasetVersion, RunInput};
use crate::model::*;
use crate::store::checks_gate;
use crate::store::DataStore;
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};

/// The columns `version_of_row` reads, in its order.
const VERSION_COLUMNS: &str = "id, dataset, number, path, format, size_bytes, row_count, columns,
    files, created_ms, created_by, source";

fn parse_column<T: std::str::FromStr<Err = String>>(
    row: &Row,
    column: usize,
) -> rusqlite::Result<T> {
    let text: String = row.get(column)?;
    text.parse()
        .map_err(|e: String| conversion_failure(column, e))
}

/// A count stored as SQLite's signed integer.
fn stored_count(n: u64) -> i64 {
    n.min(i64::MAX as u64) as i64
}

fn version_of_row(r: &Row) -> rusqlite::Result<DatasetVersion> {
    let format: String = r.get(4)?;
    Ok(DatasetVersion {
        id: r.get(0)?,
        dataset: r.get(1)?,
        number: r.get(2)?,
        path: r.get(3)?,
        format: serde_json::from_value(serde_json::Value::String(format))
            .map_err(|e| conversion_failure(4, e))?,
        size_bytes: r.get::<_, i64>(5)? as u64,
        row_count: r.get::<_, i64>(6)? as u64,
        columns: json_column(r, 7)?,
        files: json_column(r, 8)?,
        created_at: r.get(9)?,
        created_by: r.get(10)?,
        source: r.get(11)?,
    })
}

fn select_versions(conn: &Connection, filter: &str, args: &[Value]) -> Result<Vec<DatasetVersion>> {
    let sql = format!("SELECT {VERSION_COLUMNS} FROM dataset_versions WHERE {filter}");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(args.iter()), version_of_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn read_versions(conn: &Connection, name: &str) -> Result<Vec<DatasetVersion>> {
    let versions = select_versions(
        conn,
        "dataset = ?1 ORDER BY number",
        &[Value::Text(name.into())],
    )?;
    if versions.is_empty() {
        return Err(KirokuError::NotFound(format!("no dataset named {name}")));
    }
    Ok(versions)
}

/// Checks what `add_dataset_version` is given: a valid name, an id with a scheme
/// (`sha256:<hex>`, `mlflow:<digest>`), an acting user within bounds.
fn check_new_version(version: &DatasetVersion) -> Result<()> {
    limits::dataset_name(&version.dataset)?;
    limits::user_name(&version.created_by)?;
    let id = &version.id;
    let well_formed = match id.split_once(':') {
        Some(("sha256", hex)) => hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        Some((scheme, rest)) => {
            !scheme.is_empty()
                && !rest.is_empty()
                && id.len() <= 200
                && id.chars().all(|c| c.is_ascii_graphic() && c != '@')
        }
        None => false,
    };
    if !well_formed {
        return Err(KirokuError::Invalid(format!(
            "dataset version id '{}' is not 'sha256:' and 64 hex digits (or 'SOURCE:DIGEST' for a version from elsewhere)",
            id.escape_debug()
        )));
    }
    Ok(())
}

/// `NAME@N`, `NAME@latest`, `NAME@<id prefix>`, `NAME` or an id prefix, resolved.
fn resolve_version(conn: &Connection, reference: &str) -> Result<DatasetVersion> {
    let reference = reference.trim();
    let (name, selector) = match reference.split_once('@') {
        Some((name, selector)) => (Some(name), selector),
        None if reference.contains(':') => (None, reference),
        None => (Some(reference), "latest"),
    };
    if let Some(name) = name {
        let versions = read_versions(conn, name)?;
        if selector == "latest" {
            return Ok(versions.last().cloned().expect("a dataset has a version"));
        }
        if let Ok(number) = selector.parse::<i64>() {
            return versions
                .iter()
                .find(|v| v.number == number)
                .cloned()
                .ok_or_else(|| {
                    KirokuError::NotFound(format!(
                        "dataset {name} has no version {number} (it has 1 to {})",
                        versions.len()
                    ))
                });
        }
        let matching: Vec<_> = versions
            .into_iter()
            .filter(|v| v.id.starts_with(selector))
            .collect();
        return one_version(reference, matching);
    }
    let (scheme, digits) = selector.split_once(':').unwrap_or(("", selector));
    if scheme.is_empty() || digits.len() < 4 {
        return Err(KirokuError::Invalid(format!(
            "'{reference}' is too short to name a dataset version (give NAME, NAME@N or at least 4 digits of its id, as in sha256:1a2b)"
        )));
    }
    // A prefix match by range, so the id index serves it and LIKE's wildcards mean nothing.
    let matching = select_versions(
        conn,
        "id >= ?1 AND id < ?2 ORDER BY dataset, number",
        &[
            Value::Text(selector.into()),
            Value::Text(format!("{selector}\u{10FFFF}")),
        ],
    )?;
    one_version(reference, matching)
}

fn one_version(reference: &str, mut matching: Vec<DatasetVersion>) -> Result<DatasetVersion> {
    match matching.len() {
        0 => Err(KirokuError::NotFound(format!(
            "no dataset version matches '{reference}'"
        ))),
        1 => Ok(matching.remove(0)),
        _ => Err(KirokuError::Ambiguous {
            reference: reference.to_string(),
            candidates: matching
                .iter()
                .map(|v| format!("{}@{} {}", v.dataset, v.number, v.id))
                .collect(),
        }),
    }
}

fn insert_version(conn: &Connection, version: &DatasetVersion) -> Result<DatasetVersion> {
    let number: i64 = conn
        .prepare_cached(
            "SELECT coalesce(max(number), 0) + 1 FROM dataset_versions WHERE dataset = ?1",
        )?
        .query_row([&version.dataset], |r| r.get(0))?;
    conn.prepare_cached(
        "INSERT INTO dataset_versions (dataset, number, id, path, format, size_bytes, row_count,
            columns, files, created_ms, created_by, source)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        version.dataset,
        number,
        version.id,
        version.path,
        version.format.as_str(),
        stored_count(version.size_bytes),
        stored_count(version.row_count),
        to_json(&version.columns),
        to_json(&version.files),
        now_ms(),
        version.created_by,
        version.source,
    ])?;
    let stored = select_versions(
        conn,
        "dataset = ?1 AND number = ?2",
        &[Value::Text(version.dataset.clone()), Value::Integer(number)],
    )?
    .remove(0);
    let detail = serde_json::json!({
        "dataset": stored.dataset,
        "number": stored.number,
        "version": stored.id,
        "rows": stored.row_count,
        "source": stored.source,
    });
    record_event(
        conn,
        "dataset.version_added",
        &stored.created_by,
        None,
        None,
        Some(detail),
    )?;
    Ok(stored)
}

/// The newest check run over version `id`: its id and status.
fn latest_check_of(conn: &Connection, id: &str) -> Result<Option<(CheckRunId, CheckStatus)>> {
    let row: Option<(CheckRunId, String)> = conn
        .prepare_cached(
            "SELECT c.id, c.status FROM check_runs c
             WHERE c.id IN (SELECT check_run FROM check_run_datasets WHERE version_id = ?1)
             ORDER BY c.id DESC LIMIT 1",
        )?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    row.map(|(run, status)| Ok((run, status.parse().map_err(KirokuError::Database)?)))
        .transpose()
}

fn read_datasets(conn: &Connection) -> Result<Vec<DatasetSummary>> {
    let counts: Vec<(String, i64)> = conn
        .prepare_cached(
            "SELECT dataset, count(*) FROM dataset_versions GROUP BY dataset ORDER BY dataset",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    counts
        .into_iter()
        .map(|(name, versions)| {
            let latest = select_versions(
                conn,
                "dataset = ?1 ORDER BY number DESC LIMIT 1",
                &[Value::Text(name.clone())],
            )?
            .remove(0);
            let check = latest_check_of(conn, &latest.id)?;
            Ok(DatasetSummary {
                name,
                latest,
                versions: versions as u64,
                latest_check: check.map(|(_, status)| status),
                latest_check_run: check.map(|(run, _)| run),
            })
        })
        .collect()
}

/// The internal row id of a registered version of `dataset` with id `id`.
fn vid_of(conn: &Connection, dataset: &str, id: &str) -> Result<i64> {
    conn.prepare_cached("SELECT vid FROM dataset_versions WHERE dataset = ?1 AND id = ?2")?
        .query_row([dataset, id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| KirokuError::NotFound(format!("dataset {dataset} has no version {id}")))
}

fn select_inputs(conn: &Connection, filter: &str, arg: Value) -> Result<Vec<RunInput>> {
    let sql = format!(
        "SELECT r.id, i.name, v.dataset, v.id, i.path FROM data_run_inputs i
         JOIN runs r ON r.rid = i.rid JOIN dataset_versions v ON v.vid = i.vid
         WHERE {filter}"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([arg], |r| {
        Ok(RunInput {
            run_id: r.get(0)?,
            name: r.get(1)?,
            dataset: r.get(2)?,
            version_id: r.get(3)?,
            path: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The columns `check_run_header` reads, in its order.
const CHECK_RUN_COLUMNS: &str =
    "id, suite, suite_hash, source, status, started_ms, ended_ms, user, host, run_id";

fn check_run_header(r: &Row) -> rusqlite::Result<CheckRun> {
    let source: String = r.get(3)?;
    Ok(CheckRun {
        id: r.get(0)?,
        run: NewCheckRun {
            suite: r.get(1)?,
            suite_hash: r.get(2)?,
            source: serde_json::from_value(serde_json::Value::String(source))
                .map_err(|e| conversion_failure(3, e))?,
            datasets: Vec::new(),
            status: parse_column(r, 4)?,
            results: Vec::new(),
            started_at: r.get(5)?,
            ended_at: r.get(6)?,
            user: r.get(7)?,
            host: r.get(8)?,
            run_id: r.get(9)?,
        },
    })
}

/// Fills in a check run's datasets and results.
fn complete_check_run(conn: &Connection, mut run: CheckRun) -> Result<CheckRun> {
    run.run.datasets = conn
        .prepare_cached(
            "SELECT name, version_id, path, rows FROM check_run_datasets
             WHERE check_run = ?1 ORDER BY position",
        )?
        .query_map([run.id], |r| {
            Ok(CheckedDataset {
                name: r.get(0)?,
                version_id: r.get(1)?,
                path: r.get(2)?,
                rows: r.get::<_, i64>(3)? as u64,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    run.run.results = conn
        .prepare_cached("SELECT body FROM check_results WHERE check_run = ?1 ORDER BY position")?
        .query_map([run.id], |r| json_column(r, 0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(run)
}

fn read_check_run(conn: &Connection, id: CheckRunId) -> Result<CheckRun> {
    let header = conn
        .prepare_cached(&format!(
            "SELECT {CHECK_RUN_COLUMNS} FROM check_runs WHERE id = ?1"
        ))?
        .query_row([id], check_run_header)
        .optional()?
        .ok_or_else(|| KirokuError::NotFound(format!("no check run with id {id}")))?;
    complete_check_run(conn, header)
}

fn read_check_runs(conn: &Connection, q: &CheckRunQuery) -> Result<Vec<CheckRun>> {
    let mut conditions = vec!["1".to_string()];
    let mut args: Vec<Value> = Vec::new();
    if let Some(dataset) = &q.dataset {
        conditions.push(
            "id IN (SELECT check_run FROM check_run_datasets WHERE name = ? OR version_id IN
                (SELECT id FROM dataset_versions WHERE dataset = ?))"
                .into(),
        );
        args.push(Value::Text(dataset.clone()));
        args.push(Value::Text(dataset.clone()));
    }
    if let Some(version) = &q.version_id {
        conditions
            .push("id IN (SELECT check_run FROM check_run_datasets WHERE version_id = ?)".into());
        args.push(Value::Text(version.clone()));
    }
    if let Some(suite) = &q.suite {
        conditions.push("suite = ?".into());
        args.push(Value::Text(suite.clone()));
    }
    if !q.statuses.is_empty() {
        let marks = vec!["?"; q.statuses.len()].join(", ");
        conditions.push(format!("status IN ({marks})"));
        args.extend(q.statuses.iter().map(|s| Value::Text(s.as_str().into())));
    }
    // Awaiting review is decided per result after reading, so the limit applies after it.
    let sql_limit = match (q.awaiting_review, q.limit) {
        (false, Some(limit)) => limit.min(i64::MAX as usize) as i64,
        _ => -1,
    };
    args.push(Value::Integer(sql_limit));
    let sql = format!(
        "SELECT {CHECK_RUN_COLUMNS} FROM check_runs WHERE {} ORDER BY id DESC LIMIT ?",
        conditions.join(" AND ")
    );
    let headers: Vec<CheckRun> = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(args), check_run_header)?
        .collect::<rusqlite::Result<_>>()?;
    let now = now_ms();
    let mut out = Vec::new();
    for header in headers {
        if q.limit.is_some_and(|limit| out.len() >= limit) {
            break;
        }
        let run = complete_check_run(conn, header)?;
        if q.awaiting_review {
            let reviews = read_reviews(conn, &run, None)?;
            if !checks_gate::awaits_review(&run, &reviews, now) {
                continue;
            }
        }
        out.push(run);
    }
    Ok(out)
}

fn check_new_check_run(run: &NewCheckRun) -> Result<()> {
    limits::user_name(&run.user)?;
    if run.suite.trim().is_empty() {
        return Err(KirokuError::Invalid(
            "a check run needs its suite's name".into(),
        ));
    }
    if run.datasets.is_empty() {
        return Err(KirokuError::Invalid(format!(
            "check run of suite {} names no dataset it checked",
            run.suite
        )));
    }
    if let Some(blank) = run.datasets.iter().find(|d| d.version_id.trim().is_empty()) {
        return Err(KirokuError::Invalid(format!(
            "dataset {} of the check run has no version id",
            blank.name
        )));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(repeated) = run.results.iter().find(|r| !seen.insert(r.id.as_str())) {
        return Err(KirokuError::Invalid(format!(
            "check run of suite {} has two results with id '{}' (result ids must be unique: reviews name them)",
            run.suite, repeated.id
        )));
    }
    Ok(())
}

/// The run row a check run or review links its event to, if the run exists.
fn rid_if_any(conn: &Connection, run_id: Option<&str>) -> Result<Option<i64>> {
    match run_id {
        Some(id) => Ok(conn
            .prepare_cached("SELECT rid FROM runs WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?),
        None => Ok(None),
    }
}

fn insert_check_run(conn: &Connection, run: &NewCheckRun) -> Result<CheckRunId> {
    conn.prepare_cached(
        "INSERT INTO check_runs (suite, suite_hash, source, status, started_ms, ended_ms, user,
            host, run_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        run.suite,
        run.suite_hash,
        run.source.as_str(),
        run.status.as_str(),
        run.started_at,
        run.ended_at,
        run.user,
        run.host,
        run.run_id,
    ])?;
    let id = conn.last_insert_rowid();
    let mut dataset = conn.prepare_cached(
        "INSERT INTO check_run_datasets (check_run, position, name, version_id, path, rows)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (position, d) in run.datasets.iter().enumerate() {
        dataset.execute(params![
            id,
            position as i64,
            d.name,
            d.version_id,
            d.path,
            stored_count(d.rows)
        ])?;
    }
    let mut result = conn.prepare_cached(
        "INSERT INTO check_results (check_run, position, result_id, status, unexpected_count, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (position, r) in run.results.iter().enumerate() {
        result.execute(params![
            id,
            position as i64,
            r.id,
            r.status.as_str(),
            r.unexpected_count.map(stored_count),
            to_json(r),
        ])?;
    }
    Ok(id)
}

fn review_of_row(r: &Row) -> rusqlite::Result<Review> {
    let verdict: String = r.get(3)?;
    Ok(Review {
        id: r.get(0)?,
        review: NewReview {
            check_run: r.get(1)?,
            result_id: r.get(2)?,
            verdict: serde_json::from_value(serde_json::Value::String(verdict))
                .map_err(|e| conversion_failure(3, e))?,
            comment: r.get(4)?,
            reviewer: r.get(5)?,
            expires_at: r.get(6)?,
        },
        version_id: r.get(7)?,
        suite_hash: r.get(8)?,
        status_reviewed: parse_column(r, 9)?,
        unexpected_count_reviewed: r.get::<_, Option<i64>>(10)?.map(|n| n as u64),
        created_at: r.get(11)?,
    })
}

/// The reviews that bind to `run`'s results (of `result_id` alone when given), oldest first.
fn read_reviews(conn: &Connection, run: &CheckRun, result_id: Option<&str>) -> Result<Vec<Review>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, check_run, result_id, verdict, comment, reviewer, expires_ms, version_id,
            suite_hash, status_reviewed, unexpected_count_reviewed, created_ms
         FROM reviews WHERE version_id = ?1 AND suite_hash = ?2 AND result_id = ?3 ORDER BY id",
    )?;
    let mut out = Vec::new();
    for result in &run.run.results {
        if result_id.is_some_and(|only| only != result.id) {
            continue;
        }
        let version = run.version_of(result);
        let rows = stmt.query_map(
            params![version, run.run.suite_hash, result.id],
            review_of_row,
        )?;
        for row in rows {
            out.push(row?);
        }
    }
    out.sort_by_key(|r| r.id);
    Ok(out)
}

/// Why `new` may not be recorded against `run`, if it may not; the result it reviews if it may.
fn reviewed_result<'a>(run: &'a CheckRun, new: &NewReview, now: Millis) -> Result<&'a CheckResult> {
    let result = run.result(&new.result_id).ok_or_else(|| {
        let known: Vec<&str> = run.run.results.iter().map(|r| r.id.as_str()).collect();
        KirokuError::NotFound(format!(
            "check run {} has no result '{}' (its results: {})",
            run.id,
            new.result_id,
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ))
    })?;
    if !result.status.needs_review() {
        return Err(KirokuError::Invalid(format!(
            "result {}/{} is {}: only a warned, failed or errored result is reviewed",
            run.id, result.id, result.status
        )));
    }
    if new.verdict == ReviewVerdict::Waived && new.comment.trim().is_empty() {
        return Err(KirokuError::Invalid(format!(
            "a waiver of {}/{} needs a reason (-m TEXT)",
            run.id, result.id
        )));
    }
    match new.expires_at {
        Some(_) if new.verdict != ReviewVerdict::Waived => Err(KirokuError::Invalid(format!(
            "only a waiver expires; an {} review of {}/{} holds until the data or the check changes",
            new.verdict, run.id, result.id
        ))),
        Some(until) if until <= now => Err(KirokuError::Invalid(format!(
            "the waiver of {}/{} would expire at {}, which has passed",
            run.id,
            result.id,
            checks_gate::utc(until)
        ))),
        _ => Ok(result),
    }
}

fn insert_review(conn: &Connection, new: &NewReview) -> Result<Review> {
    let now = now_ms();
    let run = read_check_run(conn, new.check_run)?;
    let result = reviewed_result(&run, new, now)?;
    conn.prepare_cached(
        "INSERT INTO reviews (check_run, result_id, verdict, comment, reviewer, expires_ms,
            version_id, suite_hash, status_reviewed, unexpected_count_reviewed, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        run.id,
        result.id,
        new.verdict.as_str(),
        new.comment,
        new.reviewer,
        new.expires_at,
        run.version_of(result),
        run.run.suite_hash,
        result.status.as_str(),
        result.unexpected_count.map(stored_count),
        now,
    ])?;
    let review = Review {
        id: conn.last_insert_rowid(),
        review: new.clone(),
        version_id: run.version_of(result),
        suite_hash: run.run.suite_hash.clone(),
        status_reviewed: result.status,
        unexpected_count_reviewed: result.unexpected_count,
        created_at: now,
    };
    let detail = serde_json::json!({
        "review": review.id,
        "check_run": run.id,
        "result": result.id,
        "verdict": new.verdict,
        "comment": new.comment,
        "reviewer": new.reviewer,
        "expires_at": new.expires_at,
        "status": result.status,
        "unexpected_count": result.unexpected_count,
        "suite": run.run.suite,
        "datasets": run.run.datasets.iter().map(|d| &d.name).collect::<Vec<_>>(),
        "version": review.version_id,
    });
    let rid = rid_if_any(conn, run.run.run_id.as_deref())?;
    let kind = format!("review.{}", new.verdict);
    record_event(conn, &kind, &new.reviewer, rid, None, Some(detail))?;
    Ok(review)
}

impl DataStore for SqliteStore {
    fn add_dataset_version(&self, version: &DatasetVersion) -> Result<AddedVersion> {
        check_new_version(version)?;
        self.write(|tx| {
            let existing = select_versions(
                tx,
                "dataset = ?1 AND id = ?2",
                &[
                    Value::Text(version.dataset.clone()),
                    Value::Text(version.id.clone()),
                ],
            )?;
            if let Some(found) = existing.into_iter().next() {
                return Ok(AddedVersion {
                    version: found,
                    new: false,
                });
            }
            Ok(AddedVersion {
                version: insert_version(tx, version)?,
                new: true,
            })
        })
    }

    fn dataset_versions(&self, name: &str) -> Result<Vec<DatasetVersion>> {
        self.read(|c| read_versions(c, name))
    }

    fn dataset_version(&self, reference: &str) -> Result<DatasetVersion> {
        self.read(|c| resolve_version(c, reference))
    }

    fn datasets(&self) -> Result<Vec<DatasetSummary>> {
        self.read(read_datasets)
    }

    fn add_run_inputs(&self, run_id: &str, inputs: &[RunInput]) -> Result<()> {
        limits::list_len("run inputs", inputs.len(), limits::MAX_PAIRS_PER_REQUEST)?;
        self.write(|tx| {
            let rid = super::active_rid_of(tx, run_id)?;
            let mut seq: i64 = tx
                .prepare_cached("SELECT coalesce(max(seq), 0) FROM data_run_inputs WHERE rid = ?1")?
                .query_row([rid], |r| r.get(0))?;
            for input in inputs {
                let vid = vid_of(tx, &input.dataset, &input.version_id)?;
                seq += 1;
                tx.prepare_cached(
                    "INSERT INTO data_run_inputs (rid, name, vid, path, seq) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (rid, name, vid) DO NOTHING",
                )?
                .execute(params![rid, input.name, vid, input.path, seq])?;
            }
            super::touch(tx, rid)
        })
    }

    fn run_inputs(&self, run_id: &str) -> Result<Vec<RunInput>> {
        self.read(|c| {
            let rid = super::rid_of(c, run_id)?;
            select_inputs(c, "i.rid = ?1 ORDER BY i.seq", Value::Integer(rid))
        })
    }

    fn version_readers(&self, version_id: &str) -> Result<Vec<RunInput>> {
        self.read(|c| {
            select_inputs(
                c,
                "v.id = ?1 ORDER BY r.start_ms DESC, i.seq DESC",
                Value::Text(version_id.into()),
            )
        })
    }

    fn record_check_run(&self, run: &NewCheckRun) -> Result<CheckRun> {
        check_new_check_run(run)?;
        self.write(|tx| {
            let id = insert_check_run(tx, run)?;
            let detail = serde_json::json!({
                "check_run": id,
                "suite": run.suite,
                "status": run.status,
                "datasets": run.datasets.iter().map(|d| format!("{} {}", d.name, d.version_id)).collect::<Vec<_>>(),
            });
            let rid = rid_if_any(tx, run.run_id.as_deref())?;
            record_event(tx, "check.recorded", &run.user, rid, None, Some(detail))?;
            read_check_run(tx, id)
        })
    }

    fn check_run(&self, id: CheckRunId) -> Result<CheckRun> {
        self.read(|c| read_check_run(c, id))
    }

    fn check_runs(&self, query: &CheckRunQuery) -> Result<Vec<CheckRun>> {
        self.read(|c| read_check_runs(c, query))
    }

    fn add_review(&self, review: &NewReview) -> Result<Review> {
        limits::user_name(&review.reviewer)?;
        limits::note_body(&review.comment)?;
        self.write(|tx| insert_review(tx, review))
    }

    fn reviews(&self, check_run: CheckRunId, result_id: Option<&str>) -> Result<Vec<Review>> {
        self.read(|c| {
            let run = read_check_run(c, check_run)?;
            if let Some(id) = result_id {
                if run.result(id).is_none() {
                    return Err(KirokuError::NotFound(format!(
                        "check run {check_run} has no result '{id}'"
                    )));
                }
            }
            read_reviews(c, &run, result_id)
        })
    }
}
