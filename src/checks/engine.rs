//! Running a suite: for each dataset, read the references its drift and overlap checks name
//! (one pass per reference), then one pass over the dataset feeding every check's accumulator,
//! reading only the columns the checks need; then thresholds turn observations into results.
//!
//! The reader runs on threads of its own (CSV: two parsing threads; Parquet: decoding beside
//! the file's hashing) and the checks on the calling thread and one more, so a run keeps two
//! cores busy. A unique check that spilled its keys past its memory budget may ask for a
//! second read of the rows its samples need (`revisit_rows`). A check that cannot run (a missing column, an
//! unreadable reference, an unknown input) gets an `error` result; the others still run. Data
//! that cannot be read at all is an error of the whole run.
use super::dataset::{read, version_hash, Dataset, ReadOptions, ReadProgress};
use super::drift::{DriftAccumulator, Reference, ReferenceBuilder};
use super::evaluate::{to_result, Observation};
use super::infer::TypeInference;
use super::json_number;
use super::rowcheck::{
    collect_keys, Accumulator, CategoryShares, Compare, CompareRight, NotNull, Overlap, Unique,
    ValueCheck, ValueSet, ValueTest,
};
use super::spec::{Check, CheckKind, Operand, SchemaSpec, Suite};
use super::spill::KEYS_IN_MEMORY;
use super::stats::{Freshness, StatAccumulator};
use super::tally::{Sampler, Tally};
use super::{DataInput, SuiteOutcome};
use crate::error::{KirokuError, Result};
use crate::model::{CheckResult, CheckStatus, CheckedDataset, ColumnType, DataFormat, Millis};
use serde_json::{json, Value as Json};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Looks up a reference that is no input and no path (`NAME@N`, a version hash) to a path.
pub type ReferenceResolver<'a> = &'a dyn Fn(&str) -> Result<PathBuf>;

/// How to run a suite.
#[derive(Clone, Default)]
pub struct RunOptions<'a> {
    /// Failing rows kept per check, over the suite's and checks' own limits.
    pub sample_limit: Option<usize>,
    /// Bytes and rows read so far, for a progress display.
    pub progress: Option<Arc<ReadProgress>>,
    /// "Now" for freshness checks (0: the current time).
    pub now: Millis,
    pub resolve: Option<ReferenceResolver<'a>>,
}

/// Runs every check of `suite` over `inputs` (a check without `dataset` reads the first).
pub fn run_suite(suite: &Suite, inputs: &[DataInput]) -> Result<SuiteOutcome> {
    run_suite_with(suite, inputs, &RunOptions::default())
}

/// [`run_suite`] with options.
pub fn run_suite_with(
    suite: &Suite,
    inputs: &[DataInput],
    options: &RunOptions<'_>,
) -> Result<SuiteOutcome> {
    run_suite_keeping(suite, inputs, options, KEYS_IN_MEMORY)
}

/// [`run_suite_with`] where unique checks and distinct counts keep at most `keys_in_memory`
/// keys in memory each before spilling (tests make them spill on small data).
pub(crate) fn run_suite_keeping(
    suite: &Suite,
    inputs: &[DataInput],
    options: &RunOptions<'_>,
    keys_in_memory: usize,
) -> Result<SuiteOutcome> {
    if inputs.is_empty() {
        return Err(KirokuError::Invalid(
            "no data to check: give --data NAME=PATH".into(),
        ));
    }
    let datasets: Vec<Dataset> = inputs
        .iter()
        .map(|input| Dataset::open(&input.path))
        .collect::<Result<_>>()?;
    let mut results: Vec<Option<CheckResult>> = vec![None; suite.checks.len()];
    let mut by_input: Vec<Vec<usize>> = vec![Vec::new(); inputs.len()];
    for (index, check) in suite.checks.iter().enumerate() {
        match &check.dataset {
            None => by_input[0].push(index),
            Some(name) => match inputs.iter().position(|input| &input.name == name) {
                Some(position) => by_input[position].push(index),
                None => {
                    let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
                    results[index] = Some(to_result(
                        check,
                        Some(name),
                        Json::Null,
                        Observation::Error(format!(
                            "no input named '{name}' (inputs: {}); give --data {name}=PATH",
                            names.join(", ")
                        )),
                    ));
                }
            },
        }
    }
    let now_seconds = if options.now != 0 {
        options.now as f64 / 1000.0
    } else {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    };
    let mut checked = Vec::new();
    let mut notes = Vec::new();
    for (position, input) in inputs.iter().enumerate() {
        let dataset = &datasets[position];
        let run = DatasetRun {
            suite,
            input,
            inputs,
            dataset,
            options,
            now_seconds,
            keys_in_memory,
        };
        let (dataset_results, checked_dataset, dataset_notes) = run.run(&by_input[position])?;
        for (index, result) in dataset_results {
            results[index] = Some(result);
        }
        checked.push(checked_dataset);
        notes.extend(dataset_notes);
    }
    let results: Vec<CheckResult> = results.into_iter().flatten().collect();
    Ok(SuiteOutcome {
        suite: suite.name.clone(),
        suite_hash: suite.hash.clone(),
        datasets: checked,
        status: CheckStatus::overall(results.iter().map(|r| r.status)),
        results,
        notes,
    })
}

