//! Temporary files for accumulators past their memory budget: a removed-on-drop temp file, and
//! records of 64-bit words split into [`PARTITIONS`] files by their first word (a key hash), so
//! that each partition can be read back and finished in memory on its own.
//!
//! `kept` spills a median's numbers to one file; `unique` checks and distinct counts spill key
//! hashes (with rows and counts) to hash partitions: a partition holds about 1/64 of the keys,
//! so exact answers need memory for 1/64 of them at the end instead of all of them.
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::path::PathBuf;

/// Hash partitions of a spill (the key hash's top 6 bits).
pub const PARTITIONS: usize = 64;

/// Write buffer of each partition file (1 MB over the 64 of a spill).
const PARTITION_BUFFER: usize = 16 << 10;

/// A temporary file opened for writing and reading, removed when dropped.
pub struct TempFile {
    path: PathBuf,
    writer: BufWriter<File>,
}

impl TempFile {
    /// A new file in the system's temp folder named `kiroku-PURPOSE-PID-N`, buffered by
    /// `buffer` bytes.
    pub fn create(purpose: &str, buffer: usize) -> std::io::Result<TempFile> {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("kiroku-{purpose}-{}-{n}", std::process::id()));
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok(TempFile {
            path,
            writer: BufWriter::with_capacity(buffer, file),
        })
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    pub fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.writer.write_all(bytes)
    }

    /// Everything written so far, from the start (the buffer flushed first).
    pub fn reader(&mut self) -> std::io::Result<BufReader<File>> {
        self.writer.flush()?;
        let mut file = self.writer.get_ref().try_clone()?;
        file.rewind()?;
        Ok(BufReader::with_capacity(1 << 20, file))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Fixed-width records of 64-bit words, the first word a hash, spilled to [`PARTITIONS`] files.
pub struct HashPartitions {
    purpose: &'static str,
    words: usize,
    files: Vec<TempFile>,
    records: u64,
}

impl HashPartitions {
    /// Partitions of records of `words` words (files created at the first record).
    pub fn new(purpose: &'static str, words: usize) -> Self {
        HashPartitions {
            purpose,
            words,
            files: Vec::new(),
            records: 0,
        }
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Appends a record (`record.len()` must be the record width).
    pub fn push(&mut self, record: &[u64]) -> std::io::Result<()> {
        debug_assert_eq!(record.len(), self.words);
        if self.files.is_empty() {
            for _ in 0..PARTITIONS {
                self.files
                    .push(TempFile::create(self.purpose, PARTITION_BUFFER)?);
            }
        }
        let partition = (record[0] >> (64 - PARTITIONS.trailing_zeros())) as usize;
        let file = &mut self.files[partition];
        for word in record {
            file.write_all(&word.to_le_bytes())?;
        }
        self.records += 1;
        Ok(())
    }

    /// Calls `visit` with each partition's words (records back to back), one partition at a time.
    pub fn for_each_partition(
        &mut self,
        mut visit: impl FnMut(&mut Vec<u64>),
    ) -> std::io::Result<()> {
        let mut words = Vec::new();
        let mut bytes = vec![0u8; 8 << 10];
        for file in &mut self.files {
            words.clear();
            let mut reader = file.reader()?;
            loop {
                let n = read_full(&mut reader, &mut bytes)?;
                if n % 8 != 0 {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!("{} ends inside a record", file.path().display()),
                    ));
                }
                words.extend(
                    bytes[..n]
                        .chunks_exact(8)
                        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes"))),
                );
                if n < bytes.len() {
                    break;
                }
            }
            if words.len() % self.words != 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("{} ends inside a record", file.path().display()),
                ));
            }
            visit(&mut words);
        }
        Ok(())
    }
}

