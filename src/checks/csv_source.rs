//! Reading CSV files as byte records: quoted fields, CRLF, a UTF-8 BOM and non-UTF-8 bytes are
//! read as they are; a row with more or fewer fields than the header is counted as ragged
//! (missing cells are null, extra ones ignored), never fatal.
//!
//! The header, and everything from a file's first double quote on, is read by the `csv` crate.
//! Blocks before any quote (most machine-written data) are split by two threads in one pass
//! over their bytes, which without quotes gives the same records (`split_block`).
//!
//! Column names follow pandas so a GX suite names the same columns: an empty name becomes
//! `Unnamed: I`, a repeated name `NAME.1`, `NAME.2`, ….
use super::chunk::{Chunk, ColumnData};
use super::csv_scan;
use super::dataset::{digest_text, DatasetFile, Sink, CHUNK_ROWS};
use crate::error::{KirokuError, Result};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::{mpsc, Mutex};

fn delimiter_of(path: &Path) -> u8 {
    match path.extension().and_then(|e| e.to_str()) {
        Some(ext) if ext.eq_ignore_ascii_case("tsv") => b'\t',
        _ => b',',
    }
}

fn reader_builder(path: &Path) -> csv::ReaderBuilder {
    let mut builder = csv::ReaderBuilder::new();
    builder
        .delimiter(delimiter_of(path))
        .flexible(true)
        .has_headers(false)
        .buffer_capacity(1 << 20);
    builder
}

fn cannot_read(path: &Path, error: impl std::fmt::Display) -> KirokuError {
    KirokuError::Invalid(format!("cannot read {}: {error}", path.display()))
}

/// The column names of a CSV file's header row (pandas' names for empty and repeated ones).
pub fn header(path: &Path) -> Result<Vec<String>> {
    let file = std::fs::File::open(path).map_err(|e| cannot_read(path, e))?;
    let mut reader = reader_builder(path).from_reader(file);
    let mut record = csv::ByteRecord::new();
    let found = reader
        .read_byte_record(&mut record)
        .map_err(|e| cannot_read(path, e))?;
    if !found {
        return Ok(Vec::new());
    }
    Ok(column_names(&record))
}

/// pandas' column names for a header record.
fn column_names(record: &csv::ByteRecord) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(record.len());
    for (index, field) in record.iter().enumerate() {
        let base = if field.is_empty() {
            format!("Unnamed: {index}")
        } else {
            String::from_utf8_lossy(field).into_owned()
        };
        let mut name = base.clone();
        let mut n = 0;
        while names.contains(&name) {
            n += 1;
            name = format!("{base}.{n}");
        }
        names.push(name);
    }
    names
}

/// A reader that hashes and counts what passes through it.
struct CountingReader<R> {
    inner: R,
    hasher: Option<Sha256>,
    bytes: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(hasher) = &mut self.hasher {
            hasher.update(&buf[..n]);
        }
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Bytes per block handed to a parsing thread.
const BLOCK_BYTES: usize = 1 << 20;

/// Blocks read ahead of the one next in order (bounds the memory of a read).
const BLOCKS_IN_FLIGHT: usize = 4;

/// How one file's data rows are turned into chunks.
struct RowParser<'a> {
    path: &'a Path,
    /// Each chunk column's field in a record (`None`: the file lacks the column).
    fields: Vec<Option<usize>>,
    /// The header's field count (other records are ragged).
    width: usize,
}