/// One dataset's results (by check index), what was read, and notes on the data.
type DatasetOutcome = (Vec<(usize, CheckResult)>, CheckedDataset, Vec<String>);

/// A reference read's outcome per check index.
type ReferenceReads = Vec<(usize, std::result::Result<ReferenceData, String>)>;

/// One dataset's pass.
struct DatasetRun<'a> {
    suite: &'a Suite,
    input: &'a DataInput,
    inputs: &'a [DataInput],
    dataset: &'a Dataset,
    options: &'a RunOptions<'a>,
    now_seconds: f64,
    keys_in_memory: usize,
}

/// What a check becomes before the pass.
enum Plan {
    Stream(Box<dyn Accumulator>),
    RowCount,
    ColumnCount,
    Schema(SchemaPlan),
    Done(Observation),
}

/// Chunk positions of the columns read, by name.
struct Projection<'a> {
    dataset: &'a Dataset,
    columns: Vec<usize>,
}

impl Projection<'_> {
    /// The chunk position of column `name`, adding it to the read.
    fn position(&mut self, name: &str) -> std::result::Result<usize, String> {
        let index = self.dataset.column_index(name).ok_or_else(|| {
            format!(
                "no column '{name}' in {} (columns: {})",
                self.dataset.path.display(),
                abbreviated(&self.dataset.columns)
            )
        })?;
        Ok(match self.columns.iter().position(|c| *c == index) {
            Some(position) => position,
            None => {
                self.columns.push(index);
                self.columns.len() - 1
            }
        })
    }

    fn named(&mut self, names: &[&str]) -> std::result::Result<Vec<(String, usize)>, String> {
        names
            .iter()
            .map(|name| Ok((name.to_string(), self.position(name)?)))
            .collect()
    }
}

fn abbreviated(columns: &[String]) -> String {
    if columns.len() <= 12 {
        columns.join(", ")
    } else {
        format!("{}, … ({} in all)", columns[..12].join(", "), columns.len())
    }
}

