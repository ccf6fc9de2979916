//! Row checks as streaming accumulators: not null, values between / in a set / not in a set /
//! matching a pattern / of a length / parseable, unique (one or several columns), column
//! comparisons, overlap with another dataset's keys, and category shares.
use super::chunk::{parse_number, Chunk, Value};
use super::evaluate::{Observation, RowObservation};
use super::infer::{is_bool, parse_date, parse_timestamp};
use super::json_number;
use super::key_table::KeyTable;
use super::spec::{CompareOp, DuplicateRows, Literal, SkipRows};
use super::spill::HashPartitions;
use super::tally::{hash_values, HashKeyed, Sampler, Tally, ValueHasher};
use crate::model::{ColumnType, Sample};
use serde_json::{json, Value as Json};
use std::collections::{BinaryHeap, HashSet};

/// A check that streams over chunks and then says what it saw.
pub trait Accumulator: Send {
    fn add(&mut self, chunk: &Chunk);
    /// Roughly the work per row, relative to a simple value test (1), for splitting checks
    /// between threads.
    fn weight(&self) -> u32 {
        1
    }
    /// After the pass: the dataset rows (ascending) whose values the check still needs for its
    /// samples (a unique check that spilled its keys learns which rows repeat only at the
    /// end); the engine then reads the data again and hands every chunk to `revisit`.
    fn rows_to_revisit(&mut self) -> Vec<u64> {
        Vec::new()
    }
    /// A chunk of the second read asked for by `rows_to_revisit`.
    fn revisit(&mut self, _chunk: &Chunk) {}
    /// `rows`: the dataset's row count.
    fn finish(self: Box<Self>, rows: u64) -> Observation;
}

/// Null cells are unexpected; percentages are of all rows.
pub struct NotNull {
    pub column: usize,
    pub tally: Tally,
}

impl Accumulator for NotNull {
    fn add(&mut self, chunk: &Chunk) {
        let column = chunk.column(self.column);
        self.tally.element_count += chunk.rows as u64;
        for row in 0..chunk.rows {
            if column.is_null(row) {
                self.tally.unexpected(chunk, row, Value::Null);
            }
        }
    }

    fn finish(self: Box<Self>, _rows: u64) -> Observation {
        let mut rows = self.tally.into_rows(Json::Null, Json::Null);
        rows.denominator = rows.element_count;
        rows.missing_count = rows.unexpected_count;
        Observation::Rows(rows)
    }
}

/// A set of literals, matched as [`Literal`] says (looked up for every value checked: a fast
/// hasher, not SipHash).
#[derive(Debug, Clone, Default)]
pub struct ValueSet {
    numbers: HashSet<u64, FastHash>,
    texts: TextSet,
    bools: [bool; 2],
}

type FastHash = std::hash::BuildHasherDefault<ValueHasher>;

/// Text members: a few are compared one by one (cheaper than hashing the cell), more hashed.
#[derive(Debug, Clone)]
enum TextSet {
    Few(Vec<Vec<u8>>),
    Many(HashSet<Vec<u8>, FastHash>),
}

/// Members a [`TextSet`] compares one by one.
const FEW_TEXTS: usize = 8;

impl Default for TextSet {
    fn default() -> Self {
        TextSet::Few(Vec::new())
    }
}

impl TextSet {
    fn insert(&mut self, text: &[u8]) {
        match self {
            TextSet::Few(texts) if texts.iter().any(|t| t == text) => {}
            TextSet::Few(texts) if texts.len() < FEW_TEXTS => texts.push(text.to_vec()),
            TextSet::Few(texts) => {
                let mut many: HashSet<Vec<u8>, FastHash> = texts.drain(..).collect();
                many.insert(text.to_vec());
                *self = TextSet::Many(many);
            }
            TextSet::Many(texts) => {
                texts.insert(text.to_vec());
            }
        }
    }

    fn contains(&self, text: &[u8]) -> bool {
        match self {
            TextSet::Few(texts) => texts.iter().any(|t| t == text),
            TextSet::Many(texts) => texts.contains(text),
        }
    }
}

fn number_key(number: f64) -> u64 {
    if number == 0.0 {
        0
    } else {
        number.to_bits()
    }
}