impl RowParser<'_> {
    /// The next chunk of up to [`CHUNK_ROWS`] records of `reader` (first row numbered
    /// `first_row`), calling `ragged` with each ragged row's number; `None` at the end.
    fn next_chunk<R: Read>(
        &self,
        reader: &mut csv::Reader<R>,
        record: &mut csv::ByteRecord,
        first_row: u64,
        mut ragged: impl FnMut(u64),
    ) -> Result<Option<Chunk>> {
        let mut columns = self.new_columns();
        let mut rows = 0usize;
        while rows < CHUNK_ROWS {
            let more = reader.read_byte_record(record).map_err(|e| {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                KirokuError::Invalid(format!(
                    "cannot read {} at line {line}: {e}",
                    self.path.display()
                ))
            })?;
            if !more {
                break;
            }
            if record.len() != self.width {
                ragged(first_row + rows as u64);
            }
            self.push_row(&mut columns, |index| record.get(index));
            rows += 1;
        }
        Ok((rows > 0).then_some(Chunk {
            first_row,
            rows,
            columns,
        }))
    }

    /// Empty columns for a chunk.
    fn new_columns(&self) -> Vec<ColumnData> {
        self.fields
            .iter()
            .map(|field| match field {
                Some(_) => ColumnData::text_with_capacity(CHUNK_ROWS),
                None => ColumnData::Missing { rows: 0 },
            })
            .collect()
    }

    /// Appends a record's cells (`field(i)`: its field `i`, `None` past its end) to `columns`.
    fn push_row<'r>(&self, columns: &mut [ColumnData], field: impl Fn(usize) -> Option<&'r [u8]>) {
        for (column, wanted) in columns.iter_mut().zip(&self.fields) {
            match wanted {
                Some(index) => column.push_text(field(*index).unwrap_or(b"")),
                None => {
                    if let ColumnData::Missing { rows } = column {
                        *rows += 1;
                    }
                }
            }
        }
    }

    /// A block of whole records without a quote, split into chunks numbered from 0.
    ///
    /// Without quotes the records and fields are found by [`csv_scan::for_each_record`], which
    /// gives the csv crate's records (`blocks_cut_at_newlines_read_as_one_csv_reader_does`
    /// checks that) at a fraction of its cost.
    fn split_block(&self, block: &[u8]) -> ParsedBlock {
        debug_assert!(!block.contains(&b'"'));
        let mut parsed = ParsedBlock {
            chunks: Vec::new(),
            ragged: Vec::new(),
            rows: 0,
            bytes: block.len() as u64,
        };
        let mut columns = self.new_columns();
        let mut rows = 0usize;
        csv_scan::for_each_record(block, delimiter_of(self.path), |bounds| {
            let fields = bounds.len() - 1;
            if fields != self.width {
                parsed.ragged.push(parsed.rows + rows as u64);
            }
            self.push_row(&mut columns, |index| {
                (index < fields).then(|| &block[bounds[index]..bounds[index + 1] - 1])
            });
            rows += 1;
            if rows == CHUNK_ROWS {
                parsed.push(std::mem::replace(&mut columns, self.new_columns()), rows);
                rows = 0;
            }
        });
        if rows > 0 {
            parsed.push(columns, rows);
        }
        parsed
    }
}

/// A block's chunks, rows numbered from the block's start.
struct ParsedBlock {
    chunks: Vec<Chunk>,
    ragged: Vec<u64>,
    rows: u64,
    bytes: u64,
}

impl ParsedBlock {
    fn push(&mut self, columns: Vec<ColumnData>, rows: usize) {
        self.chunks.push(Chunk {
            first_row: self.rows,
            rows,
            columns,
        });
        self.rows += rows as u64;
    }

    /// Sends the block's chunks on, numbered from the rows sent so far; `false` when the
    /// consumer stopped.
    fn send(self, sink: &mut Sink<'_>) -> bool {
        let base = sink.summary.rows;
        for row in self.ragged {
            sink.ragged(base + row);
        }
        if self.chunks.is_empty() {
            // Blank lines only.
            if let Some(progress) = sink.progress {
                progress.add(self.bytes, 0);
            }
        }
        let last = self.chunks.len().saturating_sub(1);
        for (index, mut chunk) in self.chunks.into_iter().enumerate() {
            chunk.first_row += base;
            if !sink.send(chunk, if index == last { self.bytes } else { 0 }) {
                return false;
            }
        }
        true
    }
}

/// Parsed blocks put back in file order.
struct InOrder<'a> {
    path: &'a Path,
    parsed: mpsc::Receiver<(u64, ParsedBlock)>,
    waiting: BTreeMap<u64, ParsedBlock>,
    /// Blocks sent on so far.
    done: u64,
}

