//! A CSV file read the way pandas' `read_csv` reads it with its defaults, which is what Great
//! Expectations validates on its pandas engine: the columns' types and the nulls GX sees.
//!
//! What pandas does, and so what this does:
//! - Null ("NaN") cells are the exact strings `""`, `#N/A`, `#N/A N/A`, `#NA`, `-1.#IND`,
//!   `-1.#QNAN`, `-NaN`, `-nan`, `1.#IND`, `1.#QNAN`, `<NA>`, `N/A`, `NA`, `NULL`, `NaN`,
//!   `None`, `n/a`, `nan`, `null` (pandas' `STR_NA_VALUES`; no trimming: `" NA"` is a string),
//!   quoted or not. A row with fewer fields than the header is filled with nulls.
//! - A column's type is decided over the whole column: every non-null cell an integer → `int64`
//!   (with any null → `float64`, as pandas has no null integer by default); every one a number
//!   → `float64` (`1.`, `.5`, `1e3`, `inf`, `-Infinity` in any case, spaces and tabs around
//!   are allowed); every one `true`/`false` in any case → `bool` (with nulls: Python objects
//!   `True`/`False`/`NaN`); anything else → strings, all cells as written (`"5"` stays the
//!   string `"5"` in a column that also holds `"a"`). A column of nulls only is `float64`.
//! - Blank lines are skipped; a UTF-8 byte-order mark before the header is dropped; repeated
//!   header names become `a`, `a.1`, `a.2` (pandas' mangling).
//!
//! Where this differs from pandas: integers past `int64` are read as floats (pandas keeps
//! `uint64` or Python ints); a row with more fields than the header is an error here (pandas
//! errors too unless every row has one more, when it makes the first column the index);
//! bytes that are not UTF-8 are an error (as they are for pandas' default encoding).
use crate::checks::dataset::ReadProgress;
use crate::error::{KirokuError, Result};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// pandas' default strings read as null (`pandas._libs.parsers.STR_NA_VALUES`).
pub const PANDAS_NA_STRINGS: [&str; 19] = [
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
];

/// One cell as pandas holds it (borrowed from its column).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(&'a str),
}

impl Cell<'_> {
    pub fn is_null(&self) -> bool {
        match self {
            Cell::Null => true,
            Cell::Float(value) => value.is_nan(),
            _ => false,
        }
    }

    /// The cell as a number, for numeric comparisons (`bool` is 0/1 as in Python).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Cell::Int(value) => Some(*value as f64),
            Cell::Float(value) => Some(*value),
            Cell::Bool(value) => Some(f64::from(u8::from(*value))),
            Cell::Null | Cell::Str(_) => None,
        }
    }

    /// The cell as JSON (non-finite floats as the strings `NaN`, `Infinity`, `-Infinity`).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Cell::Null => serde_json::Value::Null,
            Cell::Int(value) => serde_json::Value::from(*value),
            Cell::Float(value) => float_json(*value),
            Cell::Bool(value) => serde_json::Value::Bool(*value),
            Cell::Str(value) => serde_json::Value::String(value.to_string()),
        }
    }
}

/// A float as JSON: a number when finite, else the name Python's `json` writes (`NaN`,
/// `Infinity`, `-Infinity`) as a string, since JSON has no such numbers.
pub fn float_json(value: f64) -> serde_json::Value {
    if value.is_finite() {
        serde_json::Value::from(value)
    } else if value.is_nan() {
        serde_json::Value::from("NaN")
    } else if value > 0.0 {
        serde_json::Value::from("Infinity")
    } else {
        serde_json::Value::from("-Infinity")
    }
}

/// A column's pandas dtype after `read_csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    Int64,
    Float64,
    Bool,
    /// Python objects: `True`/`False` with nulls.
    ObjectBool,
    /// Strings (`str` in pandas 3, `object` before).
    Str,
}

