//! Paged searches must equal slices of the full ordering, whichever plan the store picks
//! (metric-first pages read from the metric index, then the NaN/missing rest; attribute
//! orders with correlated probes; the general plan), and `total` must be right.
use kiroku::model::{KeyedPoint, NewRun, RunQuery};
use kiroku::store::prelude::*;
use kiroku::store::SqliteStore;

fn store_with_runs() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join(".kiroku"), false).unwrap();
    for i in 0..40i64 {
        let run = store
            .create_run(&NewRun {
                experiment: if i % 4 == 0 {
                    "other".into()
                } else {
                    "main".into()
                },
                name: Some(format!("r{i:02}")),
                user: "t".into(),
                start_time: Some(1_000 + (i * 7919) % 97),
                params: vec![
                    ("lr".into(), format!("{}", (i % 6) as f64 / 100.0)),
                    ("opt".into(), ["adam", "sgd"][(i % 2) as usize].into()),
                ],
                ..Default::default()
            })
            .unwrap();
        let value = match i % 10 {
            3 => Some(f64::NAN),
            7 => None,
            9 if i % 20 == 9 => Some(f64::INFINITY),
            9 => Some(f64::NEG_INFINITY),
            _ => Some(((i * 37) % 11) as f64 / 10.0),
        };
        if let Some(v) = value {
            store
                .log_metrics(
                    &run.id,
                    &[KeyedPoint {
                        key: "acc".into(),
                        step: 0,
                        timestamp: 0,
                        value: v,
                    }],
                )
                .unwrap();
        }
        if i % 5 == 0 {
            store.set_deleted(&run.id, true, "t").unwrap();
        }
    }
    (dir, store)
}

fn names(store: &SqliteStore, q: &RunQuery) -> (Vec<String>, u64) {
    let page = store.search_runs(q).unwrap();
    (page.runs.into_iter().map(|r| r.name).collect(), page.total)
}

#[test]
fn pages_are_slices_of_the_full_order_for_every_plan() {
    let (_dir, store) = store_with_runs();
    let sorts = [
        "metrics.acc desc",
        "metrics.acc asc",
        "metrics.acc desc, params.lr",
        "start_time",
        "",
        "params.lr desc, name",
    ];
    let filters = [
        "",
        "params.opt = 'adam'",
        "metrics.acc > 0.3 or params.lr < 0.02",
        "experiment = 'main'",
    ];
    for sort in sorts {
        for filter in filters {
            let base = RunQuery {
                filter: Some(filter.into()),
                sort: Some(sort.into()),
                ..Default::default()
            };
            let (all, total) = names(&store, &base);
            assert_eq!(total as usize, all.len());
            for limit in [1u64, 3, 7, 50] {
                for offset in [0u64, 2, 5, 30, 60] {
                    let q = RunQuery {
                        limit: Some(limit),
                        offset,
                        ..base.clone()
                    };
                    let (got, got_total) = names(&store, &q);
                    let want: Vec<String> = all
                        .iter()
                        .skip(offset as usize)
                        .take(limit as usize)
                        .cloned()
                        .collect();
                    assert_eq!(
                        got, want,
                        "sort {sort:?} filter {filter:?} limit {limit} offset {offset}"
                    );
                    assert_eq!(
                        got_total, total,
                        "total for sort {sort:?} filter {filter:?} limit {limit} offset {offset}"
                    );
                }
            }
        }
    }
}

#[test]
fn metric_order_is_the_shared_order_numbers_then_infinities_nan_and_missing() {
    use kiroku::model::metric_order::cmp_metric_values;
    use std::cmp::Ordering;
    let (_dir, store) = store_with_runs();
    for (sort, descending) in [("metrics.acc desc", true), ("metrics.acc asc", false)] {
        for limit in [None, Some(3), Some(25)] {
            let page = store
                .search_runs(&RunQuery {
                    sort: Some(sort.into()),
                    limit,
                    ..Default::default()
                })
                .unwrap();
            let values: Vec<Option<f64>> = page
                .runs
                .iter()
                .map(|r| r.metrics.get("acc").map(|m| m.last))
                .collect();
            assert!(
                values
                    .windows(2)
                    .all(|w| cmp_metric_values(w[0], w[1], descending) != Ordering::Greater),
                "{sort} limit {limit:?}: {values:?}"
            );
        }
        // The infinities are there, after the numbers: a diverged value is never first.
        let all = store
            .search_runs(&RunQuery {
                sort: Some(sort.into()),
                ..Default::default()
            })
            .unwrap();
        let first = all.runs[0].metrics["acc"].last;
        assert!(first.is_finite(), "{sort}: {first}");
        assert!(all
            .runs
            .iter()
            .any(|r| r.metrics.get("acc").is_some_and(|m| m.last.is_infinite())));
    }
}

