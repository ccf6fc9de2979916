//! Reading CSV files with the `csv` crate as byte records: quoted fields, CRLF, a UTF-8 BOM and
//! non-UTF-8 bytes are read as they are; a row with more or fewer fields than the header is
//! counted as ragged (missing cells are null, extra ones ignored), never fatal.
//!
//! Column names follow pandas so a GX suite names the same columns: an empty name becomes
//! `Unnamed: I`, a repeated name `NAME.1`, `NAME.2`, ….
use super::chunk::{Chunk, ColumnData};
use super::dataset::{digest_text, DatasetFile, Sink, CHUNK_ROWS};
use crate::error::{KirokuError, Result};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

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

/// Reads `file`'s columns `names` (absent ones read as null) into chunks sent to `sink`.
/// Returns the file's digest (when `hash`) and whether the consumer stopped.
pub(crate) fn read_file(
    file: &DatasetFile,
    names: &[&str],
    hash: bool,
    sink: &mut Sink<'_>,
) -> Result<(Option<String>, bool)> {
    let path = &file.path;
    let handle = std::fs::File::open(path).map_err(|e| cannot_read(path, e))?;
    let counting = CountingReader {
        inner: handle,
        hasher: hash.then(Sha256::new),
        bytes: 0,
    };
    let mut reader = reader_builder(path).from_reader(counting);
    let mut record = csv::ByteRecord::new();
    let has_header = reader
        .read_byte_record(&mut record)
        .map_err(|e| cannot_read(path, e))?;
    let header = if has_header {
        column_names(&record)
    } else {
        Vec::new()
    };
    let fields: Vec<Option<usize>> = names
        .iter()
        .map(|name| header.iter().position(|h| h == name))
        .collect();
    let width = header.len();
    let mut bytes_sent = 0u64;
    let mut stopped = false;
    loop {
        let first_row = sink.summary.rows;
        let mut columns: Vec<ColumnData> = fields
            .iter()
            .map(|field| match field {
                Some(_) => ColumnData::text_with_capacity(CHUNK_ROWS),
                None => ColumnData::Missing { rows: 0 },
            })
            .collect();
        let mut rows = 0usize;
        while rows < CHUNK_ROWS {
            let more = reader.read_byte_record(&mut record).map_err(|e| {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                KirokuError::Invalid(format!(
                    "cannot read {} at line {line}: {e}",
                    path.display()
                ))
            })?;
            if !more {
                break;
            }
            if record.len() != width {
                sink.ragged(first_row + rows as u64);
            }
            for (column, field) in columns.iter_mut().zip(&fields) {
                match field {
                    Some(index) => column.push_text(record.get(*index).unwrap_or(b"")),
                    None => {
                        if let ColumnData::Missing { rows } = column {
                            *rows += 1;
                        }
                    }
                }
            }
            rows += 1;
        }
        if rows == 0 {
            break;
        }
        let read = reader.get_ref().bytes;
        let chunk = Chunk {
            first_row,
            rows,
            columns,
        };
        if !sink.send(chunk, read - bytes_sent) {
            stopped = true;
            break;
        }
        bytes_sent = read;
    }
    if stopped {
        return Ok((None, true));
    }
    // Hash whatever the parser left unread (nothing, normally).
    let mut rest = Vec::new();
    let counting = reader.get_mut();
    counting
        .read_to_end(&mut rest)
        .map_err(|e| cannot_read(path, e))?;
    let digest = counting.hasher.take().map(digest_text);
    if let Some(progress) = sink.progress {
        progress.add(counting.bytes - bytes_sent, 0);
    }
    Ok((digest, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::chunk::Value;
    use crate::checks::dataset::{read, Dataset, ReadOptions};

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
            for row in 0..chunk.rows {
                rows.push(
                    chunk
                        .columns
                        .iter()
                        .map(|c| c.value(row).to_json())
                        .collect(),
                );
            }
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
}