/// Reads until `buffer` is full or the reader ends; the bytes read.
fn read_full(reader: &mut impl Read, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// Distinct 64-bit hashes counted exactly in bounded memory: a set of up to `budget` hashes,
/// written to hash partitions each time it fills; the count is then the sum over partitions of
/// their distinct hashes (each partition sorted and deduplicated in memory).
pub struct DistinctHashes {
    set: super::tally::HashKeyedSet,
    budget: usize,
    spill: HashPartitions,
    error: Option<String>,
}

impl DistinctHashes {
    pub fn with_budget(budget: usize) -> Self {
        DistinctHashes {
            set: Default::default(),
            budget: budget.max(1),
            spill: HashPartitions::new("distinct", 1),
            error: None,
        }
    }

    pub fn insert(&mut self, hash: u64) {
        self.set.insert(hash);
        if self.set.len() >= self.budget {
            self.spill_set();
        }
    }

    fn spill_set(&mut self) {
        if self.error.is_none() {
            for hash in self.set.drain() {
                if let Err(e) = self.spill.push(&[hash]) {
                    self.error = Some(format!(
                        "cannot spill distinct values to a temporary file: {e}"
                    ));
                    break;
                }
            }
        }
        self.set.clear();
    }

    /// Whether the set went past its budget and spilled.
    pub fn spilled(&self) -> bool {
        !self.spill.is_empty()
    }

    /// The number of distinct hashes (an error when the temporary files failed).
    pub fn count(mut self) -> Result<u64, String> {
        if !self.spilled() {
            return match self.error {
                Some(message) => Err(message),
                None => Ok(self.set.len() as u64),
            };
        }
        self.spill_set();
        if let Some(message) = self.error {
            return Err(message);
        }
        let mut distinct = 0u64;
        self.spill
            .for_each_partition(|hashes| {
                hashes.sort_unstable();
                hashes.dedup();
                distinct += hashes.len() as u64;
            })
            .map_err(|e| format!("cannot read back spilled distinct values: {e}"))?;
        Ok(distinct)
    }
}

impl Default for DistinctHashes {
    fn default() -> Self {
        DistinctHashes::with_budget(KEYS_IN_MEMORY)
    }
}

/// Keys a unique check or distinct count holds in memory before spilling: a hash table of
/// 2²¹ slots at its 7/8 load (32 MB for a unique check's 16-byte entries, 16 MB for a distinct
/// count's 8-byte ones), just below the size at which it would double.
pub const KEYS_IN_MEMORY: usize = (1 << 21) / 8 * 7;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_give_back_every_record_once() {
        let mut partitions = HashPartitions::new("test", 2);
        let mut state = 99u64;
        let mut written = Vec::new();
        for i in 0..10_000u64 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            partitions.push(&[state, i]).unwrap();
            written.push((state, i));
        }
        let paths: Vec<PathBuf> = partitions
            .files
            .iter()
            .map(|f| f.path().to_path_buf())
            .collect();
        let mut read = Vec::new();
        let mut previous_top = None;
        partitions
            .for_each_partition(|words| {
                for record in words.chunks_exact(2) {
                    read.push((record[0], record[1]));
                }
                if let Some(first) = words.first() {
                    let top = first >> 58;
                    assert!(
                        previous_top.is_none_or(|p| p < top),
                        "one partition per top bits"
                    );
                    previous_top = Some(top);
                    assert!(words.chunks_exact(2).all(|r| r[0] >> 58 == top));
                }
            })
            .unwrap();
        read.sort_unstable();
        written.sort_unstable();
        assert_eq!(read, written);
        drop(partitions);
        assert!(paths.iter().all(|p| !p.exists()), "the files are removed");
    }

    #[test]
    fn distinct_hashes_count_exactly_past_the_budget() {
        let mut spilled = DistinctHashes::with_budget(100);
        let mut exact = std::collections::HashSet::new();
        let mut state = 7u64;
        for _ in 0..20_000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // About 3,000 distinct values, each seen many times across spills.
            let hash = (state >> 33) % 3001;
            let hash = hash.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            spilled.insert(hash);
            exact.insert(hash);
        }
        assert!(spilled.spilled());
        assert_eq!(spilled.count().unwrap(), exact.len() as u64);
        let mut small = DistinctHashes::with_budget(100);
        small.insert(1);
        small.insert(1);
        assert!(!small.spilled());
        assert_eq!(small.count().unwrap(), 1);
    }
}