impl DatasetRun<'_> {
    fn sample_limit(&self, check: &Check) -> usize {
        self.options
            .sample_limit
            .or(check.sample_limit)
            .unwrap_or(self.suite.sample_limit)
    }

    fn run(&self, checks: &[usize]) -> Result<DatasetOutcome> {
        let references = self.read_references(checks);
        let mut projection = Projection {
            dataset: self.dataset,
            columns: Vec::new(),
        };
        let keys: Vec<(String, usize)> = self
            .suite
            .key
            .iter()
            .filter(|key| self.dataset.column_index(key).is_some())
            .filter_map(|key| Some((key.clone(), projection.position(key).ok()?)))
            .collect();
        let mut plans: Vec<(usize, Plan)> = Vec::new();
        for &index in checks {
            let check = &self.suite.checks[index];
            let plan = self
                .plan(check, &mut projection, &keys, &references)
                .unwrap_or_else(|message| Plan::Done(Observation::Error(message)));
            plans.push((index, plan));
        }
        let options = ReadOptions {
            columns: projection.columns.clone(),
            hash: true,
            progress: self.options.progress.clone(),
        };
        let summary = read_into_plans(self.dataset, &options, &mut plans)?;
        revisit_rows(self.dataset, &options, &mut plans)?;
        let rows = summary.rows;
        let name = self.input.name.as_str();
        let results = plans
            .into_iter()
            .map(|(index, plan)| {
                let check = &self.suite.checks[index];
                let observation = match plan {
                    Plan::Stream(accumulator) => accumulator.finish(rows),
                    Plan::RowCount => metric(rows as f64),
                    Plan::ColumnCount => metric(self.dataset.columns.len() as f64),
                    Plan::Schema(schema) => schema.finish(self.dataset),
                    Plan::Done(observation) => observation,
                };
                (
                    index,
                    to_result(check, Some(name), expected_json(&check.kind), observation),
                )
            })
            .collect();
        let version_id = version_hash(
            summary
                .files
                .iter()
                .map(|f| (f.relative.as_str(), f.sha256.as_deref().unwrap_or_default())),
        );
        let mut notes = Vec::new();
        if summary.ragged_rows > 0 {
            notes.push(format!(
                "{name}: {} rows have more or fewer fields than the header (rows {}{}); missing cells read as null, extra ones are ignored",
                summary.ragged_rows,
                summary
                    .ragged_examples
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                if summary.ragged_rows > summary.ragged_examples.len() as u64 { ", …" } else { "" }
            ));
        }
        let checked = CheckedDataset {
            name: name.to_string(),
            version_id,
            path: self.input.path.display().to_string(),
            rows,
        };
        Ok((results, checked, notes))
    }

    fn tally(
        &self,
        check: &Check,
        keys: &[(String, usize)],
        own: &[(String, usize)],
        values: bool,
    ) -> Tally {
        Tally::new(Sampler::new(self.sample_limit(check), keys, own), values)
    }

    fn plan(
        &self,
        check: &Check,
        projection: &mut Projection<'_>,
        keys: &[(String, usize)],
        references: &HashMap<usize, std::result::Result<ReferenceData, String>>,
    ) -> std::result::Result<Plan, String> {
        let semantics = check.semantics;
        let own = projection.named(&check.columns())?;
        let first = own.first().map(|(_, p)| *p).unwrap_or(0);
        let value_check = |test: ValueTest, values: bool| -> Plan {
            Plan::Stream(Box::new(ValueCheck::new(
                first,
                test,
                self.tally(check, keys, &own, values),
            )))
        };
        Ok(match &check.kind {
            CheckKind::RowCount => Plan::RowCount,
            CheckKind::ColumnCount => Plan::ColumnCount,
            CheckKind::Unsupported { .. } => Plan::Done(Observation::Shape {
                pass: true,
                observed: Json::Null,
                details: Json::Null,
                message: Some(format!("kiroku does not run '{}' checks", check.check_type)),
            }),
            CheckKind::Schema(spec) => {
                Plan::Schema(SchemaPlan::new(spec.clone(), self.dataset, projection)?)
            }
            CheckKind::ColumnExists { column, index } => {
                let found = self.dataset.column_index(column);
                let pass = match index {
                    Some(index) => found == Some(*index),
                    None => found.is_some(),
                };
                Plan::Done(Observation::Shape {
                    pass,
                    observed: json!({"index": found}),
                    details: Json::Null,
                    message: (!pass).then(|| match (found, index) {
                        (None, _) => format!("no column '{column}'"),
                        (Some(found), _) => {
                            format!("'{column}' is column {found}, not {}", index.unwrap_or(0))
                        }
                    }),
                })
            }
            CheckKind::ColumnSet { columns, exact } => {
                let missing: Vec<&String> = columns
                    .iter()
                    .filter(|c| !self.dataset.columns.contains(c))
                    .collect();
                let unexpected: Vec<&String> = self
                    .dataset
                    .columns
                    .iter()
                    .filter(|c| !columns.contains(c))
                    .collect();
                let pass = missing.is_empty() && (!exact || unexpected.is_empty());
                let mut sorted = self.dataset.columns.clone();
                sorted.sort();
                Plan::Done(Observation::Shape {
                    pass,
                    observed: json!(sorted),
                    details: json!({"mismatched": {"missing": missing, "unexpected": unexpected}}),
                    message: None,
                })
            }
            CheckKind::ColumnList { columns } => {
                let pass = &self.dataset.columns == columns;
                let mismatched: Vec<Json> = (0..columns.len().max(self.dataset.columns.len()))
                    .filter(|&i| columns.get(i) != self.dataset.columns.get(i))
                    .map(|i| json!({"index": i, "expected": columns.get(i), "found": self.dataset.columns.get(i)}))
                    .collect();
                Plan::Done(Observation::Shape {
                    pass,
                    observed: json!(self.dataset.columns),
                    details: json!({"mismatched": mismatched}),
                    message: None,
                })
            }
            CheckKind::NotNull { .. } => Plan::Stream(Box::new(NotNull {
                column: first,
                tally: self.tally(check, keys, &own, false),
            })),
            CheckKind::Unique { .. } => Plan::Stream(Box::new(Unique::with_budget(
                own.iter().map(|(_, p)| *p).collect(),
                if own.len() == 1 {
                    super::spec::SkipRows::AnyNull
                } else {
                    semantics.skip_rows
                },
                semantics.duplicates,
                self.tally(check, keys, &own, false),
                self.keys_in_memory,
            ))),
            CheckKind::Between {
                min,
                max,
                strict_min,
                strict_max,
                ..
            } => value_check(
                ValueTest::Between {
                    min: *min,
                    max: *max,
                    strict_min: *strict_min,
                    strict_max: *strict_max,
                },
                true,
            ),
            CheckKind::InSet { values, .. } => {
                value_check(ValueTest::InSet(ValueSet::new(values)), true)
            }
            CheckKind::NotInSet { values, .. } => {
                value_check(ValueTest::NotInSet(ValueSet::new(values)), true)
            }
            CheckKind::Regex { pattern, .. } => {
                let regex = regex::bytes::Regex::new(pattern)
                    .map_err(|e| format!("pattern {pattern:?} does not compile: {e}"))?;
                value_check(ValueTest::Regex(regex), true)
            }
            CheckKind::Length { min, max, .. } => value_check(
                ValueTest::Length {
                    min: *min,
                    max: *max,
                },
                true,
            ),
            CheckKind::Parseable {
                as_type, format, ..
            } => value_check(
                ValueTest::Parseable {
                    as_type: *as_type,
                    format: format.clone(),
                },
                true,
            ),
            CheckKind::Stat { stat, .. } => Plan::Stream(Box::new(
                StatAccumulator::new(first, *stat, semantics.quantile)
                    .keeping_keys(self.keys_in_memory),
            )),
            CheckKind::Compare { right, op, .. } => Plan::Stream(Box::new(Compare {
                left: first,
                right: match right {
                    Operand::Column(_) => CompareRight::Column(own[1].1),
                    Operand::Value(literal) => CompareRight::Literal(literal.clone()),
                },
                op: *op,
                skip: semantics.skip_rows,
                tally: self.tally(check, keys, &own, false),
            })),
            CheckKind::Freshness { .. } => {
                Plan::Stream(Box::new(Freshness::new(first, self.now_seconds)))
            }
            CheckKind::CategoryShares {
                min_share,
                max_share,
                shares,
                ..
            } => Plan::Stream(Box::new(CategoryShares::new(
                first,
                (*min_share, *max_share),
                shares
                    .iter()
                    .map(|(name, b)| (name.clone(), (b.min, b.max)))
                    .collect(),
                Sampler::new(0, &[], &[]),
            ))),
            CheckKind::Drift { method, .. } => {
                let index = self.check_index(check);
                match references.get(&index) {
                    Some(Ok(ReferenceData::Distribution(reference))) => Plan::Stream(Box::new(
                        DriftAccumulator::new(first, *method, Arc::clone(reference)),
                    )),
                    Some(Err(message)) => return Err(message.clone()),
                    _ => return Err("the reference was not read".into()),
                }
            }
            CheckKind::Overlap { .. } => {
                let index = self.check_index(check);
                match references.get(&index) {
                    Some(Ok(ReferenceData::Keys(other))) => Plan::Stream(Box::new(Overlap::new(
                        own.iter().map(|(_, p)| *p).collect(),
                        Arc::clone(other),
                        self.tally(check, keys, &own, false),
                    ))),
                    Some(Err(message)) => return Err(message.clone()),
                    _ => return Err("the other dataset was not read".into()),
                }
            }
        })
    }

    fn check_index(&self, check: &Check) -> usize {
        self.suite
            .checks
            .iter()
            .position(|c| std::ptr::eq(c, check))
            .unwrap_or(usize::MAX)
    }

    /// Where a reference (drift) or other dataset (overlap) is: an input of this run, a path,
    /// or what the resolver makes of it (`NAME@N`, a version hash).
    fn resolve(&self, reference: &str) -> std::result::Result<PathBuf, String> {
        if let Some(input) = self.inputs.iter().find(|i| i.name == reference) {
            return Ok(input.path.clone());
        }
        if Path::new(reference).exists() {
            return Ok(PathBuf::from(reference));
        }
        match self.options.resolve {
            Some(resolve) => resolve(reference).map_err(|e| e.to_string()),
            None => Err(format!(
                "'{reference}' is no input of this run and no file; a dataset version needs a store to look it up"
            )),
        }
    }

    /// Reads each reference the checks name, one pass per reference path for all its checks.
    fn read_references(
        &self,
        checks: &[usize],
    ) -> HashMap<usize, std::result::Result<ReferenceData, String>> {
        let mut out = HashMap::new();
        let mut by_path: HashMap<PathBuf, Vec<usize>> = HashMap::new();
        for &index in checks {
            let (CheckKind::Drift { reference, .. }
            | CheckKind::Overlap {
                other: reference, ..
            }) = &self.suite.checks[index].kind
            else {
                continue;
            };
            match self.resolve(reference) {
                Ok(path) => by_path.entry(path).or_default().push(index),
                Err(message) => {
                    out.insert(index, Err(message));
                }
            }
        }
        for (path, indexes) in by_path {
            match self.read_reference(&path, &indexes) {
                Ok(read) => out.extend(read),
                Err(message) => {
                    for index in indexes {
                        out.insert(index, Err(message.clone()));
                    }
                }
            }
        }
        out
    }

    fn read_reference(
        &self,
        path: &Path,
        indexes: &[usize],
    ) -> std::result::Result<ReferenceReads, String> {
        let dataset = Dataset::open(path).map_err(|e| e.to_string())?;
        let mut projection = Projection {
            dataset: &dataset,
            columns: Vec::new(),
        };
        enum Side {
            Drift(ReferenceBuilder, usize),
            Keys(Vec<usize>, HashSet<u64>),
            Failed(String),
        }
        let mut sides: Vec<(usize, Side)> = indexes
            .iter()
            .map(|&index| {
                let check = &self.suite.checks[index];
                let side = match &check.kind {
                    CheckKind::Drift { column, bins, .. } => match projection.position(column) {
                        Ok(position) => Side::Drift(ReferenceBuilder::new(position), *bins),
                        Err(message) => Side::Failed(format!("reference: {message}")),
                    },
                    CheckKind::Overlap { columns, .. } => {
                        let names: Vec<&str> = columns.iter().map(String::as_str).collect();
                        match projection.named(&names) {
                            Ok(named) => {
                                Side::Keys(named.iter().map(|(_, p)| *p).collect(), HashSet::new())
                            }
                            Err(message) => Side::Failed(format!("other dataset: {message}")),
                        }
                    }
                    _ => Side::Failed("not a reference check".into()),
                };
                (index, side)
            })
            .collect();
        let options = ReadOptions {
            columns: projection.columns.clone(),
            hash: false,
            progress: None,
        };
        read(&dataset, &options, |chunk| {
            for (_, side) in sides.iter_mut() {
                match side {
                    Side::Drift(builder, _) => builder.add(&chunk),
                    Side::Keys(columns, keys) => collect_keys(&chunk, columns, keys),
                    Side::Failed(_) => {}
                }
            }
            Ok(())
        })
        .map_err(|e| e.to_string())?;
        Ok(sides
            .into_iter()
            .map(|(index, side)| {
                let data = match side {
                    Side::Drift(builder, bins) => {
                        Ok(ReferenceData::Distribution(Arc::new(builder.finish(bins))))
                    }
                    Side::Keys(_, keys) => Ok(ReferenceData::Keys(Arc::new(keys))),
                    Side::Failed(message) => Err(message),
                };
                (index, data)
            })
            .collect())
    }
}

