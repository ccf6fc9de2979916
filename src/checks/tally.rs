//! What every row check keeps while it streams: counts, the first failing rows as samples (row
//! number, key columns, checked columns), and the most frequent unexpected values.
use super::chunk::{Chunk, Value};
use crate::model::{Sample, ValueCount};
use serde_json::{Map, Value as Json};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Distinct unexpected values counted per check; further distinct values are counted in
/// `other_unexpected` only.
pub const TOP_VALUES_TRACKED: usize = 10_000;

/// Unexpected values reported per check, most frequent first.
pub const TOP_VALUES_REPORTED: usize = 20;

/// A hasher for keys that already are 64-bit hashes.
#[derive(Default, Clone, Copy)]
pub struct PassThroughHasher(u64);

impl Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ b as u64;
        }
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

/// A map keyed by 64-bit hashes.
pub type HashKeyed<V> = HashMap<u64, V, BuildHasherDefault<PassThroughHasher>>;

/// A set of 64-bit hashes.
pub type HashKeyedSet = std::collections::HashSet<u64, BuildHasherDefault<PassThroughHasher>>;

/// A fast 64-bit hasher for value identities: words folded in FxHash's way (rotate, xor,
/// multiply), bytes eight at a time, and murmur3's 64-bit finalizer at the end so that low
/// and high bits both mix (a hash table indexes by the low bits, tags by the high ones).
#[derive(Default, Clone, Copy)]
pub struct ValueHasher(u64);

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl ValueHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl Hasher for ValueHasher {
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        // The length keeps "a" and "a\0" apart.
        self.add(u64::from_le_bytes(last) ^ ((bytes.len() as u64) << 56));
    }

    fn write_u8(&mut self, value: u8) {
        self.add(value as u64);
    }

    fn write_u64(&mut self, value: u64) {
        self.add(value);
    }
}

/// The 64-bit identity of some values (equal numbers hash equal whatever their spelling).
pub fn hash_values<'a>(values: impl IntoIterator<Item = Value<'a>>) -> u64 {
    let mut hasher = ValueHasher::default();
    for value in values {
        value.hash_into(&mut hasher);
    }
    hasher.finish()
}

/// Takes sample rows: the key columns, then the checked columns, as read.
#[derive(Debug, Clone)]
pub struct Sampler {
    pub limit: usize,
    /// (name, chunk position) of the suite's key columns, then of the checked columns.
    pub columns: Vec<(String, usize)>,
    pub samples: Vec<Sample>,
}

impl Sampler {
    pub fn new(limit: usize, keys: &[(String, usize)], own: &[(String, usize)]) -> Self {
        let mut columns: Vec<(String, usize)> = keys.to_vec();
        for column in own {
            if !columns.iter().any(|(name, _)| name == &column.0) {
                columns.push(column.clone());
            }
        }
        Sampler {
            limit,
            columns,
            samples: Vec::new(),
        }
    }

    pub fn is_full(&self) -> bool {
        self.samples.len() >= self.limit
    }

    /// Keeps row `row` of `chunk` unless the sampler is full.
    pub fn take(&mut self, chunk: &Chunk, row: usize) {
        if !self.is_full() {
            self.samples.push(self.sample(chunk, row));
        }
    }

    /// Row `row` of `chunk` as a sample.
    pub fn sample(&self, chunk: &Chunk, row: usize) -> Sample {
        let mut values = Map::new();
        for (name, position) in &self.columns {
            values.insert(name.clone(), chunk.column(*position).value(row).to_json());
        }
        Sample {
            row: chunk.first_row + row as u64,
            values,
        }
    }
}

/// Counts of unexpected values.
#[derive(Debug, Default, Clone)]
pub struct TopValues {
    counts: HashKeyed<(u64, Json)>,
    other: u64,
}

impl TopValues {
    pub fn add(&mut self, value: Value<'_>) {
        let hash = hash_values([value]);
        if let Some(entry) = self.counts.get_mut(&hash) {
            entry.0 += 1;
        } else if self.counts.len() < TOP_VALUES_TRACKED {
            self.counts.insert(hash, (1, value.to_json()));
        } else {
            self.other += 1;
        }
    }

    /// The most frequent, ties by value text.
    pub fn top(self) -> Vec<ValueCount> {
        let mut all: Vec<(u64, Json)> = self.counts.into_values().collect();
        all.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then_with(|| a.1.to_string().cmp(&b.1.to_string()))
        });
        all.into_iter()
            .take(TOP_VALUES_REPORTED)
            .map(|(count, value)| ValueCount { value, count })
            .collect()
    }
}

/// A row check's running counts.
#[derive(Debug, Clone)]
pub struct Tally {
    pub element_count: u64,
    pub missing_count: u64,
    pub unexpected_count: u64,
    pub sampler: Sampler,
    pub top: Option<TopValues>,
}

impl Tally {
    pub fn new(sampler: Sampler, track_values: bool) -> Self {
        Tally {
            element_count: 0,
            missing_count: 0,
            unexpected_count: 0,
            sampler,
            top: track_values.then(TopValues::default),
        }
    }

    /// Counts an unexpected row (and its value, when values are tracked).
    pub fn unexpected(&mut self, chunk: &Chunk, row: usize, value: Value<'_>) {
        self.unexpected_count += 1;
        self.sampler.take(chunk, row);
        if let Some(top) = &mut self.top {
            top.add(value);
        }
    }

    /// The observation: percentages of the non-null rows.
    pub fn into_rows(self, observed: Json, details: Json) -> super::evaluate::RowObservation {
        super::evaluate::RowObservation {
            element_count: self.element_count,
            missing_count: self.missing_count,
            unexpected_count: self.unexpected_count,
            denominator: self.element_count - self.missing_count,
            samples: self.sampler.samples,
            top_unexpected: self.top.map(TopValues::top).unwrap_or_default(),
            observed,
            details,
        }
    }
}
