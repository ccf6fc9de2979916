//! kiroku's native GX suites against Great Expectations itself: hundreds of seeded datasets
//! (ints, floats with NaN and infinities, strings with empties, pandas' null spellings, unicode
//! and regex metacharacters, duplicates, columns pandas types as strings) and suites drawing
//! every supported expectation type with random kwargs and `mostly`, run by GX 1.x on pandas
//! (`tests/gx_oracle.py`, one process per shard, since GX starts slowly) and by
//! `kiroku::checks::gx` on the same CSV files, and on the same frames written as Parquet by
//! pandas (kiroku's `read_parquet` path). Compared per expectation: success (or GX's
//! refusal / raised exception against kiroku's `error`), observed value, element, missing and
//! unexpected counts, unexpected percent and the unexpected rows' 0-based indices.
mod common;

use common::requires::require_python_module;
use kiroku::checks::gx::frame::Frame;
use kiroku::checks::gx::{parse_suite, run_expectations, GxOutcome, SAMPLE_LIMIT};
use kiroku::model::CheckStatus;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

const CASES: usize = 160;
const SHARDS: usize = 2;
const SEED: u64 = 0x6b69726f6b75;

/// splitmix64: small, seeded, the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 % 1.0 < p
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn int(&mut self, low: i64, high: i64) -> i64 {
        low + self.below((high - low + 1) as usize) as i64
    }
}

const NULLS: [&str; 8] = ["", "NA", "null", "NaN", "None", "N/A", "nan", "<NA>"];
const FLOATS: [&str; 16] = [
    "1.5",
    "-0.25",
    "1e3",
    ".5",
    "3.",
    "inf",
    "-inf",
    "-0.0",
    "0",
    "2",
    "2.0",
    "1E-2",
    "-Infinity",
    "7.25",
    "1e16",
    "0.0001",
];
const STRINGS: [&str; 30] = [
    "a", "b", "ab", "a.b", "a+b", "(x)", "[y]", "ü", "日本", "none", "Null", " NA", "a b", "$",
    "^", "\\d", "10", "2", " ", "a\nb", "x,y", "q\"q", "abc", "ABC", "é", "e+1", "-", "1.0",
    "tab\tx", "end\n",
];
/// Python `re` patterns, with metacharacters. Not `x{,2}`: pandas 3 hands most patterns on
/// pyarrow-backed strings to RE2, which reads `{,2}` as literal text where Python's `re` (and
/// kiroku) read `{0,2}`.
const PATTERNS: [&str; 24] = [
    "a",
    "^a",
    "b$",
    "\\.",
    "[0-9]+",
    "^\\d+$",
    "a|b",
    "(x)?y",
    "\\s",
    "^$",
    "ü",
    "日",
    "^[a-z]{2}$",
    "x{2,}",
    "\\(",
    "\\[y\\]",
    ".",
    "^-",
    "e\\+",
    "^1\\.0$",
    "inf",
    "(?i)abc",
    "n$",
    "{",
];

/// One generated dataset: its columns (name, cells as written) and each column's value pool
/// for building value sets and bounds.
struct Dataset {
    names: Vec<String>,
    cells: Vec<Vec<String>>, // by column
    rows: usize,
}

fn null(rng: &mut Rng) -> String {
    rng.pick(&NULLS).to_string()
}