impl ValueSet {
    pub fn new(values: &[Literal]) -> Self {
        let mut set = ValueSet::default();
        for value in values {
            match value {
                Literal::Number(n) => {
                    set.numbers.insert(number_key(*n));
                }
                Literal::Text(text) => {
                    set.texts.insert(text.as_bytes());
                    if let Some(n) = parse_number(text.as_bytes()) {
                        // A set written as strings of numbers still matches numeric cells.
                        set.numbers.insert(number_key(n));
                    }
                }
                Literal::Bool(b) => set.bools[*b as usize] = true,
            }
        }
        set
    }

    pub fn needs_numbers(&self) -> bool {
        !self.numbers.is_empty()
    }

    pub fn contains(&self, value: Value<'_>, number: Option<f64>) -> bool {
        match value {
            Value::Null => false,
            Value::Bool(b) => {
                self.bools[b as usize] || self.numbers.contains(&number_key(b as u8 as f64))
            }
            Value::Int(_) | Value::Float(_) => {
                number.is_some_and(|n| self.numbers.contains(&number_key(n)))
            }
            Value::Text(bytes) => {
                self.texts.contains(bytes)
                    || number.is_some_and(|n| self.numbers.contains(&number_key(n)))
                    || (self.bools != [false, false]
                        && is_bool(bytes)
                        && self.bools[(bytes[0] | 0x20 == b't') as usize])
            }
        }
    }
}

/// What makes a non-null value unexpected.
pub enum ValueTest {
    Between {
        min: Option<f64>,
        max: Option<f64>,
        strict_min: bool,
        strict_max: bool,
    },
    InSet(ValueSet),
    NotInSet(ValueSet),
    Regex(regex::bytes::Regex),
    Length {
        min: Option<u64>,
        max: Option<u64>,
    },
    Parseable {
        as_type: ColumnType,
        format: Option<String>,
    },
}

impl ValueTest {
    fn needs_numbers(&self) -> bool {
        match self {
            ValueTest::Between { .. } => true,
            ValueTest::InSet(set) | ValueTest::NotInSet(set) => set.needs_numbers(),
            _ => false,
        }
    }

    fn unexpected(&self, value: Value<'_>, number: Option<f64>) -> bool {
        match self {
            ValueTest::Between {
                min,
                max,
                strict_min,
                strict_max,
            } => match number {
                None => true,
                Some(n) => {
                    min.is_some_and(|m| n < m || (*strict_min && n == m))
                        || max.is_some_and(|m| n > m || (*strict_max && n == m))
                }
            },
            ValueTest::InSet(set) => !set.contains(value, number),
            ValueTest::NotInSet(set) => set.contains(value, number),
            ValueTest::Regex(regex) => match value {
                Value::Text(bytes) => !regex.is_match(bytes),
                other => !regex.is_match(text_of(other).as_bytes()),
            },
            ValueTest::Length { min, max } => {
                let length = length_of(value);
                min.is_some_and(|m| length < m) || max.is_some_and(|m| length > m)
            }
            ValueTest::Parseable { as_type, format } => {
                !parses_as(value, *as_type, format.as_deref())
            }
        }
    }
}