/// What a reference read gives a check.
enum ReferenceData {
    Distribution(Arc<Reference>),
    Keys(Arc<HashSet<u64>>),
}

/// Roughly how much work a plan does per row, to split plans between two threads.
fn plan_weight(plan: &Plan) -> u32 {
    match plan {
        Plan::Stream(accumulator) => accumulator.weight(),
        Plan::Schema(_) => 1,
        _ => 0,
    }
}

fn add_to_plans(plans: &mut [(usize, Plan)], chunk: &super::chunk::Chunk) {
    for (_, plan) in plans.iter_mut() {
        match plan {
            Plan::Stream(accumulator) => accumulator.add(chunk),
            Plan::Schema(schema) => schema.add(chunk),
            _ => {}
        }
    }
}

/// Reads `dataset` feeding every plan. With work for two, the plans are split in two groups
/// of about equal weight: one runs here, the other on a thread of its own, each chunk shared
/// between them (with the reader's thread, three threads keep two cores busy).
fn read_into_plans(
    dataset: &Dataset,
    options: &ReadOptions,
    plans: &mut Vec<(usize, Plan)>,
) -> Result<super::dataset::ReadSummary> {
    let streaming = plans.iter().filter(|(_, p)| plan_weight(p) > 0).count();
    if streaming < 2 {
        return read(dataset, options, |chunk| {
            add_to_plans(plans, &chunk);
            Ok(())
        });
    }
    // Heaviest first, each to the lighter group.
    let mut order: Vec<usize> = (0..plans.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(plan_weight(&plans[i].1)));
    let mut mine = Vec::new();
    let mut theirs = Vec::new();
    let (mut my_weight, mut their_weight) = (0u32, 0u32);
    let mut taken: Vec<Option<(usize, Plan)>> = plans.drain(..).map(Some).collect();
    for i in order {
        let plan = taken[i].take().expect("each plan once");
        let weight = plan_weight(&plan.1);
        if their_weight <= my_weight {
            their_weight += weight;
            theirs.push(plan);
        } else {
            my_weight += weight;
            mine.push(plan);
        }
    }
    let summary = std::thread::scope(|scope| {
        let (sender, receiver) = std::sync::mpsc::sync_channel::<Arc<super::chunk::Chunk>>(2);
        let worker = scope.spawn(move || {
            for chunk in receiver.iter() {
                add_to_plans(&mut theirs, &chunk);
            }
            theirs
        });
        let summary = read(dataset, options, |chunk| {
            let chunk = Arc::new(chunk);
            // The worker stops only by panicking; the join below reports that.
            let _ = sender.send(Arc::clone(&chunk));
            add_to_plans(&mut mine, &chunk);
            Ok(())
        });
        drop(sender);
        let theirs = worker
            .join()
            .map_err(|_| KirokuError::Invalid("a checks thread panicked".into()));
        (summary, theirs)
    });
    let (summary, theirs) = summary;
    let theirs = theirs?;
    plans.extend(mine);
    plans.extend(theirs);
    plans.sort_by_key(|(index, _)| *index);
    summary
}