fn generate_dataset(rng: &mut Rng) -> Dataset {
    let rows = if rng.chance(0.05) {
        0
    } else {
        rng.int(1, 40) as usize
    };
    let null_rate = *rng.pick(&[0.0, 0.1, 0.3, 0.9]);
    let mixed = rng.chance(0.4);
    let mut columns: Vec<(String, Vec<String>)> = Vec::new();
    let mut column = |name: &str,
                      rng: &mut Rng,
                      cell: &mut dyn FnMut(&mut Rng, usize) -> String,
                      nullable: bool| {
        let cells = (0..rows)
            .map(|row| {
                if nullable && rng.chance(null_rate) {
                    null(rng)
                } else {
                    cell(rng, row)
                }
            })
            .collect();
        columns.push((name.to_string(), cells));
    };
    column(
        "id",
        rng,
        &mut |rng, row| {
            if rng.chance(0.1) {
                "0".into()
            } else {
                row.to_string()
            }
        },
        false,
    );
    column("n", rng, &mut |rng, _| rng.int(-5, 20).to_string(), true);
    column("x", rng, &mut |rng, _| rng.pick(&FLOATS).to_string(), true);
    column("y", rng, &mut |rng, _| rng.pick(&FLOATS).to_string(), true);
    column("s", rng, &mut |rng, _| rng.pick(&STRINGS).to_string(), true);
    column(
        "m",
        rng,
        &mut |rng, _| {
            if mixed && rng.chance(0.2) {
                rng.pick(&["abc", "5", "x1", "2.5"]).to_string()
            } else {
                rng.int(0, 6).to_string()
            }
        },
        true,
    );
    let flag_nullable = rng.chance(0.3);
    column(
        "flag",
        rng,
        &mut |rng, _| rng.pick(&["true", "False", "TRUE", "false"]).to_string(),
        flag_nullable,
    );
    // Shuffle the column order now and then (the ordered-list expectation sees it).
    if rng.chance(0.3) {
        let from = rng.below(columns.len());
        let column = columns.remove(from);
        let to = rng.below(columns.len() + 1);
        columns.insert(to, column);
    }
    Dataset {
        names: columns.iter().map(|(name, _)| name.clone()).collect(),
        cells: columns.into_iter().map(|(_, cells)| cells).collect(),
        rows,
    }
}

fn write_csv(dataset: &Dataset, path: &Path) {
    let mut writer = csv::Writer::from_path(path).unwrap();
    writer.write_record(&dataset.names).unwrap();
    for row in 0..dataset.rows {
        writer
            .write_record(dataset.cells.iter().map(|cells| cells[row].as_str()))
            .unwrap();
    }
    writer.flush().unwrap();
}

/// A random bound: an int or a float near the data, or none.
fn number(rng: &mut Rng, low: i64, high: i64) -> Value {
    if rng.chance(0.5) {
        json!(rng.int(low, high))
    } else {
        json!(rng.int(low * 4, high * 4) as f64 / 4.0 + 0.125 * rng.below(2) as f64)
    }
}

fn bounds(
    rng: &mut Rng,
    kwargs: &mut serde_json::Map<String, Value>,
    make: &mut dyn FnMut(&mut Rng) -> Value,
) {
    let which = rng.below(10);
    if which != 0 {
        kwargs.insert("min_value".into(), make(rng));
    }
    if which != 1 && (which != 9 || !kwargs.contains_key("min_value")) {
        kwargs.insert("max_value".into(), make(rng));
    }
    if let (Some(Value::Number(min)), Some(Value::Number(max))) =
        (kwargs.get("min_value"), kwargs.get("max_value"))
    {
        // Mostly ordered bounds (GX raises on min > max for map `between`; kept sometimes).
        if min.as_f64() > max.as_f64() && rng.chance(0.8) {
            let (min, max) = (max.clone(), min.clone());
            kwargs.insert("min_value".into(), Value::Number(min));
            kwargs.insert("max_value".into(), Value::Number(max));
        }
    }
    for key in ["strict_min", "strict_max"] {
        if rng.chance(0.3) {
            kwargs.insert(key.into(), json!(rng.chance(0.5)));
        }
    }
}

fn mostly(rng: &mut Rng, kwargs: &mut serde_json::Map<String, Value>) {
    if rng.chance(0.5) {
        kwargs.insert(
            "mostly".into(),
            json!(*rng.pick(&[0.0, 0.5, 0.8, 0.9, 0.95, 0.99, 1.0])),
        );
    }
}