impl Dtype {
    pub fn is_numeric(self) -> bool {
        matches!(self, Dtype::Int64 | Dtype::Float64)
    }
}

/// A column's texts in one buffer (a string column's cells, or any column while it is read).
#[derive(Debug, Clone, Default)]
struct Texts {
    text: String,
    /// Where each cell's text ends in `text`.
    ends: Vec<usize>,
    nulls: Vec<bool>,
}

impl Texts {
    fn push(&mut self, cell: Option<&str>) {
        self.text.push_str(cell.unwrap_or_default());
        self.ends.push(self.text.len());
        self.nulls.push(cell.is_none());
    }

    fn get(&self, row: usize) -> Option<&str> {
        if self.nulls[row] {
            return None;
        }
        let start = if row == 0 { 0 } else { self.ends[row - 1] };
        Some(&self.text[start..self.ends[row]])
    }

    fn iter(&self) -> impl Iterator<Item = Option<&str>> {
        (0..self.ends.len()).map(|row| self.get(row))
    }
}

/// What the cells of a column have been so far, as pandas' inference asks.
#[derive(Debug, Clone, Copy)]
struct Inference {
    all_int: bool,
    all_float: bool,
    all_bool: bool,
    has_null: bool,
    has_value: bool,
}

impl Inference {
    const START: Inference = Inference {
        all_int: true,
        all_float: true,
        all_bool: true,
        has_null: false,
        has_value: false,
    };

    fn see(&mut self, cell: Option<&str>) {
        let Some(text) = cell else {
            self.has_null = true;
            return;
        };
        self.has_value = true;
        self.all_int = self.all_int && parse_int(text).is_some();
        self.all_float = self.all_float && (self.all_int || parse_float(text).is_some());
        self.all_bool = self.all_bool && parse_bool(text).is_some();
    }
}

/// A column's cells, stored by dtype.
#[derive(Debug, Clone)]
enum Cells {
    Int(Vec<i64>),
    /// NaN for nulls.
    Float(Vec<f64>),
    Bool(Vec<Option<bool>>),
    Str(Texts),
}

/// One column: its dtype and its cells, one per row.
#[derive(Debug, Clone)]
pub struct Column {
    pub dtype: Dtype,
    cells: Cells,
}

impl Column {
    pub fn len(&self) -> usize {
        match &self.cells {
            Cells::Int(values) => values.len(),
            Cells::Float(values) => values.len(),
            Cells::Bool(values) => values.len(),
            Cells::Str(texts) => texts.ends.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, row: usize) -> Cell<'_> {
        match &self.cells {
            Cells::Int(values) => Cell::Int(values[row]),
            Cells::Float(values) => Cell::Float(values[row]),
            Cells::Bool(values) => values[row].map_or(Cell::Null, Cell::Bool),
            Cells::Str(texts) => texts.get(row).map_or(Cell::Null, Cell::Str),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = Cell<'_>> {
        (0..self.len()).map(|row| self.get(row))
    }

    pub fn null_count(&self) -> usize {
        self.iter().filter(Cell::is_null).count()
    }
}

/// A table read from one CSV: every column's name, and the cells of the columns asked for.
#[derive(Debug, Clone)]
pub struct Frame {
    /// All the file's columns, in file order (after pandas' renaming of repeated names).
    pub columns: Vec<String>,
    pub rows: usize,
    data: HashMap<String, Column>,
}

impl Frame {
    /// Reads `path`, keeping the cells of the columns in `wanted` (all when `None`); names in
    /// `wanted` the file lacks are left out (`column` then answers `None`).
    pub fn read_csv(path: &Path, wanted: Option<&[String]>) -> Result<Frame> {
        Frame::read_csv_with_progress(path, wanted, None)
    }