/// The second read some checks ask for after the pass (a spilled unique check's sample rows):
/// the same columns, up to the last row asked for.
fn revisit_rows(
    dataset: &Dataset,
    options: &ReadOptions,
    plans: &mut [(usize, Plan)],
) -> Result<()> {
    let mut last = None;
    let mut revisiting = Vec::new();
    for (_, plan) in plans.iter_mut() {
        if let Plan::Stream(accumulator) = plan {
            if let Some(row) = accumulator.rows_to_revisit().last() {
                last = last.max(Some(*row));
                revisiting.push(accumulator);
            }
        }
    }
    let Some(last) = last else {
        return Ok(());
    };
    let options = ReadOptions {
        columns: options.columns.clone(),
        hash: false,
        progress: None,
    };
    let mut done = false;
    let outcome = read(dataset, &options, |chunk| {
        if done {
            // Past the last row asked for: stop the reader.
            return Err(KirokuError::Invalid(String::new()));
        }
        for accumulator in revisiting.iter_mut() {
            accumulator.revisit(&chunk);
        }
        done = chunk.first_row + chunk.rows as u64 > last;
        Ok(())
    });
    match outcome {
        Err(_) if done => Ok(()),
        other => other.map(|_| ()),
    }
}

fn metric(value: f64) -> Observation {
    Observation::Metric {
        value: Some(value),
        observed: Json::Null,
        details: Json::Null,
        message: None,
    }
}

