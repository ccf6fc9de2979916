//! Reading runs into model types: in bulk (a query per table rather than per run), one run's
//! details, resolution of a reference to an id, and run search through the query language
//! (`search_sql` compiles it). The other domains read their own rows in their own files.
use super::notes::read_notes;
use super::search_sql;
use crate::error::{KirokuError, Result};
use crate::ids;
use crate::model::*;
use crate::query;
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection, OptionalExtension};
use std::collections::{BTreeMap, HashMap};

/// Full id, unique id prefix or run name → full id. Ambiguity lists the candidates.
pub fn resolve_run(conn: &Connection, reference: &str) -> Result<String> {
    let lower = reference.to_ascii_lowercase();
    if ids::is_full_run_id(&lower) {
        if let Some(id) = conn
            .prepare_cached("SELECT id FROM runs WHERE id = ?1")?
            .query_row([&lower], |r| r.get::<_, String>(0))
            .optional()?
        {
            return Ok(id);
        }
    }
    let mut candidates: Vec<(String, String, String)> = Vec::new();
    if ids::is_hex_prefix(&lower) {
        let mut stmt = conn.prepare_cached(
            "SELECT id, name, status FROM runs WHERE id >= ?1 AND id < ?1 || 'g' ORDER BY id LIMIT 11",
        )?;
        let found = stmt.query_map([&lower], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        candidates.extend(found.collect::<rusqlite::Result<Vec<_>>>()?);
    }
    let mut by_name = conn.prepare_cached(
        "SELECT id, name, status FROM runs WHERE name = ?1 ORDER BY start_ms DESC LIMIT 11",
    )?;
    for row in by_name.query_map([reference], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))? {
        let row = row?;
        if !candidates.iter().any(|c| c.0 == row.0) {
            candidates.push(row);
        }
    }
    match candidates.len() {
        0 => Err(KirokuError::NotFound(format!(
            "no run matches '{reference}' (by id, id prefix or name)"
        ))),
        1 => Ok(candidates.remove(0).0),
        _ => Err(KirokuError::Ambiguous {
            reference: reference.to_string(),
            candidates: candidates
                .iter()
                .take(10)
                .map(|(id, name, status)| {
                    format!("{}  {name}  ({status})", &id[..12.min(id.len())])
                })
                .chain((candidates.len() > 10).then(|| "…".to_string()))
                .collect(),
        }),
    }
}

/// Placeholders `?,?,?` for `n` values.
fn placeholders(n: usize) -> String {
    vec!["?"; n].join(",")
}

/// Hands one row of a run's child table to the run.
type RowApply<'a> = Box<dyn FnMut(&mut Run, &rusqlite::Row) -> rusqlite::Result<()> + 'a>;