/// A value-set member for `column`: numbers for numeric columns, strings for text ones, now and
/// then the other kind.
fn member(rng: &mut Rng, column: &str) -> Value {
    let numeric = match column {
        "id" | "n" | "m" => json!(rng.int(-2, 20)),
        "x" | "y" => json!(*rng.pick(&[1.5, -0.25, 1000.0, 0.5, 3.0, 0.0, 2.0, 0.01, 7.25, 1e16])),
        "flag" => json!(rng.chance(0.5)),
        _ => json!(rng.int(0, 10)),
    };
    let text = json!(*rng.pick(&STRINGS));
    let prefers_text = matches!(column, "s") || (column == "m" && rng.chance(0.5));
    if prefers_text != rng.chance(0.1) {
        text
    } else {
        numeric
    }
}

const NUMERIC: [&str; 4] = ["id", "n", "x", "y"];
const ALL: [&str; 7] = ["id", "n", "x", "y", "s", "m", "flag"];

fn generate_expectation(rng: &mut Rng, dataset: &Dataset) -> Value {
    let mut kwargs = serde_json::Map::new();
    let kind = rng.below(22);
    let column = |rng: &mut Rng, from: &[&str]| -> String { rng.pick(from).to_string() };
    let type_name = match kind {
        0 => {
            bounds(rng, &mut kwargs, &mut |rng| json!(rng.int(0, 45)));
            "expect_table_row_count_to_be_between"
        }
        1 => {
            let mut set: Vec<String> = dataset
                .names
                .iter()
                .filter(|_| !rng.chance(0.15))
                .cloned()
                .collect();
            if rng.chance(0.3) {
                set.push("extra".into());
            }
            kwargs.insert("column_set".into(), json!(set));
            if rng.chance(0.6) {
                kwargs.insert("exact_match".into(), json!(rng.chance(0.5)));
            }
            "expect_table_columns_to_match_set"
        }
        2 => {
            let mut list = dataset.names.clone();
            if rng.chance(0.5) {
                let (a, b) = (rng.below(list.len()), rng.below(list.len()));
                list.swap(a, b);
            }
            if rng.chance(0.2) {
                list.pop();
            }
            kwargs.insert("column_list".into(), json!(list));
            "expect_table_columns_to_match_ordered_list"
        }
        3 => {
            kwargs.insert(
                "column".into(),
                json!(if rng.chance(0.2) {
                    "nope".to_string()
                } else {
                    column(rng, &ALL)
                }),
            );
            if rng.chance(0.5) {
                kwargs.insert("column_index".into(), json!(rng.int(-3, 8)));
            }
            "expect_column_to_exist"
        }
        4 => {
            kwargs.insert("column".into(), json!(column(rng, &ALL)));
            mostly(rng, &mut kwargs);
            "expect_column_values_to_not_be_null"
        }
        5 | 6 => {
            let name = column(rng, &["id", "n", "x", "y", "m", "s"]);
            kwargs.insert("column".into(), json!(name));
            if name == "s" && rng.chance(0.8) {
                bounds(rng, &mut kwargs, &mut |rng| {
                    json!(*rng.pick(&["a", "b", "m", "é", "1"]))
                });
            } else {
                bounds(rng, &mut kwargs, &mut |rng| number(rng, -3, 12));
            }
            mostly(rng, &mut kwargs);
            "expect_column_values_to_be_between"
        }
        7 | 8 => {
            let name = column(rng, &ALL);
            let size = rng.int(0, 6);
            let set: Vec<Value> = (0..size).map(|_| member(rng, &name)).collect();
            kwargs.insert("column".into(), json!(name));
            kwargs.insert("value_set".into(), json!(set));
            mostly(rng, &mut kwargs);
            if kind == 7 {
                "expect_column_values_to_be_in_set"
            } else {
                "expect_column_values_to_not_be_in_set"
            }
        }
        9 => {
            kwargs.insert("column".into(), json!(column(rng, &ALL)));
            mostly(rng, &mut kwargs);
            "expect_column_values_to_be_unique"
        }
        10 | 11 => {
            kwargs.insert(
                "column".into(),
                json!(column(rng, &["s", "s", "m", "x", "id", "flag"])),
            );
            kwargs.insert("regex".into(), json!(*rng.pick(&PATTERNS)));
            mostly(rng, &mut kwargs);
            "expect_column_values_to_match_regex"
        }
        12 => {
            kwargs.insert(
                "column".into(),
                json!(column(rng, &["s", "s", "m", "x", "id"])),
            );
            bounds(rng, &mut kwargs, &mut |rng| json!(rng.int(0, 5)));
            mostly(rng, &mut kwargs);
            "expect_column_value_lengths_to_be_between"
        }
        13..=17 => {
            let stat = match kind {
                13 => "mean",
                14 => "median",
                15 => "stdev",
                16 => "min",
                _ => "max",
            };
            let name = if rng.chance(0.1) {
                "s".to_string()
            } else {
                column(rng, &NUMERIC)
            };
            kwargs.insert("column".into(), json!(name));
            if name == "s" && matches!(stat, "min" | "max") {
                bounds(rng, &mut kwargs, &mut |rng| {
                    json!(*rng.pick(&["a", "b", "m"]))
                });
            } else {
                bounds(rng, &mut kwargs, &mut |rng| number(rng, -3, 12));
            }
            return json!({"type": format!("expect_column_{stat}_to_be_between"), "kwargs": kwargs});
        }
        18 => {
            kwargs.insert("column".into(), json!(column(rng, &ALL)));
            bounds(rng, &mut kwargs, &mut |rng| json!(rng.int(0, 25)));
            "expect_column_unique_value_count_to_be_between"
        }
        19 => {
            kwargs.insert("column".into(), json!(column(rng, &ALL)));
            bounds(rng, &mut kwargs, &mut |rng| {
                json!(rng.below(5) as f64 / 4.0)
            });
            "expect_column_proportion_of_unique_values_to_be_between"
        }
        20 => {
            let mut list: Vec<String> = Vec::new();
            for _ in 0..rng.int(2, 3) {
                let name = column(rng, &["n", "s", "flag", "m", "x", "id"]);
                if !list.contains(&name) {
                    list.push(name);
                }
            }
            if list.len() < 2 {
                list.push("y".into());
            }
            kwargs.insert("column_list".into(), json!(list));
            if rng.chance(0.3) {
                kwargs.insert(
                    "ignore_row_if".into(),
                    json!(*rng.pick(&["all_values_are_missing", "any_value_is_missing", "never"])),
                );
            }
            mostly(rng, &mut kwargs);
            "expect_compound_columns_to_be_unique"
        }
        _ => {
            let (a, b) = *rng.pick(&[("x", "y"), ("n", "id"), ("id", "n"), ("y", "x"), ("n", "x")]);
            kwargs.insert("column_A".into(), json!(a));
            kwargs.insert("column_B".into(), json!(b));
            if rng.chance(0.6) {
                kwargs.insert("or_equal".into(), json!(rng.chance(0.5)));
            }
            if rng.chance(0.3) {
                kwargs.insert(
                    "ignore_row_if".into(),
                    json!(*rng.pick(&[
                        "both_values_are_missing",
                        "either_value_is_missing",
                        "neither"
                    ])),
                );
            }
            mostly(rng, &mut kwargs);
            "expect_column_pair_values_a_to_be_greater_than_b"
        }
    };
    json!({"type": type_name, "kwargs": kwargs})
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// Whether two observed values agree: numbers within a relative 1e-9 (pandas and kiroku may
/// round a sum's last bit differently), the rest exactly.
fn same_value(gx: &Value, kiroku: &Value) -> bool {
    match (gx, kiroku) {
        (Value::Number(a), Value::Number(b)) => close(a.as_f64().unwrap(), b.as_f64().unwrap()),
        (Value::Bool(a), Value::Number(b)) | (Value::Number(b), Value::Bool(a)) => {
            b.as_f64() == Some(f64::from(u8::from(*a)))
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same_value(a, b))
        }
        _ => gx == kiroku,
    }
}