    /// `read_csv`, counting the bytes and lines read in `progress` (a progress display's).
    pub fn read_csv_with_progress(
        path: &Path,
        wanted: Option<&[String]>,
        progress: Option<&Arc<ReadProgress>>,
    ) -> Result<Frame> {
        let file = std::fs::File::open(path).map_err(|source| KirokuError::Io {
            context: format!("cannot read {}", path.display()),
            source,
        })?;
        Frame::from_reader(
            std::io::BufReader::new(Counted {
                inner: file,
                progress: progress.map(|p| &**p),
            }),
            &path.display().to_string(),
            wanted,
        )
    }

    /// As `read_csv`, from any reader; `name` is how errors name the source.
    pub fn from_reader(
        reader: impl std::io::Read,
        name: &str,
        wanted: Option<&[String]>,
    ) -> Result<Frame> {
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(reader);
        let mut records = csv.byte_records();
        let header = loop {
            match records.next() {
                None => {
                    return Err(KirokuError::Invalid(format!(
                        "{name}: the file is empty (no header row)"
                    )))
                }
                Some(record) => {
                    let record = record.map_err(|error| csv_error(name, error))?;
                    if !is_blank(&record) {
                        break record;
                    }
                }
            }
        };
        let columns = header_names(&header, name)?;
        let keep: Vec<Option<usize>> = {
            let mut next = 0;
            columns
                .iter()
                .map(|column| {
                    let kept = wanted.is_none_or(|wanted| wanted.contains(column));
                    kept.then(|| {
                        next += 1;
                        next - 1
                    })
                })
                .collect()
        };
        let kept_count = keep.iter().flatten().count();
        let mut raw: Vec<Texts> = vec![Texts::default(); kept_count];
        let mut inference = vec![Inference::START; kept_count];
        let mut rows = 0usize;
        for record in records {
            let record = record.map_err(|error| csv_error(name, error))?;
            if is_blank(&record) {
                continue;
            }
            let line = record.position().map_or(0, |position| position.line());
            if record.len() > columns.len() {
                return Err(KirokuError::Invalid(format!(
                    "{name}, line {line}: {} fields where the header has {} (pandas refuses such a row too)",
                    record.len(),
                    columns.len()
                )));
            }
            for (index, slot) in keep.iter().enumerate() {
                let Some(slot) = slot else { continue };
                let cell = match record.get(index) {
                    None => None,
                    Some(bytes) => {
                        let text = std::str::from_utf8(bytes).map_err(|_| {
                            KirokuError::Invalid(format!(
                                "{name}, line {line}, column '{}': the bytes are not UTF-8 (pandas reads UTF-8 by default)",
                                columns[index]
                            ))
                        })?;
                        (!PANDAS_NA_STRINGS.contains(&text)).then_some(text)
                    }
                };
                raw[*slot].push(cell);
                inference[*slot].see(cell);
            }
            rows += 1;
        }
        let mut data = HashMap::new();
        for (index, slot) in keep.iter().enumerate() {
            if let Some(slot) = slot {
                let texts = std::mem::take(&mut raw[*slot]);
                data.insert(
                    columns[index].clone(),
                    typed_column(texts, inference[*slot]),
                );
            }
        }
        Ok(Frame {
            columns,
            rows,
            data,
        })
    }

    /// Reads a Parquet file (or a folder of them) as pandas' `read_parquet` does, keeping the
    /// columns in `wanted`: the file's types decide (integers with a null become float64,
    /// booleans with a null Python objects, strings stay strings: no null spellings), NaN is
    /// null. Dates and timestamps read as ISO text (pandas would make them datetimes).
    pub fn read_parquet(path: &Path, wanted: &[String]) -> Result<Frame> {
        Frame::read_parquet_with_progress(path, wanted, None)
    }