/// The schema check: required and forbidden columns, order, and types (declared for Parquet,
/// inferred from the values for CSV).
struct SchemaPlan {
    spec: SchemaSpec,
    /// (column, chunk position, inference) of typed columns present in a CSV dataset.
    inferred: Vec<(String, usize, TypeInference)>,
}

impl SchemaPlan {
    fn new(
        spec: SchemaSpec,
        dataset: &Dataset,
        projection: &mut Projection<'_>,
    ) -> std::result::Result<Self, String> {
        let mut inferred = Vec::new();
        if dataset.format == DataFormat::Csv {
            for (column, _) in &spec.types {
                if dataset.column_index(column).is_some() {
                    inferred.push((
                        column.clone(),
                        projection.position(column)?,
                        TypeInference::default(),
                    ));
                }
            }
        }
        Ok(SchemaPlan { spec, inferred })
    }

    fn add(&mut self, chunk: &super::chunk::Chunk) {
        for (_, position, inference) in self.inferred.iter_mut() {
            let column = chunk.column(*position);
            for row in 0..chunk.rows {
                inference.add(column.value(row));
            }
        }
    }

    fn finish(self, dataset: &Dataset) -> Observation {
        let spec = &self.spec;
        let present = |name: &String| dataset.columns.contains(name);
        let missing: Vec<&String> = spec.required.iter().filter(|c| !present(c)).collect();
        let forbidden: Vec<&String> = dataset
            .columns
            .iter()
            .filter(|c| spec.forbidden.iter().any(|pattern| glob_match(pattern, c)))
            .collect();
        let known: Vec<&String> = spec
            .required
            .iter()
            .chain(spec.types.iter().map(|(c, _)| c))
            .collect();
        let unexpected: Vec<&String> = if spec.exact {
            dataset
                .columns
                .iter()
                .filter(|c| !known.contains(c))
                .collect()
        } else {
            Vec::new()
        };
        let type_of = |name: &str| -> Option<ColumnType> {
            match &dataset.declared_types {
                Some(types) => dataset.column_index(name).map(|i| types[i]),
                None => self
                    .inferred
                    .iter()
                    .find(|(c, _, _)| c == name)
                    .map(|(_, _, inference)| inference.column_type()),
            }
        };
        let csv = dataset.declared_types.is_none();
        let mut type_mismatch = Vec::new();
        let mut types = serde_json::Map::new();
        for (column, expected) in &spec.types {
            let Some(found) = type_of(column) else {
                continue;
            };
            types.insert(column.clone(), json!(found.as_str()));
            if !type_fits(*expected, found, csv) {
                type_mismatch.push(json!({"column": column, "expected": expected.as_str(), "found": found.as_str()}));
            }
        }
        let mut out_of_order = false;
        if spec.ordered {
            let positions: Vec<usize> = known
                .iter()
                .filter_map(|c| dataset.column_index(c))
                .collect();
            out_of_order = positions.windows(2).any(|w| w[0] > w[1]);
        }
        let pass = missing.is_empty()
            && forbidden.is_empty()
            && unexpected.is_empty()
            && type_mismatch.is_empty()
            && !out_of_order;
        let mut problems = Vec::new();
        if !missing.is_empty() {
            problems.push(format!("missing {}", join(&missing)));
        }
        if !forbidden.is_empty() {
            problems.push(format!("forbidden {}", join(&forbidden)));
        }
        if !unexpected.is_empty() {
            problems.push(format!("unexpected {}", join(&unexpected)));
        }
        for mismatch in &type_mismatch {
            problems.push(format!(
                "'{}' is {}, not {}",
                mismatch["column"].as_str().unwrap_or_default(),
                mismatch["found"].as_str().unwrap_or_default(),
                mismatch["expected"].as_str().unwrap_or_default()
            ));
        }
        if out_of_order {
            problems.push("columns out of order".into());
        }
        Observation::Shape {
            pass,
            observed: json!({"columns": dataset.columns, "types": types}),
            details: json!({"missing": missing, "forbidden": forbidden, "unexpected": unexpected, "type_mismatch": type_mismatch, "out_of_order": out_of_order}),
            message: (!pass).then(|| problems.join("; ")),
        }
    }
}