/// The differences between GX's entry and kiroku's outcome for one expectation, in words.
fn compare(gx: &Value, kiroku: &GxOutcome) -> Vec<String> {
    let mut problems = Vec::new();
    let status = kiroku.result.status;
    if let Some(rejected) = gx.get("rejected") {
        if status != CheckStatus::Error {
            problems.push(format!(
                "GX refused the configuration ({rejected}) but kiroku says {status}"
            ));
        }
        return problems;
    }
    if gx["raised"] == json!(true) {
        if status != CheckStatus::Error {
            problems.push(format!(
                "GX raised ({}) but kiroku says {status}",
                gx["exception"]
            ));
        }
        return problems;
    }
    let Some(evaluation) = &kiroku.evaluation else {
        problems.push(format!(
            "GX ran it but kiroku says {status}: {:?}",
            kiroku.result.message
        ));
        return problems;
    };
    if gx["success"] != json!(evaluation.success) {
        problems.push(format!(
            "success: GX {} kiroku {}",
            gx["success"], evaluation.success
        ));
    }
    if gx["has_observed_value"] == json!(true) {
        let observed = evaluation.observed_value.clone().unwrap_or(Value::Null);
        if !same_value(&gx["observed_value"], &observed) {
            problems.push(format!(
                "observed_value: GX {} kiroku {observed}",
                gx["observed_value"]
            ));
        }
    }
    let count = |value: Option<u64>| value.map_or(Value::Null, Value::from);
    for (field, ours) in [
        ("element_count", count(evaluation.element_count)),
        ("missing_count", count(evaluation.missing_count)),
        ("unexpected_count", count(evaluation.unexpected_count)),
    ] {
        if gx[field] != ours {
            problems.push(format!("{field}: GX {} kiroku {ours}", gx[field]));
        }
    }
    let percent = evaluation
        .unexpected_percent
        .map_or(Value::Null, Value::from);
    if !same_value(&gx["unexpected_percent"], &percent) {
        problems.push(format!(
            "unexpected_percent: GX {} kiroku {percent}",
            gx["unexpected_percent"]
        ));
    }
    if let Value::Array(indices) = &gx["unexpected_index_list"] {
        let ours = &evaluation.unexpected_rows;
        let theirs: Vec<u64> = indices.iter().filter_map(Value::as_u64).collect();
        if theirs.len() != indices.len() {
            problems.push(format!(
                "unexpected_index_list: GX gave indices that are not row numbers: {indices:?}"
            ));
        } else if &theirs != ours {
            problems.push(format!(
                "unexpected_index_list: GX {theirs:?} kiroku {ours:?}"
            ));
        }
    }
    if !gx["details"].is_null() && gx["details"] != evaluation.details {
        problems.push(format!(
            "details: GX {} kiroku {}",
            gx["details"], evaluation.details
        ));
    }
    problems
}