    /// `read_parquet`, counting the bytes and rows read in `progress`.
    pub fn read_parquet_with_progress(
        path: &Path,
        wanted: &[String],
        progress: Option<&Arc<ReadProgress>>,
    ) -> Result<Frame> {
        let dataset = crate::checks::dataset::Dataset::open(path)?;
        let positions: Vec<usize> = wanted
            .iter()
            .filter_map(|name| dataset.column_index(name))
            .collect();
        let mut built: Vec<ParquetColumn> = vec![ParquetColumn::default(); positions.len()];
        let options = crate::checks::dataset::ReadOptions {
            columns: positions.clone(),
            hash: false,
            progress: progress.cloned(),
        };
        let summary = crate::checks::dataset::read(&dataset, &options, |chunk| {
            for (slot, column) in built.iter_mut().enumerate() {
                let data = chunk.column(slot);
                for row in 0..chunk.rows {
                    column.push(data.value(row));
                }
            }
            Ok(())
        })?;
        let data = positions
            .iter()
            .zip(built)
            .map(|(&position, column)| (dataset.columns[position].clone(), column.finish()))
            .collect();
        Ok(Frame {
            columns: dataset.columns.clone(),
            rows: summary.rows as usize,
            data,
        })
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.data.get(name)
    }
}

/// A Parquet column as it is read: typed by the first non-null value's kind.
#[derive(Debug, Clone, Default)]
struct ParquetColumn {
    ints: Vec<Option<i64>>,
    floats: Vec<f64>,
    bools: Vec<Option<bool>>,
    texts: Texts,
    kind: Option<Dtype>,
    rows: usize,
}

impl ParquetColumn {
    fn push(&mut self, value: crate::checks::chunk::Value) {
        use crate::checks::chunk::Value;
        let kind = match value {
            Value::Null => None,
            Value::Int(_) => Some(Dtype::Int64),
            Value::Float(_) => Some(Dtype::Float64),
            Value::Bool(_) => Some(Dtype::Bool),
            Value::Text(_) => Some(Dtype::Str),
        };
        if self.kind.is_none() && kind.is_some() {
            // Nulls seen before the first value take that value's kind.
            self.kind = kind;
            let rows = self.rows;
            self.ints = vec![None; rows];
            self.floats = vec![f64::NAN; rows];
            self.bools = vec![None; rows];
            self.texts = Texts::default();
            (0..rows).for_each(|_| self.texts.push(None));
        }
        self.rows += 1;
        match (self.kind, value) {
            (None, _) => {}
            (Some(Dtype::Int64), Value::Int(int)) => self.ints.push(Some(int)),
            (Some(Dtype::Int64), _) => self.ints.push(None),
            (Some(Dtype::Float64), Value::Float(float)) => self.floats.push(float),
            (Some(Dtype::Float64), Value::Int(int)) => self.floats.push(int as f64),
            (Some(Dtype::Float64), _) => self.floats.push(f64::NAN),
            (Some(Dtype::Bool | Dtype::ObjectBool), Value::Bool(flag)) => {
                self.bools.push(Some(flag))
            }
            (Some(Dtype::Bool | Dtype::ObjectBool), _) => self.bools.push(None),
            (Some(Dtype::Str), Value::Text(bytes)) => {
                self.texts.push(Some(&String::from_utf8_lossy(bytes)))
            }
            (Some(Dtype::Str), _) => self.texts.push(None),
        }
    }