/// A typed value's text (numbers as Python prints them for ints; floats shortest round-trip).
fn text_of(value: Value<'_>) -> String {
    match value {
        Value::Null => String::new(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => if b { "True" } else { "False" }.to_string(),
        Value::Text(bytes) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Length in characters (bytes, for text that is not UTF-8).
pub fn length_of(value: Value<'_>) -> u64 {
    match value {
        Value::Text(bytes) if bytes.is_ascii() => bytes.len() as u64,
        Value::Text(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => text.chars().count() as u64,
            Err(_) => bytes.len() as u64,
        },
        other => text_of(other).chars().count() as u64,
    }
}

/// Whether a value reads as `as_type` (dates and timestamps ISO 8601, or `format`: strftime).
pub fn parses_as(value: Value<'_>, as_type: ColumnType, format: Option<&str>) -> bool {
    let bytes: Vec<u8>;
    let text: &[u8] = match value {
        Value::Null => return true,
        Value::Int(_) => {
            return matches!(
                as_type,
                ColumnType::Int | ColumnType::Float | ColumnType::String
            )
        }
        Value::Float(f) => {
            return match as_type {
                ColumnType::Int => f.fract() == 0.0,
                ColumnType::Float | ColumnType::String => true,
                _ => false,
            }
        }
        Value::Bool(_) => return matches!(as_type, ColumnType::Bool | ColumnType::String),
        Value::Text(b) => {
            bytes = b.to_vec();
            &bytes
        }
    };
    if let (Some(format), ColumnType::Date | ColumnType::Timestamp) = (format, as_type) {
        let Ok(text) = std::str::from_utf8(text) else {
            return false;
        };
        return jiff::fmt::strtime::parse(format, text.trim()).is_ok();
    }
    match as_type {
        ColumnType::Int => {
            let trimmed = text.trim_ascii();
            let digits = match trimmed.first() {
                Some(b'-' | b'+') => &trimmed[1..],
                _ => trimmed,
            };
            !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
        }
        ColumnType::Float => parse_number(text).is_some(),
        ColumnType::Bool => is_bool(text.trim_ascii()),
        ColumnType::Date => parse_date(text.trim_ascii()).is_some(),
        ColumnType::Timestamp => parse_timestamp(text).is_some(),
        ColumnType::String => true,
        ColumnType::Null => false,
    }
}

/// A single-column value test (between, in_set, not_in_set, regex, length, parseable).
pub struct ValueCheck {
    pub column: usize,
    pub test: ValueTest,
    pub tally: Tally,
    /// Observed range of the numbers (between) or lengths (length).
    observed_min: f64,
    observed_max: f64,
}

impl ValueCheck {
    pub fn new(column: usize, test: ValueTest, tally: Tally) -> Self {
        ValueCheck {
            column,
            test,
            tally,
            observed_min: f64::INFINITY,
            observed_max: f64::NEG_INFINITY,
        }
    }
}

impl Accumulator for ValueCheck {
    fn add(&mut self, chunk: &Chunk) {
        let column = chunk.column(self.column);
        let numbers = self.test.needs_numbers().then(|| column.numbers());
        let lengths = matches!(self.test, ValueTest::Length { .. });
        self.tally.element_count += chunk.rows as u64;
        for row in 0..chunk.rows {
            let value = column.value(row);
            if value.is_null() {
                self.tally.missing_count += 1;
                continue;
            }
            let number = numbers.as_ref().and_then(|n| n[row]);
            let seen = if lengths {
                Some(length_of(value) as f64)
            } else {
                number
            };
            if let Some(seen) = seen {
                self.observed_min = self.observed_min.min(seen);
                self.observed_max = self.observed_max.max(seen);
            }
            if self.test.unexpected(value, number) {
                self.tally.unexpected(chunk, row, value);
            }
        }
    }

    fn finish(self: Box<Self>, _rows: u64) -> Observation {
        let range = || {
            if self.observed_min <= self.observed_max {
                json!({"min": json_number(self.observed_min), "max": json_number(self.observed_max)})
            } else {
                json!({"min": null, "max": null})
            }
        };
        let observed = match self.test {
            ValueTest::Between { .. } => range(),
            ValueTest::Length { .. } => {
                let range = range();
                json!({"min_length": range["min"], "max_length": range["max"]})
            }
            _ => Json::Null,
        };
        Observation::Rows(self.tally.into_rows(observed, Json::Null))
    }
}

/// Whether a row of a multi-column check is skipped for its nulls.
fn skipped(rule: SkipRows, nulls: usize, columns: usize) -> bool {
    match rule {
        SkipRows::AnyNull => nulls > 0,
        SkipRows::AllNull => nulls == columns,
        SkipRows::Never => false,
    }
}

/// Rows whose value or key tuple repeats. Memory: one 16-byte entry per distinct key, up to
/// a budget ([`super::spill::KEYS_IN_MEMORY`] keys, 32 MB, in a suite run).
///
/// Keys are 64-bit hashes of the values (equal numbers equal whatever their spelling); two
/// different keys share a hash with a chance of about n²/2⁶⁵ (3·10⁻⁸ for a million keys).
///
/// Past the budget the keys spill: each full table is written to hash partitions as (key, its
/// first row in the table, its count in the table) and emptied. Rows repeating a key of the
/// same table are counted and sampled as they come; at the end each partition is sorted by key
/// and row, which gives every key's total count and first row exactly, so the counts are those
/// of an unbounded table. Sample rows only known then (a key's first rows in earlier tables)
/// are read back in a second pass over the data.
pub struct Unique {
    pub columns: Vec<usize>,
    pub skip: SkipRows,
    pub rule: DuplicateRows,
    pub tally: Tally,
    /// key hash → first row (low 40 bits) and count (high 24 bits): 16 bytes an entry. A
    /// count reaching its maximum is spilled and the entry reset to 0 (the next row with the
    /// key starts it again).
    seen: KeyTable,
    /// First rows of repeated keys (every-occurrence mode), the smallest kept, with the
    /// checked values of a repeat (the same values).
    first_rows: BinaryHeap<FirstRow>,
    budget: usize,
    spill: HashPartitions,
    spill_error: Option<String>,
    merged: Option<MergedKeys>,
}

/// A spilled unique check's totals, from its partitions.
struct MergedKeys {
    unexpected: u64,
    duplicated_keys: u64,
    distinct: u64,
    /// The samples: rows repeating a key of their own table (taken while streaming), then those
    /// read back.
    samples: Vec<Sample>,
    /// Sample rows whose values are read back, ascending.
    revisit: Vec<u64>,
}

const FIRST_ROW_MASK: u64 = (1 << 40) - 1;
/// How many rows ahead a unique check asks for a key's bucket.
const PREFETCH_ROWS: usize = 16;
const COUNT_MAX: u64 = (1 << 24) - 1;

struct FirstRow(u64, Sample);

impl PartialEq for FirstRow {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl Eq for FirstRow {}
impl PartialOrd for FirstRow {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for FirstRow {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.cmp(&other.0)
    }
}

impl Unique {
    /// A unique check holding at most `budget` keys in memory.
    pub fn with_budget(
        columns: Vec<usize>,
        skip: SkipRows,
        rule: DuplicateRows,
        tally: Tally,
        budget: usize,
    ) -> Self {
        Unique {
            columns,
            skip,
            rule,
            tally,
            seen: KeyTable::default(),
            first_rows: BinaryHeap::new(),
            budget: budget.max(1),
            spill: HashPartitions::new("unique", 3),
            spill_error: None,
            merged: None,
        }
    }

    fn spill_key(&mut self, hash: u64, entry: u64) {
        if self.spill_error.is_none() {
            if let Err(e) = self
                .spill
                .push(&[hash, entry & FIRST_ROW_MASK, entry >> 40])
            {
                self.spill_error = Some(format!(
                    "cannot spill the check's keys to a temporary file: {e}"
                ));
            }
        }
    }

    fn spill_table(&mut self) {
        let table = std::mem::take(&mut self.seen);
        for (hash, entry) in table.iter().filter(|(_, entry)| *entry >> 40 > 0) {
            self.spill_key(hash, entry);
        }
        // Keep the table's memory for the next keys.
        let mut table = table;
        table.clear();
        self.seen = table;
    }

    /// Totals from the spilled partitions (with the table's last keys written too).
    fn merge(&mut self) -> std::result::Result<MergedKeys, String> {
        self.spill_table();
        if let Some(message) = self.spill_error.take() {
            return Err(message);
        }
        let limit = self.tally.sampler.limit;
        let every = self.rule == DuplicateRows::EveryOccurrence;
        let (mut unexpected, mut duplicated_keys, mut distinct) = (0u64, 0u64, 0u64);
        // The smallest `limit` rows that are some key's first row in a table and unexpected.
        let mut table_firsts: BinaryHeap<u64> = BinaryHeap::new();
        // The table's memory goes back before the partitions are read in.
        self.seen = KeyTable::default();
        self.spill
            .for_each_partition(|words| {
                let (records, _) = words.as_chunks_mut::<3>();
                records.sort_unstable();
                for key in records.chunk_by(|a, b| a[0] == b[0]) {
                    distinct += 1;
                    let total: u64 = key.iter().map(|r| r[2]).sum();
                    if total < 2 {
                        continue;
                    }
                    duplicated_keys += 1;
                    unexpected += if every { total } else { total - 1 };
                    let skip = if every { 0 } else { 1 };
                    for record in &key[skip..] {
                        if table_firsts.len() < limit {
                            table_firsts.push(record[1]);
                        } else if table_firsts.peek().is_some_and(|top| *top > record[1]) {
                            table_firsts.pop();
                            table_firsts.push(record[1]);
                        }
                    }
                }
            })
            .map_err(|e| format!("cannot read back the check's spilled keys: {e}"))?;
        let mut samples = std::mem::take(&mut self.tally.sampler.samples);
        let mut revisit = table_firsts.into_sorted_vec();
        // The smallest `limit` of both kinds of unexpected row.
        let mut rows: Vec<u64> = samples
            .iter()
            .map(|s| s.row)
            .chain(revisit.iter().copied())
            .collect();
        rows.sort_unstable();
        let cutoff = rows
            .get(limit.saturating_sub(1))
            .copied()
            .unwrap_or(u64::MAX);
        let keep = |row: u64| limit > 0 && row <= cutoff;
        samples.retain(|s| keep(s.row));
        revisit.retain(|row| keep(*row));
        Ok(MergedKeys {
            unexpected,
            duplicated_keys,
            distinct,
            samples,
            revisit,
        })
    }
}

impl Accumulator for Unique {
    fn weight(&self) -> u32 {
        4 * self.columns.len() as u32
    }

    fn add(&mut self, chunk: &Chunk) {
        let columns: Vec<_> = self.columns.iter().map(|&c| chunk.column(c)).collect();
        self.tally.element_count += chunk.rows as u64;
        // The rows' key hashes first (`None`: a row skipped for its nulls), so that each key's
        // bucket is fetched from memory some rows ahead of its lookup.
        let hashes: Vec<Option<u64>> = (0..chunk.rows)
            .map(|row| {
                let nulls = columns.iter().filter(|c| c.is_null(row)).count();
                (!skipped(self.skip, nulls, columns.len()))
                    .then(|| hash_values(columns.iter().map(|c| c.value(row))))
            })
            .collect();
        for (row, hash) in hashes.iter().enumerate() {
            if let Some(Some(ahead)) = hashes.get(row + PREFETCH_ROWS) {
                self.seen.prefetch(*ahead);
            }
            let Some(hash) = *hash else {
                self.tally.missing_count += 1;
                continue;
            };
            let dataset_row = chunk.first_row + row as u64;
            let entry = self.seen.entry(hash, 0);
            if *entry >> 40 == 0 {
                *entry = dataset_row & FIRST_ROW_MASK;
            }
            *entry += 1 << 40;
            let (first_row, count) = (*entry & FIRST_ROW_MASK, *entry >> 40);
            if count == COUNT_MAX {
                // A count about to overflow: the key's table-so-far goes to the spill.
                let full = std::mem::take(entry);
                self.spill_key(hash, full);
            } else if self.seen.len() >= self.budget {
                self.spill_table();
            }
            if count < 2 {
                continue;
            }
            self.tally.unexpected_count += 1;
            self.tally.sampler.take(chunk, row);
            if count == 2 && self.rule == DuplicateRows::EveryOccurrence {
                // The key's first row turns out unexpected too.
                self.tally.unexpected_count += 1;
                let limit = self.tally.sampler.limit;
                if limit > 0
                    && (self.first_rows.len() < limit
                        || self.first_rows.peek().is_some_and(|top| top.0 > first_row))
                {
                    let mut sample = self.tally.sampler.sample(chunk, row);
                    sample.row = first_row;
                    // Only the checked columns are known for the first row (its key columns
                    // were not kept).
                    let own: Vec<String> = self
                        .columns
                        .iter()
                        .filter_map(|&c| {
                            self.tally
                                .sampler
                                .columns
                                .iter()
                                .find(|(_, p)| *p == c)
                                .map(|(n, _)| n.clone())
                        })
                        .collect();
                    sample.values.retain(|name, _| own.contains(name));
                    self.first_rows.push(FirstRow(first_row, sample));
                    if self.first_rows.len() > limit {
                        self.first_rows.pop();
                    }
                }
            }
        }
    }

    fn rows_to_revisit(&mut self) -> Vec<u64> {
        if self.spill.is_empty() && self.spill_error.is_none() {
            return Vec::new();
        }
        match self.merge() {
            Ok(merged) => {
                let rows = merged.revisit.clone();
                self.merged = Some(merged);
                rows
            }
            Err(message) => {
                self.spill_error = Some(message);
                Vec::new()
            }
        }
    }

    fn revisit(&mut self, chunk: &Chunk) {
        let Some(merged) = &mut self.merged else {
            return;
        };
        let end = chunk.first_row + chunk.rows as u64;
        let start = merged.revisit.partition_point(|row| *row < chunk.first_row);
        for &row in merged.revisit[start..].iter().take_while(|row| **row < end) {
            merged.samples.push(
                self.tally
                    .sampler
                    .sample(chunk, (row - chunk.first_row) as usize),
            );
        }
    }

    fn finish(mut self: Box<Self>, _rows: u64) -> Observation {
        if self.merged.is_none() && !(self.spill.is_empty() && self.spill_error.is_none()) {
            // Spilled, but nobody asked for the rows to revisit: merge now (samples read back
            // are then left out).
            self.rows_to_revisit();
        }
        if let Some(message) = self.spill_error.take() {
            return Observation::Error(message);
        }
        if let Some(merged) = self.merged.take() {
            let mut tally = self.tally;
            tally.unexpected_count = merged.unexpected;
            let mut samples = merged.samples;
            samples.sort_by_key(|s| s.row);
            tally.sampler.samples = samples;
            let observed = json!({"duplicated_keys": merged.duplicated_keys, "distinct_keys": merged.distinct});
            return Observation::Rows(tally.into_rows(observed, Json::Null));
        }
        let duplicated_keys = self
            .seen
            .iter()
            .filter(|(_, entry)| *entry >> 40 > 1)
            .count() as u64;
        let distinct = self.seen.len() as u64;
        let limit = self.tally.sampler.limit;
        let mut tally = self.tally;
        let mut samples = std::mem::take(&mut tally.sampler.samples);
        samples.extend(self.first_rows.into_iter().map(|f| f.1));
        samples.sort_by_key(|s| s.row);
        samples.truncate(limit);
        tally.sampler.samples = samples;
        let observed = json!({"duplicated_keys": duplicated_keys, "distinct_keys": distinct});
        Observation::Rows(tally.into_rows(observed, Json::Null))
    }
}

/// Rows where `left OP right` fails (numbers when both sides are numbers, else text).
pub struct Compare {
    pub left: usize,
    pub right: CompareRight,
    pub op: CompareOp,
    pub skip: SkipRows,
    pub tally: Tally,
}

/// The right side of a comparison, bound to a chunk position or a literal.
pub enum CompareRight {
    Column(usize),
    Literal(Literal),
}

fn holds(op: CompareOp, ordering: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op {
        CompareOp::Lt => ordering == Less,
        CompareOp::Le => ordering != Greater,
        CompareOp::Eq => ordering == Equal,
        CompareOp::Ne => ordering != Equal,
        CompareOp::Ge => ordering != Less,
        CompareOp::Gt => ordering == Greater,
    }
}

fn compare_values(left: Value<'_>, right: Value<'_>) -> Option<std::cmp::Ordering> {
    if left.is_null() || right.is_null() {
        return None;
    }
    match (left.as_number(), right.as_number()) {
        (Some(l), Some(r)) => l.partial_cmp(&r),
        (None, None) => Some(text_of(left).cmp(&text_of(right))),
        _ => None,
    }
}

impl Accumulator for Compare {
    fn add(&mut self, chunk: &Chunk) {
        let left = chunk.column(self.left);
        let literal_text: Option<Vec<u8>> = match &self.right {
            CompareRight::Literal(Literal::Text(t)) => Some(t.as_bytes().to_vec()),
            _ => None,
        };
        self.tally.element_count += chunk.rows as u64;
        for row in 0..chunk.rows {
            let l = left.value(row);
            let r = match &self.right {
                CompareRight::Column(c) => chunk.column(*c).value(row),
                CompareRight::Literal(Literal::Number(n)) => Value::Float(*n),
                CompareRight::Literal(Literal::Bool(b)) => Value::Bool(*b),
                CompareRight::Literal(Literal::Text(_)) => {
                    Value::Text(literal_text.as_deref().unwrap_or_default())
                }
            };
            let nulls = l.is_null() as usize + r.is_null() as usize;
            if skipped(self.skip, nulls, 2) {
                self.tally.missing_count += 1;
                continue;
            }
            let ok = compare_values(l, r).is_some_and(|o| holds(self.op, o));
            if !ok {
                self.tally.unexpected_count += 1;
                self.tally.sampler.take(chunk, row);
            }
        }
    }

    fn finish(self: Box<Self>, _rows: u64) -> Observation {
        Observation::Rows(self.tally.into_rows(Json::Null, Json::Null))
    }
}

/// Rows whose key tuple is among another dataset's keys (hashes of its key tuples).
pub struct Overlap {
    pub columns: Vec<usize>,
    pub other_keys: std::sync::Arc<HashSet<u64>>,
    pub tally: Tally,
    shared_keys: HashSet<u64>,
}

impl Overlap {
    pub fn new(
        columns: Vec<usize>,
        other_keys: std::sync::Arc<HashSet<u64>>,
        tally: Tally,
    ) -> Self {
        Overlap {
            columns,
            other_keys,
            tally,
            shared_keys: HashSet::new(),
        }
    }
}

impl Accumulator for Overlap {
    fn add(&mut self, chunk: &Chunk) {
        let columns: Vec<_> = self.columns.iter().map(|&c| chunk.column(c)).collect();
        self.tally.element_count += chunk.rows as u64;
        for row in 0..chunk.rows {
            if columns.iter().any(|c| c.is_null(row)) {
                self.tally.missing_count += 1;
                continue;
            }
            let hash = hash_values(columns.iter().map(|c| c.value(row)));
            if self.other_keys.contains(&hash) {
                self.shared_keys.insert(hash);
                self.tally.unexpected_count += 1;
                self.tally.sampler.take(chunk, row);
            }
        }
    }

    fn finish(self: Box<Self>, _rows: u64) -> Observation {
        let observed = json!({"rows_in_both": self.tally.unexpected_count, "shared_keys": self.shared_keys.len(), "other_keys": self.other_keys.len()});
        Observation::Rows(self.tally.into_rows(observed, Json::Null))
    }
}

/// Key tuple hashes of the rows of a chunk (rows with a null key left out), for the other side
/// of an overlap.
pub fn collect_keys(chunk: &Chunk, columns: &[usize], keys: &mut HashSet<u64>) {
    let columns: Vec<_> = columns.iter().map(|&c| chunk.column(c)).collect();
    for row in 0..chunk.rows {
        if columns.iter().any(|c| c.is_null(row)) {
            continue;
        }
        keys.insert(hash_values(columns.iter().map(|c| c.value(row))));
    }
}

/// Distinct categories counted by `category_shares`; more are an error.
pub const MAX_CATEGORIES: usize = 100_000;

/// A share's lower and upper bound.
pub type ShareRange = (Option<f64>, Option<f64>);

/// Each category's share of the non-null rows against bounds; unexpected: categories out of
/// bounds.
pub struct CategoryShares {
    pub column: usize,
    pub default: ShareRange,
    pub bounds: Vec<(String, ShareRange)>,
    pub sampler: Sampler,
    counts: HashKeyed<(u64, Json)>,
    nonnull: u64,
    rows: u64,
    overflow: bool,
}

impl CategoryShares {
    pub fn new(
        column: usize,
        default: ShareRange,
        bounds: Vec<(String, ShareRange)>,
        sampler: Sampler,
    ) -> Self {
        CategoryShares {
            column,
            default,
            bounds,
            sampler,
            counts: HashKeyed::default(),
            nonnull: 0,
            rows: 0,
            overflow: false,
        }
    }
}

/// A category's name: text as is, other values as JSON text.
pub fn category_name(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Accumulator for CategoryShares {
    fn add(&mut self, chunk: &Chunk) {
        let column = chunk.column(self.column);
        self.rows += chunk.rows as u64;
        for row in 0..chunk.rows {
            let value = column.value(row);
            if value.is_null() {
                continue;
            }
            self.nonnull += 1;
            let hash = hash_values([value]);
            if let Some(entry) = self.counts.get_mut(&hash) {
                entry.0 += 1;
            } else if self.counts.len() < MAX_CATEGORIES {
                self.counts.insert(hash, (1, value.to_json()));
            } else {
                self.overflow = true;
            }
        }
    }

    fn finish(self: Box<Self>, _rows: u64) -> Observation {
        if self.overflow {
            return Observation::Error(format!(
                "more than {MAX_CATEGORIES} distinct values: not a categorical column"
            ));
        }
        let mut shares: Vec<(String, u64)> = self
            .counts
            .into_values()
            .map(|(count, value)| (category_name(&value), count))
            .collect();
        for (name, _) in &self.bounds {
            if !shares.iter().any(|(n, _)| n == name) {
                shares.push((name.clone(), 0));
            }
        }
        shares.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mut outside = Vec::new();
        let mut details = serde_json::Map::new();
        for (name, count) in &shares {
            let share = if self.nonnull == 0 {
                0.0
            } else {
                *count as f64 / self.nonnull as f64
            };
            let (min, max) = self
                .bounds
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, b)| *b)
                .unwrap_or(self.default);
            details.insert(name.clone(), json_number(share));
            if min.is_some_and(|m| share < m) || max.is_some_and(|m| share > m) {
                outside.push(crate::model::ValueCount {
                    value: Json::String(name.clone()),
                    count: *count,
                });
            }
        }
        Observation::Rows(RowObservation {
            element_count: shares.len() as u64,
            missing_count: 0,
            unexpected_count: outside.len() as u64,
            denominator: shares.len() as u64,
            samples: self.sampler.samples,
            top_unexpected: outside,
            observed: json!({"shares": Json::Object(details), "categories": shares.len(), "rows": self.nonnull}),
            details: Json::Null,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::chunk::ColumnData;

    #[test]
    fn value_sets_of_few_and_many_texts_hold_the_same_members() {
        for size in [0, 1, FEW_TEXTS, FEW_TEXTS + 1, 40] {
            let mut literals: Vec<Literal> =
                (0..size).map(|i| Literal::Text(format!("t{i}"))).collect();
            // A repeated member and a numeric string.
            literals.extend([Literal::Text("t0".into()), Literal::Text("7.50".into())]);
            let set = ValueSet::new(&literals);
            for i in 0..size {
                let text = format!("t{i}");
                assert!(
                    set.contains(Value::Text(text.as_bytes()), None),
                    "{size}: {text}"
                );
            }
            assert!(!set.contains(Value::Text(format!("t{}", size.max(1)).as_bytes()), None));
            assert!(!set.contains(Value::Text(b"t"), None));
            assert!(set.contains(Value::Text(b"7.5"), Some(7.5)));
            assert!(set.contains(Value::Float(7.5), Some(7.5)));
            assert!(!set.contains(Value::Null, None));
        }
    }

    /// Chunks of 100 rows of two text columns: a key among `distinct` values (some null) and a
    /// second key column.
    fn chunks(rows: usize, distinct: u64) -> Vec<Chunk> {
        let mut state = 42u64;
        let mut out = Vec::new();
        for first in (0..rows).step_by(100) {
            let mut a = ColumnData::text_with_capacity(100);
            let mut b = ColumnData::text_with_capacity(100);
            for _ in first..(first + 100).min(rows) {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let value = (state >> 33) % distinct;
                let text = if value == 7 {
                    String::new()
                } else {
                    format!("k{value}")
                };
                a.push_text(text.as_bytes());
                b.push_text(format!("{}", (state >> 20) % 3).as_bytes());
            }
            out.push(Chunk {
                first_row: first as u64,
                rows: (first + 100).min(rows) - first,
                columns: vec![a, b],
            });
        }
        out
    }

    fn run(unique: Unique, chunks: &[Chunk]) -> RowObservation {
        let mut unique: Box<dyn Accumulator> = Box::new(unique);
        for chunk in chunks {
            unique.add(chunk);
        }
        if !unique.rows_to_revisit().is_empty() {
            for chunk in chunks {
                unique.revisit(chunk);
            }
        }
        match unique.finish(0) {
            Observation::Rows(rows) => rows,
            _ => panic!("a unique check observes rows"),
        }
    }

    #[test]
    fn a_spilled_unique_check_counts_and_samples_as_an_unbounded_one() {
        for (distinct, columns) in [(900, vec![0]), (5000, vec![0]), (400, vec![0, 1])] {
            let data = chunks(3000, distinct);
            for rule in [DuplicateRows::EveryOccurrence, DuplicateRows::Repeats] {
                let make = |budget| {
                    let own: Vec<(String, usize)> =
                        columns.iter().map(|&c| (format!("c{c}"), c)).collect();
                    let tally = Tally::new(Sampler::new(20, &[], &own), false);
                    Unique::with_budget(columns.clone(), SkipRows::AnyNull, rule, tally, budget)
                };
                let exact = run(make(usize::MAX), &data);
                let spilled_unique = make(37);
                let spilled = run(spilled_unique, &data);
                assert!(exact.unexpected_count > 0);
                assert_eq!(spilled.unexpected_count, exact.unexpected_count, "{rule:?}");
                assert_eq!(spilled.missing_count, exact.missing_count);
                assert_eq!(spilled.observed, exact.observed);
                let rows = |o: &RowObservation| o.samples.iter().map(|s| s.row).collect::<Vec<_>>();
                assert_eq!(rows(&spilled), rows(&exact), "{rule:?} {distinct}");
                assert_eq!(spilled.samples, exact.samples);
            }
        }
    }
}