#[test]
fn kiroku_runs_gx_suites_as_great_expectations_does() {
    if !require_python_module("great_expectations") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(SEED);
    let mut cases: Vec<(String, PathBuf, PathBuf)> = Vec::new();
    for case in 0..CASES {
        let dataset = generate_dataset(&mut rng);
        let csv = dir.path().join(format!("case{case}.csv"));
        write_csv(&dataset, &csv);
        let count = rng.int(12, 26);
        let mut expectations: Vec<Value> = (0..count)
            .map(|_| generate_expectation(&mut rng, &dataset))
            .collect();
        // An expectation type kiroku does not run must come back `unsupported`.
        expectations
            .push(json!({"type": "expect_column_values_to_be_null", "kwargs": {"column": "s"}}));
        let suite = dir.path().join(format!("case{case}.json"));
        std::fs::write(
            &suite,
            json!({"name": format!("case{case}"), "expectations": expectations}).to_string(),
        )
        .unwrap();
        cases.push((format!("case{case}"), csv, suite));
    }
    let oracle = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/gx_oracle.py");
    let shards: Vec<_> = (0..SHARDS)
        .map(|shard| {
            let manifest: Vec<Value> = cases
                .iter()
                .skip(shard)
                .step_by(SHARDS)
                .map(|(case, csv, suite)| {
                    json!({"case": case, "csv": csv, "suite": suite, "parquet": csv.with_extension("parquet")})
                })
                .collect();
            let manifest_path = dir.path().join(format!("manifest{shard}.json"));
            std::fs::write(&manifest_path, Value::Array(manifest).to_string()).unwrap();
            let out = dir.path().join(format!("gx{shard}.json"));
            let child = Command::new("python3")
                .arg(&oracle)
                .arg(&manifest_path)
                .arg(&out)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("python3 runs");
            (child, out)
        })
        .collect();
    let mut gx = serde_json::Map::new();
    for (child, out) in shards {
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "the GX oracle failed:\n{}",
            &stderr[stderr.len().saturating_sub(4000)..]
        );
        let Value::Object(part) =
            serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap()
        else {
            panic!("the oracle writes an object")
        };
        gx.extend(part);
    }

    let mut problems = Vec::new();
    let mut compared = 0;
    // Per type: how many GX evaluated without raising, and how many of those passed.
    let mut tally: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    for (case, csv, suite_path) in &cases {
        let text = std::fs::read_to_string(suite_path).unwrap();
        let suite = parse_suite(&text, &suite_path.display().to_string()).unwrap();
        let frame = match Frame::read_csv(csv, None) {
            Ok(frame) => frame,
            Err(error) => {
                problems.push(format!(
                    "{case}: kiroku could not read the CSV pandas read: {error}"
                ));
                continue;
            }
        };
        let entries = gx[case].as_array().expect("one entry list per case");
        // The frame pandas read, written as Parquet by pandas, reads to the same answers.
        let parquet = match Frame::read_parquet(&csv.with_extension("parquet"), &frame.columns) {
            Ok(parquet) => parquet,
            Err(error) => {
                problems.push(format!(
                    "{case}: kiroku could not read the Parquet pandas wrote: {error}"
                ));
                continue;
            }
        };
        for (frame, format) in [(&frame, "csv"), (&parquet, "parquet")] {
            let outcomes = run_expectations(&suite, frame, None, SAMPLE_LIMIT);
            for (index, (outcome, expectation)) in
                outcomes.iter().zip(&suite.expectations).enumerate()
            {
                if expectation.type_name == "expect_column_values_to_be_null" {
                    assert_eq!(outcome.result.status, CheckStatus::Unsupported, "{case}");
                    continue;
                }
                let entry = &entries[index];
                if entry.is_null() {
                    problems.push(format!("{case}[{index}]: GX returned no result"));
                    continue;
                }
                if format == "csv" {
                    compared += 1;
                    if entry.get("raised") == Some(&json!(false)) {
                        let counts = tally.entry(expectation.type_name.clone()).or_default();
                        counts.0 += 1;
                        counts.1 += usize::from(entry["success"] == json!(true));
                    }
                }
                for problem in compare(entry, outcome) {
                    problems.push(format!(
                        "{case}[{index}] ({format}) {} {}: {problem}",
                        expectation.type_name,
                        Value::Object(expectation.kwargs.clone())
                    ));
                }
            }
        }
    }
    assert!(
        compared > CASES * 10,
        "only {compared} expectations compared"
    );
    // Every supported type was evaluated for real, and both passed and failed somewhere.
    assert_eq!(tally.len(), 20, "types GX evaluated: {tally:?}");
    for (type_name, (evaluated, passed)) in &tally {
        assert!(
            *evaluated >= 20 && *passed > 0 && passed < evaluated,
            "{type_name}: {passed} of {evaluated} passed; the generator must exercise both outcomes"
        );
    }
    assert!(
        problems.is_empty(),
        "{} differences from GX over {compared} expectations (data in {}):\n{}",
        problems.len(),
        dir.keep().display(),
        problems
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