    fn finish(self) -> Column {
        match self.kind {
            None => Column {
                dtype: Dtype::Float64,
                cells: Cells::Float(vec![f64::NAN; self.rows]),
            },
            Some(Dtype::Int64) if self.ints.iter().all(Option::is_some) => Column {
                dtype: Dtype::Int64,
                cells: Cells::Int(self.ints.into_iter().flatten().collect()),
            },
            Some(Dtype::Int64) => Column {
                dtype: Dtype::Float64,
                cells: Cells::Float(
                    self.ints
                        .into_iter()
                        .map(|int| int.map_or(f64::NAN, |int| int as f64))
                        .collect(),
                ),
            },
            Some(Dtype::Float64) => Column {
                dtype: Dtype::Float64,
                cells: Cells::Float(self.floats),
            },
            Some(Dtype::Bool | Dtype::ObjectBool) => Column {
                dtype: if self.bools.iter().all(Option::is_some) {
                    Dtype::Bool
                } else {
                    Dtype::ObjectBool
                },
                cells: Cells::Bool(self.bools),
            },
            Some(Dtype::Str) => Column {
                dtype: Dtype::Str,
                cells: Cells::Str(self.texts),
            },
        }
    }
}

/// pandas skips lines with nothing on them (`skip_blank_lines=True`).
fn is_blank(record: &csv::ByteRecord) -> bool {
    record.len() == 1 && record[0].is_empty()
}

fn csv_error(name: &str, error: csv::Error) -> KirokuError {
    let line = error
        .position()
        .map(|position| format!(", line {}", position.line()))
        .unwrap_or_default();
    KirokuError::Invalid(format!("{name}{line}: {error}"))
}

/// The header's names as pandas gives them: a leading byte-order mark dropped, repeats renamed
/// `name.1`, `name.2`, an empty name `Unnamed: i`.
fn header_names(header: &csv::ByteRecord, name: &str) -> Result<Vec<String>> {
    let mut names: Vec<String> = Vec::with_capacity(header.len());
    for (index, bytes) in header.iter().enumerate() {
        let bytes = if index == 0 {
            bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
        } else {
            bytes
        };
        let text = std::str::from_utf8(bytes).map_err(|_| {
            KirokuError::Invalid(format!(
                "{name}, line 1: header field {} is not UTF-8",
                index + 1
            ))
        })?;
        let base = if text.is_empty() {
            format!("Unnamed: {index}")
        } else {
            text.to_string()
        };
        let mut candidate = base.clone();
        let mut counter = 0;
        while names.contains(&candidate) {
            counter += 1;
            candidate = format!("{base}.{counter}");
        }
        names.push(candidate);
    }
    Ok(names)
}

/// pandas' C parser's integer syntax: optional spaces/tabs, a sign, digits.
fn parse_int(text: &str) -> Option<i64> {
    let trimmed = text.trim_matches([' ', '\t']);
    let digits = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    trimmed.parse().ok()
}

/// pandas' C parser's float syntax: decimal with optional exponent, or an infinity in any case
/// (`inf`, `Infinity`), signed, with spaces/tabs around; never a NaN spelling (those that are
/// null are already null; `nan ` with a space is a string to pandas).
fn parse_float(text: &str) -> Option<f64> {
    let trimmed = text.trim_matches([' ', '\t']);
    let unsigned = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
    if unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity") {
        return trimmed.parse().ok();
    }
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], Some(&unsigned[at + 1..])),
        None => (unsigned, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    if let Some(exponent) = exponent {
        let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
        if digits.is_empty() || !all_digits(digits) {
            return None;
        }
    }
    trimmed.parse().ok()
}

fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A column's dtype and cells from its texts, as pandas' type inference decides.
fn typed_column(texts: Texts, inference: Inference) -> Column {
    if inference.has_value && inference.all_int && !inference.has_null {
        let values = texts
            .iter()
            .map(|text| text.and_then(parse_int).unwrap_or_default())
            .collect();
        return Column {
            dtype: Dtype::Int64,
            cells: Cells::Int(values),
        };
    }
    if inference.all_float {
        // Ints with a null are floats too; a column of nulls only is float64 of NaN.
        let values = texts
            .iter()
            .map(|text| match text {
                Some(text) => parse_int(text)
                    .map_or_else(|| parse_float(text).unwrap_or(f64::NAN), |int| int as f64),
                None => f64::NAN,
            })
            .collect();
        return Column {
            dtype: Dtype::Float64,
            cells: Cells::Float(values),
        };
    }
    if inference.all_bool {
        let dtype = if inference.has_null {
            Dtype::ObjectBool
        } else {
            Dtype::Bool
        };
        let values = texts.iter().map(|text| text.and_then(parse_bool)).collect();
        return Column {
            dtype,
            cells: Cells::Bool(values),
        };
    }
    Column {
        dtype: Dtype::Str,
        cells: Cells::Str(texts),
    }
}