fn join(names: &[&String]) -> String {
    names
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether a column of type `found` satisfies `expected`: floats accept ints, timestamps
/// dates, an all-null column anything; in CSV, where every cell is text, strings accept all.
fn type_fits(expected: ColumnType, found: ColumnType, csv: bool) -> bool {
    expected == found
        || found == ColumnType::Null
        || (expected == ColumnType::Float && found == ColumnType::Int)
        || (expected == ColumnType::Timestamp && found == ColumnType::Date)
        || (csv && expected == ColumnType::String)
}

/// Whether `name` matches `pattern`, where `*` stands for any run of characters.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let mut rest = name;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// A check's parameters as its result's `expected`.
pub fn expected_json(kind: &CheckKind) -> Json {
    let literals =
        |values: &[super::spec::Literal]| Json::Array(values.iter().map(|v| v.to_json()).collect());
    let bound = |v: Option<f64>| v.map(json_number).unwrap_or(Json::Null);
    match kind {
        CheckKind::Schema(spec) => json!({
            "required": spec.required, "forbidden": spec.forbidden,
            "types": spec.types.iter().map(|(c, t)| (c.clone(), json!(t.as_str()))).collect::<serde_json::Map<_, _>>(),
            "exact": spec.exact, "ordered": spec.ordered,
        }),
        CheckKind::ColumnExists { column, index } => json!({"column": column, "index": index}),
        CheckKind::ColumnSet { columns, exact } => json!({"columns": columns, "exact": exact}),
        CheckKind::ColumnList { columns } => json!({"columns": columns}),
        CheckKind::Between {
            min,
            max,
            strict_min,
            strict_max,
            ..
        } => {
            json!({"min": bound(*min), "max": bound(*max), "strict_min": strict_min, "strict_max": strict_max})
        }
        CheckKind::InSet { values, .. } | CheckKind::NotInSet { values, .. } => {
            json!({"values": literals(values)})
        }
        CheckKind::Regex { pattern, .. } => json!({"pattern": pattern}),
        CheckKind::Length { min, max, .. } => json!({"min": min, "max": max}),
        CheckKind::Parseable {
            as_type, format, ..
        } => json!({"as": as_type.as_str(), "format": format}),
        CheckKind::Stat { stat, .. } => match stat {
            super::spec::Statistic::Quantile(q) => {
                json!({"stat": "quantile", "q": json_number(*q)})
            }
            other => json!({"stat": other.as_str()}),
        },
        CheckKind::Compare { left, op, right } => json!({
            "left": left, "op": op.as_str(),
            "right": match right { Operand::Column(c) => json!({"column": c}), Operand::Value(v) => json!({"value": v.to_json()}) },
        }),
        CheckKind::CategoryShares {
            min_share,
            max_share,
            shares,
            ..
        } => json!({
            "min_share": bound(*min_share), "max_share": bound(*max_share),
            "shares": shares.iter().map(|(c, b)| (c.clone(), json!({"min": bound(b.min), "max": bound(b.max)}))).collect::<serde_json::Map<_, _>>(),
        }),
        CheckKind::Drift {
            reference,
            method,
            bins,
            ..
        } => json!({"reference": reference, "method": method.as_str(), "bins": bins}),
        CheckKind::Overlap { other, columns } => json!({"other": other, "columns": columns}),
        CheckKind::Unsupported { parameters } => parameters.clone(),
        CheckKind::RowCount
        | CheckKind::ColumnCount
        | CheckKind::NotNull { .. }
        | CheckKind::Unique { .. }
        | CheckKind::Freshness { .. } => Json::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_runs_of_characters() {
        assert!(glob_match("email*", "email_address"));
        assert!(glob_match("*ssn*", "user_ssn_hash"));
        assert!(glob_match("ssn", "ssn"));
        assert!(!glob_match("ssn", "ssn2"));
        assert!(!glob_match("a*b", "ac"));
        assert!(glob_match("*", "anything"));
    }
}

#[cfg(test)]
mod run_tests {
    use super::*;
    use crate::checks::spec::{Semantics, SkipRows, Threshold};
    use crate::model::CheckSource;

    fn run(csv: &str, checks: Vec<Check>) -> Vec<CheckResult> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        std::fs::write(&path, csv).unwrap();
        let mut suite = Suite::new("t", "sha256:0", CheckSource::Kiroku);
        suite.key = vec!["k".into()];
        suite.checks = checks;
        run_suite(
            &suite,
            &[DataInput {
                name: "d".into(),
                path,
            }],
        )
        .unwrap()
        .results
    }

    fn rows(result: &CheckResult) -> Vec<u64> {
        result.samples.iter().map(|s| s.row).collect()
    }

    const DATA: &str = "k,a,b\n1,x,1\n2,y,2\n3,x,\n4,,2\n5,z,1\n6,x,1\n7,y,\n";

    #[test]
    fn duplicates_count_repeats_for_kiroku_and_every_occurrence_for_gx() {
        let unique = |semantics| {
            let mut check = Check::new(
                "u",
                "unique",
                CheckKind::Unique {
                    columns: vec!["a".into()],
                },
            );
            check.semantics = semantics;
            check
        };
        let results = run(DATA, vec![unique(Semantics::KIROKU), unique(Semantics::GX)]);
        // a: x at 0, 2, 5; y at 1, 6; z at 4; null at 3.
        assert_eq!(results[0].unexpected_count, Some(3));
        assert_eq!(rows(&results[0]), vec![2, 5, 6]);
        assert_eq!(results[1].unexpected_count, Some(5));
        assert_eq!(rows(&results[1]), vec![0, 1, 2, 5, 6]);
        assert_eq!(results[1].missing_count, Some(1));
        // Percent of the non-null rows: 5 of 6.
        assert!((results[1].unexpected_percent.unwrap() - 500.0 / 6.0).abs() < 1e-9);
        // Samples carry the key column (unknown for a GX first occurrence) and the values.
        assert_eq!(results[0].samples[0].values["k"], serde_json::json!("3"));
        assert_eq!(results[1].samples[0].values.get("k"), None);
        assert_eq!(results[1].samples[0].values["a"], serde_json::json!("x"));
    }

    #[test]
    fn unique_checks_and_distinct_counts_past_their_memory_budget_answer_as_within_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("many.csv");
        let mut csv = String::from("k,a,b\n");
        let mut state = 3u64;
        for row in 0..4000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let a = (state >> 33) % 1500;
            let a = if a == 0 { String::new() } else { a.to_string() };
            csv.push_str(&format!("{row},{a},{}\n", (state >> 20) % 4));
        }
        std::fs::write(&path, csv).unwrap();
        let mut suite = Suite::new("t", "sha256:0", CheckSource::Kiroku);
        suite.key = vec!["k".into()];
        let unique = |columns: Vec<&str>, semantics| {
            let mut check = Check::new(
                "u",
                "unique",
                CheckKind::Unique {
                    columns: columns.into_iter().map(String::from).collect(),
                },
            );
            check.semantics = semantics;
            check
        };
        let stat = |stat| {
            Check::new(
                "s",
                "stat",
                CheckKind::Stat {
                    column: "a".into(),
                    stat,
                },
            )
        };
        suite.checks = vec![
            unique(vec!["a"], Semantics::KIROKU),
            unique(vec!["a"], Semantics::GX),
            unique(vec!["a", "b"], Semantics::KIROKU),
            unique(vec!["a", "b"], Semantics::GX),
            stat(crate::checks::spec::Statistic::DistinctCount),
            stat(crate::checks::spec::Statistic::UniqueProportion),
        ];
        let inputs = [DataInput {
            name: "d".into(),
            path,
        }];
        let within = run_suite(&suite, &inputs).unwrap().results;
        let past = run_suite_keeping(&suite, &inputs, &RunOptions::default(), 50)
            .unwrap()
            .results;
        assert!(within[0].unexpected_count.unwrap() > 1000);
        for (within, past) in within.iter().zip(&past) {
            assert_eq!(past.status, within.status, "{:?}", within.check_type);
            assert_eq!(past.observed, within.observed);
            assert_eq!(past.unexpected_count, within.unexpected_count);
            assert_eq!(past.missing_count, within.missing_count);
            assert_eq!(rows(past), rows(within));
            for (p, w) in past.samples.iter().zip(&within.samples) {
                // A GX first occurrence read back in the second pass also has its key.
                for (column, value) in &w.values {
                    assert_eq!(p.values.get(column), Some(value), "row {}", w.row);
                }
            }
        }
        assert_eq!(past[0].samples, within[0].samples);
    }

    #[test]
    fn compound_keys_and_comparisons_skip_null_rows_as_the_semantics_say() {
        let compound = |skip| {
            let mut check = Check::new(
                "c",
                "unique",
                CheckKind::Unique {
                    columns: vec!["a".into(), "b".into()],
                },
            );
            check.semantics.skip_rows = skip;
            check
        };
        let compare = |skip| {
            let mut check = Check::new(
                "p",
                "compare",
                CheckKind::Compare {
                    left: "b".into(),
                    op: crate::checks::spec::CompareOp::Ge,
                    right: Operand::Value(crate::checks::spec::Literal::Number(2.0)),
                },
            );
            check.semantics.skip_rows = skip;
            check
        };
        let results = run(
            DATA,
            vec![
                compound(SkipRows::AnyNull),
                compound(SkipRows::AllNull),
                compare(SkipRows::AnyNull),
                compare(SkipRows::Never),
            ],
        );
        // (x,1) at 0 and 5 repeat; rows 2, 3, 6 hold a null.
        assert_eq!(
            (results[0].unexpected_count, results[0].missing_count),
            (Some(1), Some(3))
        );
        assert_eq!(rows(&results[0]), vec![5]);
        // With only all-null rows skipped, (x,null) and (y,null) are keys too: none repeat.
        assert_eq!(
            (results[1].unexpected_count, results[1].missing_count),
            (Some(1), Some(0))
        );
        // b >= 2: rows 0, 4, 5 hold 1; rows 2 and 6 are null.
        assert_eq!(
            (results[2].unexpected_count, results[2].missing_count),
            (Some(3), Some(2))
        );
        assert_eq!(rows(&results[2]), vec![0, 4, 5]);
        assert_eq!(results[3].unexpected_count, Some(5));
    }

    #[test]
    fn thresholds_and_sets_follow_the_suite() {
        let mut in_set = Check::new(
            "s",
            "in_set",
            CheckKind::InSet {
                column: "b".into(),
                values: vec![crate::checks::spec::Literal::Text("1".into())],
            },
        );
        in_set.fail = Some(Threshold::mostly(0.5));
        let results = run(DATA, vec![in_set]);
        // b: 1, 2, null, 2, 1, 1, null: 2 of 5 non-null rows are outside: 60% pass ≥ 50%.
        assert_eq!(results[0].unexpected_count, Some(2));
        assert_eq!(results[0].status, CheckStatus::Pass);
        assert_eq!(results[0].top_unexpected[0].count, 2);
    }
}