/// Loads runs (with params, metric summaries, tags and stars) for `rids`, in that order.
pub fn load_runs(conn: &Connection, rids: &[i64]) -> Result<Vec<Run>> {
    let mut by_rid: HashMap<i64, Run> = HashMap::with_capacity(rids.len());
    for batch in rids.chunks(900) {
        let ph = placeholders(batch.len());
        let mut stmt = conn.prepare(&format!(
            "SELECT r.rid, r.id, r.name, e.name, e.id, r.status, r.exit_code, r.user, r.host, r.start_ms, r.end_ms,
                    p.id, r.deleted_ms
             FROM runs r JOIN experiments e ON e.id = r.experiment_id LEFT JOIN runs p ON p.rid = r.parent_rid
             WHERE r.rid IN ({ph})"
        ))?;
        let rows = stmt.query_map(params_from_iter(batch), |r| {
            let status: String = r.get(5)?;
            Ok((
                r.get::<_, i64>(0)?,
                Run {
                    id: r.get(1)?,
                    name: r.get(2)?,
                    experiment: r.get(3)?,
                    experiment_id: r.get(4)?,
                    status: status.parse().unwrap_or(RunStatus::Lost),
                    exit_code: r.get(6)?,
                    user: r.get(7)?,
                    host: r.get(8)?,
                    start_time: r.get(9)?,
                    end_time: r.get(10)?,
                    parent_id: r.get(11)?,
                    deleted: r.get::<_, Option<i64>>(12)?.is_some(),
                    params: BTreeMap::new(),
                    metrics: BTreeMap::new(),
                    tags: BTreeMap::new(),
                    stars: Vec::new(),
                },
            ))
        })?;
        for row in rows {
            let (rid, run) = row?;
            by_rid.insert(rid, run);
        }
        // Each child table: one query for the whole batch, rows handed to their run.
        let mut each_row = |sql: &str, mut apply: RowApply<'_>| -> Result<()> {
            let mut stmt = conn.prepare(&sql.replace("{ph}", &ph))?;
            let mut rows = stmt.query(params_from_iter(batch))?;
            while let Some(r) = rows.next()? {
                if let Some(run) = by_rid.get_mut(&r.get(0)?) {
                    apply(run, r)?;
                }
            }
            Ok(())
        };
        each_row(
            "SELECT rid, key, value FROM params WHERE rid IN ({ph})",
            Box::new(|run, r| {
                run.params.insert(r.get(1)?, r.get(2)?);
                Ok(())
            }),
        )?;
        each_row(
            "SELECT rid, key, value FROM tags WHERE rid IN ({ph})",
            Box::new(|run, r| {
                run.tags.insert(r.get(1)?, r.get(2)?);
                Ok(())
            }),
        )?;
        each_row(
            "SELECT rid, key, last, last_nan, last_step, last_ts, min, max, count FROM metric_summary WHERE rid IN ({ph})",
            Box::new(|run, r| {
                let last: Option<f64> = r.get(2)?;
                let is_nan = r.get::<_, i64>(3)? == 1;
                let summary = MetricSummary {
                    last: if is_nan { f64::NAN } else { last.unwrap_or(f64::NAN) },
                    step: r.get(4)?,
                    timestamp: r.get(5)?,
                    min: r.get(6)?,
                    max: r.get(7)?,
                    count: r.get::<_, i64>(8)? as u64,
                };
                run.metrics.insert(r.get(1)?, summary);
                Ok(())
            }),
        )?;
        each_row(
            "SELECT rid, user FROM stars WHERE rid IN ({ph}) ORDER BY created_ms",
            Box::new(|run, r| {
                run.stars.push(r.get(1)?);
                Ok(())
            }),
        )?;
    }
    Ok(rids.iter().filter_map(|rid| by_rid.remove(rid)).collect())
}

/// The run of internal id `rid` (without what `run_detail` adds).
pub fn load_run(conn: &Connection, rid: i64) -> Result<Run> {
    load_runs(conn, &[rid])?
        .pop()
        .ok_or_else(|| KirokuError::NotFound(format!("no run with internal id {rid}")))
}