impl InOrder<'_> {
    /// Sends on the parsed blocks next in order, first waiting for the next one when `wait`;
    /// `false` when the consumer stopped.
    fn deliver(&mut self, sink: &mut Sink<'_>, wait: bool) -> Result<bool> {
        while wait && !self.waiting.contains_key(&self.done) {
            let (index, block) = self.parsed.recv().map_err(|_| {
                KirokuError::Invalid(format!(
                    "a parsing thread of {} stopped",
                    self.path.display()
                ))
            })?;
            self.waiting.insert(index, block);
        }
        while let Ok((index, block)) = self.parsed.try_recv() {
            self.waiting.insert(index, block);
        }
        while let Some(block) = self.waiting.remove(&self.done) {
            self.done += 1;
            if !block.send(sink) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Appends up to `block_bytes` more bytes of `file` to `pending` (hashing them); whether the
/// file ended.
fn read_block(
    file: &mut std::fs::File,
    pending: &mut Vec<u8>,
    block_bytes: usize,
    hasher: &mut Option<Sha256>,
) -> std::io::Result<bool> {
    let start = pending.len();
    pending.reserve(block_bytes);
    let n = file.take(block_bytes as u64).read_to_end(pending)?;
    if let Some(hasher) = hasher {
        hasher.update(&pending[start..]);
    }
    Ok(n < block_bytes)
}

/// Reads `file`'s columns `names` (absent ones read as null) into chunks sent to `sink`.
/// Returns the file's digest (when `hash`) and whether the consumer stopped.
///
/// The file is read in blocks of [`BLOCK_BYTES`] (hashed as they are read) cut after their
/// last newline and split by two threads, the chunks sent on in file order. A newline ends a
/// record unless it is inside a quoted field, so blocks are cut this way only while no quote
/// has been seen; from the first quote on, the `csv` crate reads the rest on this thread.
pub(crate) fn read_file(
    file: &DatasetFile,
    names: &[&str],
    hash: bool,
    sink: &mut Sink<'_>,
) -> Result<(Option<String>, bool)> {
    read_file_in_blocks(file, names, hash, sink, BLOCK_BYTES)
}

fn read_file_in_blocks(
    file: &DatasetFile,
    names: &[&str],
    hash: bool,
    sink: &mut Sink<'_>,
    block_bytes: usize,
) -> Result<(Option<String>, bool)> {
    let path = &file.path;
    let mut handle = std::fs::File::open(path).map_err(|e| cannot_read(path, e))?;
    let mut hasher = hash.then(Sha256::new);
    // Read until the header record is whole (it ends before the data read so far does).
    let mut pending: Vec<u8> = Vec::new();
    let mut at_end;
    let (header, header_bytes) = loop {
        at_end = read_block(&mut handle, &mut pending, block_bytes, &mut hasher)
            .map_err(|e| cannot_read(path, e))?;
        let mut reader = reader_builder(path).from_reader(&pending[..]);
        let mut record = csv::ByteRecord::new();
        let found = reader
            .read_byte_record(&mut record)
            .map_err(|e| cannot_read(path, e))?;
        let consumed = reader.position().byte() as usize;
        if !found {
            break (Vec::new(), pending.len());
        }
        if consumed < pending.len() || at_end {
            break (column_names(&record), consumed);
        }
    };
    if let Some(progress) = sink.progress {
        progress.add(header_bytes as u64, 0);
    }
    pending.drain(..header_bytes.min(pending.len()));
    let parser = RowParser {
        path,
        fields: names
            .iter()
            .map(|name| header.iter().position(|h| h == name))
            .collect(),
        width: header.len(),
    };
    let (jobs, job_queue) = mpsc::sync_channel::<(u64, Vec<u8>)>(BLOCKS_IN_FLIGHT);
    // Split blocks come back to be read into again (fresh buffers cost page faults).
    let (spare_blocks, returned_blocks) = mpsc::channel::<Vec<u8>>();
    let job_queue = Mutex::new(job_queue);
    let quoted = std::thread::scope(|scope| -> Result<Option<Vec<u8>>> {
        let (results, parsed) = mpsc::channel::<(u64, ParsedBlock)>();
        for _ in 0..2 {
            let (job_queue, results, parser) = (&job_queue, results.clone(), &parser);
            let spare_blocks = spare_blocks.clone();
            scope.spawn(move || loop {
                let job = job_queue.lock().map(|queue| queue.recv());
                let Ok(Ok((index, block))) = job else {
                    return;
                };
                let parsed = parser.split_block(&block);
                // Cannot fail: the receiver outlives these threads.
                let _ = spare_blocks.send(block);
                if results.send((index, parsed)).is_err() {
                    return;
                }
            });
        }
        drop(results);
        let mut in_order = InOrder {
            path,
            parsed,
            waiting: BTreeMap::new(),
            done: 0,
        };
        let mut sent = 0u64;
        let mut quoted = false;
        loop {
            if memchr_quote(&pending) {
                quoted = true;
                break;
            }
            let cut = if at_end {
                pending.len()
            } else {
                match memchr::memrchr(b'\n', &pending) {
                    Some(newline) => newline + 1,
                    // No record end in a whole block: lines this long are left to one thread.
                    None if pending.len() >= 8 * block_bytes => {
                        quoted = true;
                        break;
                    }
                    None => 0,
                }
            };
            if cut > 0 {
                let mut rest = returned_blocks.try_recv().unwrap_or_default();
                rest.clear();
                rest.extend_from_slice(&pending[cut..]);
                pending.truncate(cut);
                let block = std::mem::replace(&mut pending, rest);
                jobs.send((sent, block))
                    .map_err(|_| KirokuError::Invalid("the CSV parsing threads stopped".into()))?;
                sent += 1;
                if !in_order.deliver(sink, sent - in_order.done >= BLOCKS_IN_FLIGHT as u64)? {
                    return Ok(None);
                }
            }
            if at_end {
                break;
            }
            at_end = read_block(&mut handle, &mut pending, block_bytes, &mut hasher)
                .map_err(|e| cannot_read(path, e))?;
        }
        drop(jobs);
        while in_order.done < sent {
            if !in_order.deliver(sink, true)? {
                return Ok(None);
            }
        }
        Ok(Some(if quoted {
            std::mem::take(&mut pending)
        } else {
            Vec::new()
        }))
    })?;
    let Some(rest) = quoted else {
        return Ok((None, true));
    };
    if !rest.is_empty() || !at_end {
        // From the first quote on: one csv reader over what is left, on this thread.
        let counting = CountingReader {
            inner: handle,
            hasher: hasher.take(),
            bytes: 0,
        };
        let already = rest.len() as u64;
        let mut reader =
            reader_builder(path).from_reader(std::io::Cursor::new(rest).chain(counting));
        let mut record = csv::ByteRecord::new();
        let mut bytes_sent = 0u64;
        loop {
            let first_row = sink.summary.rows;
            let mut ragged = Vec::new();
            let Some(chunk) =
                parser.next_chunk(&mut reader, &mut record, first_row, |row| ragged.push(row))?
            else {
                break;
            };
            for row in ragged {
                sink.ragged(row);
            }
            let read = already + reader.get_ref().get_ref().1.bytes;
            if !sink.send(chunk, read - bytes_sent) {
                return Ok((None, true));
            }
            bytes_sent = read;
        }
        // Hash whatever the parser left unread (nothing, normally).
        let mut unread = Vec::new();
        let counting = reader.get_mut().get_mut().1;
        counting
            .read_to_end(&mut unread)
            .map_err(|e| cannot_read(path, e))?;
        hasher = counting.hasher.take();
        if let Some(progress) = sink.progress {
            progress.add((already + counting.bytes).saturating_sub(bytes_sent), 0);
        }
    }
    Ok((hasher.map(digest_text), false))
}

/// Whether `bytes` hold a double quote.
fn memchr_quote(bytes: &[u8]) -> bool {
    memchr::memchr(b'"', bytes).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::chunk::Value;
    use crate::checks::dataset::{read, Dataset, ReadOptions};
    use std::sync::mpsc;

    /// A chunk's rows as JSON values.
    fn chunk_rows(chunk: &Chunk) -> Vec<Vec<serde_json::Value>> {
        (0..chunk.rows)
            .map(|row| {
                chunk
                    .columns
                    .iter()
                    .map(|c| c.value(row).to_json())
                    .collect()
            })
            .collect()
    }

    fn read_all(
        dir: &Path,
        name: &str,
        content: &[u8],
        columns: &[&str],
    ) -> (
        Vec<Vec<serde_json::Value>>,
        super::super::dataset::ReadSummary,
    ) {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        let dataset = Dataset::open(&path).unwrap();
        let options = ReadOptions {
            columns: columns
                .iter()
                .map(|c| dataset.column_index(c).unwrap())
                .collect(),
            hash: true,
            progress: None,
        };
        let mut rows = Vec::new();
        let summary = read(&dataset, &options, |chunk| {
            rows.extend(chunk_rows(&chunk));
            Ok(())
        })
        .unwrap();
        (rows, summary)
    }

    #[test]
    fn quoted_fields_crlf_and_a_bom_read_as_plain_cells() {
        let dir = tempfile::tempdir().unwrap();
        let content = b"\xef\xbb\xbfid,text\r\n1,\"a, \"\"quoted\"\"\r\nline\"\r\n2,plain\r\n";
        let (rows, summary) = read_all(dir.path(), "q.csv", content, &["id", "text"]);
        assert_eq!(
            rows,
            vec![
                vec![
                    serde_json::json!("1"),
                    serde_json::json!("a, \"quoted\"\r\nline")
                ],
                vec![serde_json::json!("2"), serde_json::json!("plain")],
            ]
        );
        assert_eq!(summary.rows, 2);
        assert_eq!(summary.ragged_rows, 0);
        let expected = {
            let mut hasher = Sha256::new();
            hasher.update(content);
            digest_text(hasher)
        };
        assert_eq!(summary.files[0].sha256.as_deref(), Some(expected.as_str()));
    }

    #[test]
    fn nulls_empty_strings_and_nan_are_null_but_spaces_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let content = b"v\n\n\"\"\nNaN\nNA\n \nx\n";
        let (rows, _) = read_all(dir.path(), "n.csv", content, &["v"]);
        // The csv crate skips a blank line; a quoted empty field is a row with an empty cell.
        let values: Vec<_> = rows.into_iter().map(|r| r[0].clone()).collect();
        assert_eq!(
            values,
            vec![
                serde_json::Value::Null,
                serde_json::Value::Null,
                serde_json::Value::Null,
                serde_json::json!(" "),
                serde_json::json!("x")
            ]
        );
    }

    #[test]
    fn ragged_rows_are_counted_with_their_numbers_and_read_as_far_as_they_go() {
        let dir = tempfile::tempdir().unwrap();
        let content = b"a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n";
        let (rows, summary) = read_all(dir.path(), "r.csv", content, &["a", "c"]);
        assert_eq!(summary.ragged_rows, 2);
        assert_eq!(summary.ragged_examples, vec![1, 2]);
        assert_eq!(
            rows[1],
            vec![serde_json::json!("4"), serde_json::Value::Null]
        );
        assert_eq!(
            rows[2],
            vec![serde_json::json!("6"), serde_json::json!("8")]
        );
        assert_eq!(rows.len(), 4);
    }

    #[test]
    fn non_utf8_bytes_survive_and_header_names_follow_pandas() {
        let dir = tempfile::tempdir().unwrap();
        let content = b"name,,name\ncaf\xe9,1,2\n";
        let path = dir.path().join("l.csv");
        std::fs::write(&path, content).unwrap();
        let dataset = Dataset::open(&path).unwrap();
        assert_eq!(dataset.columns, vec!["name", "Unnamed: 1", "name.1"]);
        let options = ReadOptions {
            columns: vec![0],
            ..ReadOptions::default()
        };
        let mut seen = Vec::new();
        read(&dataset, &options, |chunk| {
            if let Value::Text(bytes) = chunk.columns[0].value(0) {
                seen = bytes.to_vec();
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, b"caf\xe9");
    }

    #[test]
    fn a_folder_of_csv_files_is_one_dataset_numbered_across_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("part-1.csv"), b"a,b\n1,x\n2,y\n").unwrap();
        std::fs::write(dir.path().join("part-2.csv"), b"b,a,c\nz,3,q\n").unwrap();
        std::fs::write(dir.path().join("_SUCCESS"), b"").unwrap();
        let dataset = Dataset::open(dir.path()).unwrap();
        assert_eq!(dataset.columns, vec!["a", "b", "c"]);
        let options = ReadOptions {
            columns: vec![0, 2],
            hash: true,
            progress: None,
        };
        let mut seen = Vec::new();
        let summary = read(&dataset, &options, |chunk| {
            for row in 0..chunk.rows {
                seen.push((
                    chunk.first_row + row as u64,
                    chunk.columns[0].value(row).to_json(),
                    chunk.columns[1].value(row).to_json(),
                ));
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(summary.rows, 3);
        assert_eq!(summary.files.len(), 2);
        assert_eq!(seen[2], (2, serde_json::json!("3"), serde_json::json!("q")));
        assert_eq!(seen[0].2, serde_json::Value::Null);
    }

    #[test]
    fn a_chunk_boundary_does_not_lose_or_renumber_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mut content = String::from("n\n");
        for i in 0..(CHUNK_ROWS * 2 + 5) {
            content.push_str(&format!("{i}\n"));
        }
        let (rows, summary) = read_all(dir.path(), "big.csv", content.as_bytes(), &["n"]);
        assert_eq!(summary.rows as usize, CHUNK_ROWS * 2 + 5);
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(row[0], serde_json::json!(i.to_string()));
        }
    }

    /// The rows, ragged row numbers and digest of `content` read in blocks of `block` bytes.
    fn read_in_blocks(
        dir: &Path,
        content: &[u8],
        block: usize,
    ) -> (Vec<Vec<serde_json::Value>>, Vec<u64>, u64, Option<String>) {
        let path = dir.join("blocks.csv");
        std::fs::write(&path, content).unwrap();
        let file = DatasetFile {
            path: path.clone(),
            relative: "blocks.csv".into(),
            size: content.len() as u64,
        };
        let (sender, receiver) = mpsc::sync_channel(1 << 16);
        let mut summary = super::super::dataset::ReadSummary::default();
        let progress = super::super::dataset::ReadProgress::default();
        let mut sink = Sink {
            sender: &sender,
            progress: Some(&progress),
            summary: &mut summary,
        };
        let (digest, stopped) =
            read_file_in_blocks(&file, &["c", "a", "zz"], true, &mut sink, block).unwrap();
        assert!(!stopped);
        drop(sender);
        let mut rows = Vec::new();
        for chunk in receiver.iter() {
            assert_eq!(chunk.first_row, rows.len() as u64, "chunks in order");
            rows.extend(chunk_rows(&chunk));
        }
        assert_eq!(summary.rows, rows.len() as u64);
        assert_eq!(
            progress.bytes.load(std::sync::atomic::Ordering::Relaxed),
            content.len() as u64,
            "every byte counted once (block {block})"
        );
        (rows, summary.ragged_examples, summary.ragged_rows, digest)
    }

    #[test]
    fn blocks_cut_at_newlines_read_as_one_csv_reader_does() {
        let dir = tempfile::tempdir().unwrap();
        let mut plain = b"a,b,c\r\n".to_vec();
        for i in 0..300 {
            let line = match i % 7 {
                0 => format!("{i},x{i}\r\n"),
                3 => "\n".to_string(),
                5 => format!("{i},,{i},extra\n"),
                _ => format!("{i},NA,c{i}\n"),
            };
            plain.extend_from_slice(line.as_bytes());
        }
        let mut quoted_late = plain.clone();
        quoted_late.extend_from_slice(b"q,\"x,\ny\",\"c\"\"d\"\n");
        quoted_late.extend_from_slice(&plain[7..]);
        let mut no_final_newline = plain.clone();
        no_final_newline.extend_from_slice(b"last,row,z");
        for content in [plain, quoted_late, no_final_newline] {
            assert_reads_as_the_csv_crate(dir.path(), &content, &[5, 16, 64, 1 << 20]);
        }
    }

    /// Reads `content` in blocks of each size and compares with one csv reader over it all.
    fn assert_reads_as_the_csv_crate(dir: &Path, content: &[u8], blocks: &[usize]) {
        let mut reader = reader_builder(Path::new("x.csv")).from_reader(content);
        let mut record = csv::ByteRecord::new();
        reader.read_byte_record(&mut record).unwrap();
        let header = column_names(&record);
        let (mut expected, mut ragged) = (Vec::new(), Vec::new());
        while reader.read_byte_record(&mut record).unwrap() {
            if record.len() != header.len() {
                ragged.push(expected.len() as u64);
            }
            let cell = |name: &str| {
                let Some(i) = header.iter().position(|h| h == name) else {
                    return serde_json::Value::Null;
                };
                let mut column = ColumnData::text_with_capacity(1);
                column.push_text(record.get(i).unwrap_or(b""));
                column.value(0).to_json()
            };
            expected.push(vec![cell("c"), cell("a"), serde_json::Value::Null]);
        }
        let digest = {
            let mut hasher = Sha256::new();
            hasher.update(content);
            digest_text(hasher)
        };
        for &block in blocks {
            let (rows, examples, ragged_rows, read_digest) = read_in_blocks(dir, content, block);
            let shown = String::from_utf8_lossy(content);
            assert_eq!(rows, expected, "block {block}: {shown:?}");
            assert_eq!(ragged_rows, ragged.len() as u64, "{shown:?}");
            assert_eq!(examples, ragged[..ragged.len().min(10)].to_vec());
            assert_eq!(read_digest.as_deref(), Some(digest.as_str()));
        }
    }

    #[test]
    fn unquoted_blocks_split_as_the_csv_crate_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        let alphabet: &[&[u8]] = &[
            b"a", b"1", b"NA", b" ", b"", b",", b",", b"\n", b"\r", b"\r\n", b"\n\n", b"\xff",
        ];
        let mut state = 11u64;
        for _ in 0..300 {
            let mut content = b"a,b,c\n".to_vec();
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            for _ in 0..(state >> 58) * 4 {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                content.extend_from_slice(alphabet[(state >> 33) as usize % alphabet.len()]);
            }
            assert_reads_as_the_csv_crate(dir.path(), &content, &[3, 8, 1 << 20]);
        }
    }
}