/// A reader that counts what passes through it in a progress display's [`ReadProgress`]: bytes,
/// and lines as rows (a quoted field's line breaks count too: it is a display's estimate).
struct Counted<'a, R> {
    inner: R,
    progress: Option<&'a ReadProgress>,
}

impl<R: std::io::Read> std::io::Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(progress) = self.progress {
            let lines = buf[..n].iter().filter(|&&b| b == b'\n').count();
            progress.add(n as u64, lines as u64);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_with_progress_counts_every_byte_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        let text = "a,b\n1,x\n2,\"y\"\n3,z\n";
        std::fs::write(&path, text).unwrap();
        let progress = Arc::new(ReadProgress::default());
        let frame = Frame::read_csv_with_progress(&path, None, Some(&progress)).unwrap();
        assert_eq!(frame.rows, 3);
        let read = |counter: &std::sync::atomic::AtomicU64| {
            counter.load(std::sync::atomic::Ordering::Relaxed)
        };
        assert_eq!(read(&progress.bytes), text.len() as u64);
        assert_eq!(read(&progress.rows), 4);
    }

    fn frame(text: &str) -> Frame {
        Frame::from_reader(text.as_bytes(), "test.csv", None).unwrap()
    }

    #[test]
    fn columns_are_typed_over_the_whole_column_as_pandas_does() {
        let frame = frame("i,f,n,b,ob,s,e\n1,1.5,1,true,True,5,\n+2, inf ,NA,FALSE,,a,NaN\n");
        let dtype = |name: &str| frame.column(name).unwrap().dtype;
        assert_eq!(dtype("i"), Dtype::Int64);
        assert_eq!(dtype("f"), Dtype::Float64);
        assert_eq!(dtype("n"), Dtype::Float64, "ints with a null are floats");
        assert_eq!(dtype("b"), Dtype::Bool);
        assert_eq!(dtype("ob"), Dtype::ObjectBool);
        assert_eq!(dtype("s"), Dtype::Str);
        assert_eq!(dtype("e"), Dtype::Float64, "a column of nulls is float64");
        assert_eq!(frame.column("s").unwrap().get(0), Cell::Str("5"));
        assert_eq!(
            frame.column("f").unwrap().get(1),
            Cell::Float(f64::INFINITY)
        );
        assert_eq!(frame.rows, 2);
    }

    #[test]
    fn pandas_null_spellings_are_exact_and_blank_lines_are_skipped() {
        let frame = frame("\u{feff}a,a\n\nnull,x\n\" NA\",y\nNone,z\nnone,w\n");
        assert_eq!(frame.columns, ["a", "a.1"]);
        let column = frame.column("a").unwrap();
        assert_eq!(column.len(), 4);
        assert!(column.get(0).is_null() && column.get(2).is_null());
        assert_eq!(column.get(1), Cell::Str(" NA"));
        assert_eq!(column.get(3), Cell::Str("none"));
    }

    #[test]
    fn number_syntax_follows_pandas() {
        for good in ["1.", ".5", "1e3", "1E+3", "-Infinity", "iNf", " 2.5\t"] {
            assert!(parse_float(good).is_some(), "{good}");
        }
        for bad in ["0x10", "1_000", "1,5", "1d3", "nan ", "e3", ".", "1e"] {
            assert!(parse_float(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_row_longer_than_the_header_is_an_error_naming_its_line() {
        let error = Frame::from_reader("a,b\n1,2\n1,2,3\n".as_bytes(), "x.csv", None).unwrap_err();
        assert!(error.to_string().contains("x.csv, line 3"), "{error}");
    }
}