#[test]
fn every_write_changes_the_store_version_and_reads_do_not() {
    let (_dir, store) = store_with_runs();
    let v0 = store.version().unwrap();
    let page = store
        .search_runs(&RunQuery {
            limit: Some(1),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(store.version().unwrap(), v0, "reads leave it alone");
    store
        .set_tags(&page.runs[0].id, &[("k".into(), "v".into())], "t")
        .unwrap();
    let v1 = store.version().unwrap();
    assert!(v1 > v0);
    store
        .log_metrics(
            &page.runs[0].id,
            &[KeyedPoint {
                key: "acc".into(),
                step: 9,
                timestamp: 9,
                value: 1.0,
            }],
        )
        .unwrap();
    assert!(store.version().unwrap() > v1);
}

/// Runs with ties everywhere (start times, metric values, params), NaN and missing metrics,
/// numeric, text and missing params, missing tags and end times: the reversed order must be
/// the full order backwards, term for term.
fn store_with_ties() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join(".kiroku"), false).unwrap();
    for i in 0..36i64 {
        let mut params = vec![("opt".to_string(), ["adam", "sgd"][(i % 2) as usize].into())];
        match i % 4 {
            0 => params.push(("lr".into(), format!("{}", (i % 3) as f64 / 100.0))),
            1 => params.push(("lr".into(), "auto".into())),
            2 => params.push(("lr".into(), "0.01".into())),
            _ => {}
        }
        let mut tags = Vec::new();
        if i % 3 != 0 {
            tags.push((
                "team".to_string(),
                ["nlp", "vision"][(i % 2) as usize].into(),
            ));
        }
        let run = store
            .create_run(&NewRun {
                experiment: "main".into(),
                name: Some(format!("t{:02}", (i * 5) % 36)),
                user: ["ann", "bob", "cy"][(i % 3) as usize].into(),
                start_time: Some(1_000 + i % 4),
                params,
                tags,
                ..Default::default()
            })
            .unwrap();
        let value = match i % 6 {
            1 => Some(f64::NAN),
            4 => None,
            5 if i % 12 == 5 => Some(f64::INFINITY),
            5 => Some(f64::NEG_INFINITY),
            _ => Some((i % 3) as f64),
        };
        if let Some(v) = value {
            store
                .log_metrics(
                    &run.id,
                    &[KeyedPoint {
                        key: "acc".into(),
                        step: 0,
                        timestamp: 0,
                        value: v,
                    }],
                )
                .unwrap();
        }
        if i % 5 == 0 {
            store
                .set_status(
                    &run.id,
                    kiroku::model::RunStatus::Finished,
                    Some(0),
                    Some(5_000 + i % 2),
                )
                .unwrap();
        }
    }
    (dir, store)
}

fn ids(store: &SqliteStore, q: &RunQuery) -> (Vec<String>, u64) {
    let page = store.search_runs(q).unwrap();
    (page.runs.into_iter().map(|r| r.id).collect(), page.total)
}

#[test]
fn reversed_pages_are_slices_of_the_full_order_backwards() {
    let (_dir, store) = store_with_ties();
    let sorts = [
        "",
        "metrics.acc desc",
        "metrics.acc asc",
        "metrics.acc, params.lr desc",
        "params.lr",
        "params.lr desc, metrics.acc",
        "tags.team desc",
        "start_time",
        "name desc",
        "user, status",
        "end_time desc",
    ];
    let filters = [
        "",
        "params.opt = 'adam'",
        "metrics.acc >= 1 or tags.team = 'nlp'",
    ];
    for sort in sorts {
        for filter in filters {
            let base = RunQuery {
                filter: Some(filter.into()),
                sort: Some(sort.into()),
                ..Default::default()
            };
            let (all, total) = ids(&store, &base);
            assert_eq!(total as usize, all.len());
            let backwards: Vec<String> = all.iter().rev().cloned().collect();
            let (whole, _) = ids(
                &store,
                &RunQuery {
                    reverse: true,
                    ..base.clone()
                },
            );
            assert_eq!(whole, backwards, "sort {sort:?} filter {filter:?}");
            for limit in [1u64, 4, 9, 50] {
                for offset in [0u64, 3, 10, 30, 60] {
                    let q = RunQuery {
                        limit: Some(limit),
                        offset,
                        reverse: true,
                        ..base.clone()
                    };
                    let (got, got_total) = ids(&store, &q);
                    let want: Vec<String> = backwards
                        .iter()
                        .skip(offset as usize)
                        .take(limit as usize)
                        .cloned()
                        .collect();
                    assert_eq!(
                        got, want,
                        "sort {sort:?} filter {filter:?} limit {limit} offset {offset}"
                    );
                    assert_eq!(got_total, total, "total: sort {sort:?} filter {filter:?}");
                }
            }
        }
    }
    // For a metric, reversed means missing first, then NaN, then the infinities, then the
    // numbers backwards.
    let page = store
        .search_runs(&RunQuery {
            sort: Some("metrics.acc desc".into()),
            reverse: true,
            ..Default::default()
        })
        .unwrap();
    let kinds: Vec<u8> = page
        .runs
        .iter()
        .map(|r| match r.metrics.get("acc") {
            None => 0,
            Some(m) if m.last.is_nan() => 1,
            Some(m) if m.last.is_infinite() => 2,
            Some(_) => 3,
        })
        .collect();
    assert!(kinds.windows(2).all(|w| w[0] <= w[1]), "{kinds:?}");
    assert!(kinds.contains(&2), "{kinds:?}");
    let numbers: Vec<f64> = page
        .runs
        .iter()
        .filter_map(|r| r.metrics.get("acc").map(|m| m.last))
        .filter(|v| v.is_finite())
        .collect();
    assert!(numbers.windows(2).all(|w| w[0] <= w[1]), "{numbers:?}");
    assert_eq!(kinds.iter().filter(|k| **k == 0).count(), 6);
}