pub fn run_detail(conn: &Connection, rid: i64) -> Result<RunDetail> {
    let run = load_run(conn, rid)?;
    let source = conn
        .query_row(
            "SELECT git_commit, git_branch, git_dirty, git_diff, command, cwd FROM run_source WHERE rid = ?1",
            [rid],
            |r| {
                let command: Option<String> = r.get(4)?;
                Ok(RunSource {
                    git_commit: r.get(0)?,
                    git_branch: r.get(1)?,
                    git_dirty: r.get::<_, Option<i64>>(2)?.map(|d| d != 0),
                    git_diff: r.get(3)?,
                    command: command.and_then(|c| serde_json::from_str(&c).ok()).unwrap_or_default(),
                    cwd: r.get(5)?,
                })
            },
        )
        .optional()?
        .unwrap_or_default();
    let mut stmt =
        conn.prepare_cached("SELECT name, value FROM run_env WHERE rid = ?1 ORDER BY name")?;
    let environment = stmt
        .query_map([rid], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<BTreeMap<String, String>>>()?;
    let notes = read_notes(conn, rid, &run.id)?;
    let inputs = read_logged_inputs(conn, rid)?;
    let mut stmt = conn.prepare_cached(
        "SELECT path, size, hash, stored, location FROM artifacts WHERE rid = ?1 ORDER BY path",
    )?;
    let artifacts = stmt
        .query_map([rid], |r| {
            Ok(Artifact {
                path: r.get(0)?,
                size: r.get::<_, Option<i64>>(1)?.map(|v| v as u64),
                hash: r.get(2)?,
                stored: r.get(3)?,
                location: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut stmt =
        conn.prepare_cached("SELECT id FROM runs WHERE parent_rid = ?1 ORDER BY start_ms")?;
    let children = stmt
        .query_map([rid], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(RunDetail {
        run,
        source,
        environment,
        notes,
        inputs,
        artifacts,
        children,
        run_dir: None,
    })
}

fn query_error(input: &str, e: query::QueryError) -> KirokuError {
    KirokuError::Query {
        message: e.to_string(),
        caret: e.render_caret(input),
    }
}

/// Selects runs by the query language, evaluated in SQL; loads only the page asked for.
/// A page of runs. With `count` false a full page's `total` is only a lower bound (offset +
/// rows): the count over every match is the slow part of a broad filter, and a UI can ask for
/// it separately.
/// Keyed terms matching at most this many runs are small enough to list.
const SMALL_LIST: i64 = 5_000;

/// The filter for a plan that cannot lean on an index's order. Lists (`IN`) for the metric,
/// param and tag terms that match few runs, which then drive the query; probes (`EXISTS`) for
/// broad terms, so no big list is built just to intersect it with a small one. With no small
/// term (or a single term) every term is a list, as SQLite then does best. Each term's size is
/// measured with a bounded count, so measuring costs at most a few thousand index steps.
fn list_plan_filter(
    conn: &Connection,
    compiled: &search_sql::CompiledSearch,
    filter: Option<&query::Expr>,
    dialect: query::Dialect,
) -> Result<String> {
    let Some(expr) = filter else {
        return Ok(compiled.where_sql.clone());
    };
    if compiled.keyed_terms.len() < 2 {
        return Ok(compiled.where_sql.clone());
    }
    let mut small = Vec::with_capacity(compiled.keyed_terms.len());
    for term in &compiled.keyed_terms {
        let sql = format!(
            "SELECT count(*) FROM ({} LIMIT {})",
            term.rid_sql,
            SMALL_LIST + 1
        );
        let n: i64 = conn
            .prepare_cached(&sql)?
            .query_row(params_from_iter(term.params.iter()), |r| r.get(0))?;
        small.push(n <= SMALL_LIST);
    }
    if small.iter().any(|s| *s) && small.iter().any(|s| !*s) {
        Ok(search_sql::compile_mixed_filter(expr, &small, dialect))
    } else {
        Ok(compiled.where_sql.clone())
    }
}

/// SQLite VM steps an index-ordered page may take before the plan is judged wrong for the
/// filter (a few milliseconds here).
const PROBE_BUDGET_OPS: i32 = 150_000;

/// Runs `attempt` with a cap on SQLite's work; `None` when the cap was reached.
fn within_budget<T>(
    conn: &Connection,
    ops: i32,
    attempt: impl FnOnce() -> Result<T>,
) -> Result<Option<T>> {
    const EVERY: i32 = 1000;
    let mut calls = 0;
    let allowed = ops / EVERY;
    conn.progress_handler(
        EVERY,
        Some(move || {
            calls += 1;
            calls > allowed
        }),
    );
    let out = attempt();
    conn.progress_handler(EVERY, None::<fn() -> bool>);
    match out {
        Ok(v) => Ok(Some(v)),
        Err(KirokuError::Database(msg)) if msg.contains("interrupt") => Ok(None),
        Err(e) => Err(e),
    }
}

pub fn search(conn: &Connection, q: &RunQuery, count: bool) -> Result<RunPage> {
    search_with_budget(conn, q, count, PROBE_BUDGET_OPS)
}

fn search_with_budget(
    conn: &Connection,
    q: &RunQuery,
    count: bool,
    probe_budget: i32,
) -> Result<RunPage> {
    let filter_text = q.filter.as_deref().unwrap_or("");
    let filter =
        query::parse_filter_in(filter_text, q.dialect).map_err(|e| query_error(filter_text, e))?;
    let sort_text = q.sort.as_deref().unwrap_or("");
    let order =
        query::parse_order_in(sort_text, q.dialect).map_err(|e| query_error(sort_text, e))?;
    let compiled = search_sql::compile_in(filter.as_ref(), &order, q.dialect);

    let mut store_conditions: Vec<String> = Vec::new();
    let mut extra: Vec<Value> = Vec::new();
    if q.only_deleted {
        store_conditions.push("r.deleted_ms IS NOT NULL".into());
    } else if !q.include_deleted {
        store_conditions.push("r.deleted_ms IS NULL".into());
    }
    if !q.experiments.is_empty() {
        // One JSON parameter however many names: SQLite takes at most 32,766 per statement.
        store_conditions.push("e.name IN (SELECT value FROM json_each(?))".into());
        extra.push(Value::Text(
            serde_json::Value::from(q.experiments.clone()).to_string(),
        ));
    }
    let store_sql: String = store_conditions
        .iter()
        .map(|c| format!(" AND {c}"))
        .collect();
    let join_params = &compiled.params[..compiled.join_param_count];
    let where_params = &compiled.params[compiled.join_param_count..];

    // One page query: `segment` narrows it (binding `segment_params`), `filter` is one of the
    // two forms of the filter.
    let page = |segment: &str,
                segment_params: &[Value],
                filter: &str,
                order: &str,
                limit: i64,
                offset: i64|
     -> Result<Vec<i64>> {
        let sql = format!(
            "SELECT r.rid FROM runs r JOIN experiments e ON e.id = r.experiment_id{} WHERE {segment} AND ({filter}){store_sql} \
             ORDER BY {order} LIMIT ? OFFSET ?",
            compiled.joins
        );
        let args = join_params
            .iter()
            .chain(segment_params)
            .chain(where_params)
            .chain(extra.iter())
            .cloned()
            .chain([Value::Integer(limit), Value::Integer(offset)]);
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params_from_iter(args), |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<Vec<i64>>>()?)
    };

    let finish = |rids: Vec<i64>| -> Result<RunPage> {
        // The total is free when the page is not full; otherwise count (IN lists count fastest).
        let page_full = q.limit.is_some_and(|l| rids.len() as u64 == l);
        let total = if (!page_full && (!rids.is_empty() || q.offset == 0)) || (page_full && !count)
        {
            q.offset + rids.len() as u64
        } else {
            let count_sql =
                format!("SELECT count(*) FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE ({}){store_sql}", compiled.where_sql);
            let n: i64 = conn.prepare_cached(&count_sql)?.query_row(
                params_from_iter(where_params.iter().chain(extra.iter())),
                |r| r.get(0),
            )?;
            n as u64
        };
        Ok(RunPage {
            runs: load_runs(conn, &rids)?,
            total,
        })
    };
    // Saturating: offsets and limits come from users (and from HTTP clients).
    let offset = q.offset.min(i64::MAX as u64) as i64;
    if q.reverse {
        return finish(reversed_page(
            conn,
            q,
            &compiled,
            probe_budget,
            &page,
            offset,
        )?);
    }
    let rids = match (q.limit, &compiled.present_first) {
        (Some(limit), Some(first)) => {
            // Runs with a number for the first order metric come first: read them in the
            // metric index's order and stop at the page's end; fill up from the rest if short.
            let want = offset.saturating_add(limit.min(i64::MAX as u64) as i64);
            let walked = within_budget(conn, probe_budget, || {
                page(
                    &first.condition,
                    &[],
                    &compiled.where_correlated,
                    &first.order_sql,
                    want,
                    0,
                )
            })?;
            let Some(mut rids) = walked else {
                // A narrow filter: probing run after run in metric order would visit most of
                // the store, so let SQLite build the filter's lists and sort what matches.
                return finish(page(
                    "1",
                    &[],
                    &list_plan_filter(conn, &compiled, filter.as_ref(), q.dialect)?,
                    &compiled.order_sql,
                    limit.min(i64::MAX as u64) as i64,
                    offset,
                )?);
            };
            if (rids.len() as i64) < want {
                let more = page(
                    &first.rest_condition,
                    &[],
                    &compiled.where_sql,
                    &compiled.order_sql,
                    want - rids.len() as i64,
                    0,
                )?;
                rids.extend(more);
            }
            rids.into_iter().skip(offset as usize).collect()
        }
        (Some(limit), None) if compiled.joins.is_empty() => {
            // Ordered by run attributes: an index drives the order and EXISTS probes stop early;
            // a narrow filter (the probes find little) falls back to the lists.
            match within_budget(conn, probe_budget, || {
                page(
                    "1",
                    &[],
                    &compiled.where_correlated,
                    &compiled.order_sql,
                    limit.min(i64::MAX as u64) as i64,
                    offset,
                )
            })? {
                Some(rids) => rids,
                None => page(
                    "1",
                    &[],
                    &list_plan_filter(conn, &compiled, filter.as_ref(), q.dialect)?,
                    &compiled.order_sql,
                    limit.min(i64::MAX as u64) as i64,
                    offset,
                )?,
            }
        }
        (limit, _) => page(
            "1",
            &[],
            &compiled.where_sql,
            &compiled.order_sql,
            limit.map_or(-1, |l| l.min(i64::MAX as u64) as i64),
            offset,
        )?,
    };

    finish(rids)
}

/// SQLite VM steps allowed per run for the scan that lists the runs lacking the first order
/// metric (a reversed metric-first page).
const REST_SCAN_OPS_PER_RUN: i64 = 20;

/// One page query: (segment, its params, filter, order, limit, offset) → rids.
type PageFn<'a> = dyn Fn(&str, &[Value], &str, &str, i64, i64) -> Result<Vec<i64>> + 'a;

/// A page of the exactly reversed order (`RunQuery::reverse`), planned like the forward one:
/// with a metric first, the reversed order starts with the runs lacking a number for it (few,
/// usually: a list from one scan, each probed against the filter), then walks the metric's
/// index backwards; ordered by run
/// attributes, an index drives it with EXISTS probes; a narrow filter falls back to the lists.
fn reversed_page(
    conn: &Connection,
    q: &RunQuery,
    compiled: &search_sql::CompiledSearch,
    probe_budget: i32,
    page: &PageFn,
    offset: i64,
) -> Result<Vec<i64>> {
    let order = &compiled.reversed_order_sql;
    let Some(limit) = q.limit.map(|l| l.min(i64::MAX as u64) as i64) else {
        return page("1", &[], &compiled.where_sql, order, -1, offset);
    };
    let lists = || page("1", &[], &compiled.where_sql, order, limit, offset);
    if let Some(first) = &compiled.present_first {
        let want = offset.saturating_add(limit);
        // The runs lacking a number come first: listed from one scan of the runs and probed
        // against the filter; if there are too many to probe, the filter's lists decide. The
        // budget covers the scan (a few VM steps per run) on top of the probing allowance.
        let runs: i64 = conn
            .prepare_cached("SELECT coalesce(max(rid), 0) FROM runs")?
            .query_row([], |r| r.get(0))?;
        let scan_budget = i32::try_from(runs.saturating_mul(REST_SCAN_OPS_PER_RUN))
            .unwrap_or(i32::MAX)
            .saturating_add(probe_budget);
        let rest = within_budget(conn, scan_budget, || {
            page(
                &first.rest_list,
                &first.rest_list_params,
                &compiled.where_correlated,
                order,
                want,
                0,
            )
        })?;
        let mut rids = match rest {
            Some(rids) => rids,
            None => page(
                &first.rest_condition,
                &[],
                &compiled.where_sql,
                order,
                want,
                0,
            )?,
        };
        if (rids.len() as i64) < want {
            let need = want - rids.len() as i64;
            let walked = within_budget(conn, probe_budget, || {
                page(
                    &first.condition,
                    &[],
                    &compiled.where_correlated,
                    &first.reversed_order_sql,
                    need,
                    0,
                )
            })?;
            match walked {
                Some(more) => rids.extend(more),
                None => return lists(),
            }
        }
        return Ok(rids.into_iter().skip(offset as usize).collect());
    }
    if compiled.joins.is_empty() {
        return match within_budget(conn, probe_budget, || {
            page("1", &[], &compiled.where_correlated, order, limit, offset)
        })? {
            Some(rids) => Ok(rids),
            None => lists(),
        };
    }
    lists()
}

/// The MLflow-style inputs of the run `rid`, by dataset name (with MLflow's record of each).
pub(super) fn read_logged_inputs(conn: &Connection, rid: i64) -> Result<Vec<LoggedInput>> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.name, d.location, d.hash, d.size, d.rows, d.schema_json, i.context, i.mlflow_json
         FROM run_inputs i JOIN datasets d ON d.id = i.dataset_id WHERE i.rid = ?1 ORDER BY d.name",
    )?;
    let inputs = stmt
        .query_map([rid], |r| {
            let schema: Option<String> = r.get(5)?;
            let mlflow: Option<String> = r.get(7)?;
            Ok(LoggedInput {
                dataset: LoggedDataset {
                    name: r.get(0)?,
                    location: r.get(1)?,
                    hash: r.get(2)?,
                    size: r.get::<_, Option<i64>>(3)?.map(|v| v as u64),
                    rows: r.get::<_, Option<i64>>(4)?.map(|v| v as u64),
                    schema: schema.and_then(|s| serde_json::from_str(&s).ok()),
                },
                context: r.get(6)?,
                mlflow: mlflow.and_then(|m| serde_json::from_str(&m).ok()),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(inputs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{KeyedPoint, NewRun};
    use crate::store::prelude::*;
    use crate::store::SqliteStore;

    /// The fallback plan (taken when index-ordered probing runs out of budget) returns the same
    /// pages as the probing plan.
    #[test]
    fn fallback_plan_returns_the_same_pages() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join(".kiroku"), false).unwrap();
        for i in 0..60i64 {
            let run = store
                .create_run(&NewRun {
                    experiment: "e".into(),
                    name: Some(format!("r{i}")),
                    user: "u".into(),
                    start_time: Some(i % 7),
                    params: vec![("lr".into(), format!("{}", i % 5))],
                    ..Default::default()
                })
                .unwrap();
            if i % 9 != 0 {
                let value = if i % 11 == 0 {
                    f64::NAN
                } else {
                    (i % 13) as f64
                };
                store
                    .log_metrics(
                        &run.id,
                        &[KeyedPoint {
                            key: "acc".into(),
                            step: 0,
                            timestamp: 0,
                            value,
                        }],
                    )
                    .unwrap();
            }
        }
        let capped = store
            .read(|c| {
                within_budget(c, 1, || {
                    Ok(
                        c.query_row("SELECT count(*) FROM runs a, runs b, runs c", [], |r| {
                            r.get::<_, i64>(0)
                        })?,
                    )
                })
            })
            .unwrap();
        assert_eq!(capped, None, "a tiny budget interrupts");
        for sort in ["metrics.acc desc", "metrics.acc", "start_time", ""] {
            for filter in ["", "params.lr < 2", "metrics.acc > 5 or params.lr = 4"] {
                for (limit, offset, reverse) in [
                    (5u64, 0u64, false),
                    (7, 3, false),
                    (50, 20, false),
                    (5, 0, true),
                    (7, 3, true),
                    (50, 20, true),
                ] {
                    let q = RunQuery {
                        filter: Some(filter.into()),
                        sort: Some(sort.into()),
                        limit: Some(limit),
                        offset,
                        reverse,
                        ..Default::default()
                    };
                    let names = |budget| -> Vec<String> {
                        store
                            .read(|c| search_with_budget(c, &q, true, budget))
                            .unwrap()
                            .runs
                            .into_iter()
                            .map(|r| r.name)
                            .collect()
                    };
                    assert_eq!(
                        names(1),
                        names(i32::MAX),
                        "{sort:?} {filter:?} {limit} {offset} reverse {reverse}"
                    );
                }
            }
        }
    }
}
