//! Differential: a gate's `require` conditions are judged in memory (`models::facts`) over one
//! run; the run search compiles the same language to SQL (`store::sqlite::search_sql`), which
//! defines what a condition means. Seeded generated runs (metrics, params, tags, statuses,
//! hosts, some keys missing) and generated filters (comparisons of every kind of field,
//! `LIKE`/`ILIKE`, `IN`, `IS NULL`, bare words, `and`/`or`/`not`) go through both; the runs
//! each selects must be the same.
use kiroku::model::{KeyedPoint, NewRun, RunQuery, RunStatus};
use kiroku::models::facts;
use kiroku::store::prelude::*;
use kiroku::store::SqliteStore;
use std::collections::BTreeSet;

/// xorshift64*: the same sequence for a seed on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const METRICS: [&str; 3] = ["acc", "val/loss", "f1"];
const PARAMS: [&str; 3] = ["lr", "optimizer", "layers"];
const TAGS: [&str; 2] = ["team", "stage"];
const WORDS: [&str; 6] = ["vision", "nlp", "Vision", "prod", "dev", "a_b"];
const NUMBERS: [&str; 8] = ["0", "0.5", "0.9", "0.93", "1", "1e-3", "0.001", "-2"];

fn param_value(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => rng.pick(&["adam", "sgd", "Adam"]).to_string(),
        1 => rng.pick(&NUMBERS).to_string(),
        2 => format!("{}", rng.below(5)),
        _ => rng.pick(&["0.01", "1e-2", "0.010"]).to_string(),
    }
}

fn populate(store: &SqliteStore, rng: &mut Rng) {
    for i in 0..40 {
        let mut params = Vec::new();
        for key in PARAMS {
            if rng.chance(70) {
                params.push((key.to_string(), param_value(rng)));
            }
        }
        let mut tags = Vec::new();
        for key in TAGS {
            if rng.chance(60) {
                tags.push((key.to_string(), rng.pick(&WORDS).to_string()));
            }
        }
        let run = store
            .create_run(&NewRun {
                experiment: "e".into(),
                name: Some(format!("{}-{i}", rng.pick(&["resnet", "bert", "Vision"]))),
                user: rng.pick(&["alice", "bob"]).to_string(),
                host: rng
                    .chance(70)
                    .then(|| rng.pick(&["gpu01", "gpu02"]).to_string()),
                status: Some(rng.pick(&[
                    RunStatus::Finished,
                    RunStatus::Failed,
                    RunStatus::Running,
                ])),
                start_time: Some(1_700_000_000_000 + i * 1000),
                tags,
                params,
                ..Default::default()
            })
            .unwrap();
        let mut points = Vec::new();
        for key in METRICS {
            if rng.chance(75) {
                let value = match rng.below(10) {
                    0 => f64::NAN,
                    1 => 0.9,
                    _ => rng.below(1000) as f64 / 1000.0,
                };
                points.push(KeyedPoint {
                    key: key.into(),
                    step: 0,
                    timestamp: 1,
                    value,
                });
            }
        }
        if !points.is_empty() {
            store.log_metrics(&run.id, &points).unwrap();
        }
    }
}

fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn op(rng: &mut Rng) -> &'static str {
    rng.pick(&["=", "!=", "<", "<=", ">", ">="])
}

/// One condition over a field of a random kind.
fn condition(rng: &mut Rng) -> String {
    match rng.below(11) {
        0 | 1 => format!(
            "metrics.{} {} {}",
            rng.pick(&METRICS),
            op(rng),
            rng.pick(&["0.5", "0.9", "0", "1", "NaN", "0.25"])
        ),
        2 => format!(
            "params.{} {} {}",
            rng.pick(&PARAMS),
            op(rng),
            rng.pick(&["0.01", "1", "'adam'", "'0.01'", "2", "'sgd'"])
        ),
        3 => format!(
            "tags.{} {} {}",
            rng.pick(&TAGS),
            rng.pick(&["=", "!="]),
            quoted(rng.pick(&WORDS))
        ),
        4 => format!(
            "status {} {}",
            rng.pick(&["=", "!="]),
            quoted(rng.pick(&["finished", "FAILED", "running"]))
        ),
        5 => format!(
            "{} {} {}",
            rng.pick(&["name", "user", "host", "tags.team", "params.optimizer"]),
            rng.pick(&["like", "not like", "ilike", "not ilike"]),
            quoted(rng.pick(&["res%", "%t-1_", "vision%", "%a%", "bob", "gpu0_"]))
        ),
        6 => format!(
            "{} {}in ({}, {})",
            rng.pick(&["params.lr", "tags.stage", "status", "user", "metrics.acc"]),
            if rng.chance(30) { "not " } else { "" },
            rng.pick(&["'adam'", "0.9", "'finished'", "'alice'", "'prod'"]),
            rng.pick(&["'0.01'", "'dev'", "'failed'", "1", "'bob'"])
        ),
        7 => format!(
            "{} is {}null",
            rng.pick(&[
                "metrics.f1",
                "params.layers",
                "tags.stage",
                "host",
                "end_time"
            ]),
            if rng.chance(50) { "not " } else { "" }
        ),
        8 => rng.pick(&["vision", "prod", "'res'", "nlp"]).to_string(),
        9 => format!(
            "start_time {} {}",
            op(rng),
            1_700_000_000_000 + rng.below(40) as i64 * 1000
        ),
        _ => format!(
            "run_name {} {}",
            op(rng),
            quoted(rng.pick(&["bert-3", "resnet-10", "Vision-2"]))
        ),
    }
}

/// A filter of one to four conditions joined by `and`/`or`, some negated or grouped.
fn filter(rng: &mut Rng) -> String {
    let mut text = condition(rng);
    for _ in 0..rng.below(4) {
        let mut next = condition(rng);
        if rng.chance(25) {
            next = format!("not ({next})");
        }
        text = if rng.chance(30) {
            format!("({text}) {} {next}", rng.pick(&["and", "or"]))
        } else {
            format!("{text} {} {next}", rng.pick(&["and", "or"]))
        };
    }
    text
}

#[test]
fn gate_conditions_select_the_runs_the_search_selects() {
    for seed in [1_u64, 7, 42, 2026] {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join(".kiroku"), false).unwrap();
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        populate(&store, &mut rng);
        let all = store
            .search_runs(&RunQuery {
                limit: Some(1000),
                ..Default::default()
            })
            .unwrap()
            .runs;
        let details: Vec<_> = all.iter().map(|r| store.run(&r.id).unwrap()).collect();
        let mut compared = 0;
        for _ in 0..250 {
            let text = filter(&mut rng);
            let Ok(Some(expr)) = kiroku::query::parse_filter(&text) else {
                continue;
            };
            let by_sql: BTreeSet<String> = store
                .search_runs(&RunQuery {
                    filter: Some(text.clone()),
                    limit: Some(1000),
                    ..Default::default()
                })
                .unwrap()
                .runs
                .into_iter()
                .map(|r| r.id)
                .collect();
            let in_memory: BTreeSet<String> = details
                .iter()
                .filter(|d| facts::holds(&expr, &d.run, &d.inputs))
                .map(|d| d.run.id.clone())
                .collect();
            assert_eq!(
                in_memory, by_sql,
                "seed {seed}: `{text}` selects other runs in memory than in SQL"
            );
            compared += 1;
        }
        assert!(
            compared > 200,
            "seed {seed}: only {compared} filters parsed"
        );
    }
}
