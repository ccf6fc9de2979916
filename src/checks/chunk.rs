//! A chunk of rows as the readers hand it to the checks: column-major, only the columns asked
//! for, with nulls already decided (CSV: pandas' default null tokens; Parquet: nulls and NaN).
//!
//! CSV cells stay text until a check needs numbers; `ColumnData::numbers` parses a column once
//! per chunk and keeps the result for every check on that column.
use std::sync::OnceLock;

/// The text cells pandas reads as missing by default (`read_csv`'s `na_values`); kiroku counts
/// the same cells as null so GX suites see the same nulls as on pandas.
pub const NULL_TOKENS: [&[u8]; 19] = [
    b"",
    b"#N/A",
    b"#N/A N/A",
    b"#NA",
    b"-1.#IND",
    b"-1.#QNAN",
    b"-NaN",
    b"-nan",
    b"1.#IND",
    b"1.#QNAN",
    b"<NA>",
    b"N/A",
    b"NA",
    b"NULL",
    b"NaN",
    b"None",
    b"n/a",
    b"nan",
    b"null",
];

/// Whether a CSV cell's bytes are one of the [`NULL_TOKENS`] (none is longer than 8 bytes;
/// then a match on the bytes: this runs for every cell read).
pub fn is_null_token(cell: &[u8]) -> bool {
    cell.len() <= 8
        && matches!(
            cell,
            b"" | b"#N/A"
                | b"#N/A N/A"
                | b"#NA"
                | b"-1.#IND"
                | b"-1.#QNAN"
                | b"-NaN"
                | b"-nan"
                | b"1.#IND"
                | b"1.#QNAN"
                | b"<NA>"
                | b"N/A"
                | b"NA"
                | b"NULL"
                | b"NaN"
                | b"None"
                | b"n/a"
                | b"nan"
                | b"null"
        )
}

/// One cell as a check sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Text as read (CSV cells, Parquet strings, dates and timestamps in ISO 8601); may be
    /// non-UTF-8 bytes from a CSV file.
    Text(&'a [u8]),
}

impl Value<'_> {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value as a number: numbers as they are, bools as 0/1, text when it parses (ASCII
    /// whitespace around it ignored, as pandas does).
    pub fn as_number(&self) -> Option<f64> {
        match *self {
            Value::Null => None,
            Value::Int(i) => Some(i as f64),
            Value::Float(f) => Some(f),
            Value::Bool(b) => Some(if b { 1.0 } else { 0.0 }),
            Value::Text(bytes) => parse_number(bytes),
        }
    }

    /// The value as JSON for samples and reports (text lossily decoded from non-UTF-8).
    pub fn to_json(&self) -> serde_json::Value {
        match *self {
            Value::Null => serde_json::Value::Null,
            Value::Int(i) => serde_json::Value::from(i),
            Value::Float(f) => serde_json::Number::from_f64(f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Bool(b) => serde_json::Value::Bool(b),
            Value::Text(bytes) => serde_json::Value::String(String::from_utf8_lossy(bytes).into()),
        }
    }

    /// Writes the value's identity for hashing (unique, distinct counts, overlap keys): equal
    /// numbers hash equal whatever their spelling in a CSV file, as pandas' typed columns do.
    pub fn hash_into(&self, hasher: &mut impl std::hash::Hasher) {
        match *self {
            Value::Null => hasher.write_u8(0),
            Value::Bool(b) => {
                hasher.write_u8(1);
                hasher.write_u8(b as u8)
            }
            Value::Int(i) => hash_number(i as f64, hasher),
            Value::Float(f) => hash_number(f, hasher),
            Value::Text(bytes) => match parse_number(bytes) {
                Some(number) => hash_number(number, hasher),
                None => {
                    hasher.write_u8(3);
                    hasher.write(bytes);
                    hasher.write_u8(0xff);
                }
            },
        }
    }
}

fn hash_number(number: f64, hasher: &mut impl std::hash::Hasher) {
    hasher.write_u8(2);
    // -0.0 and 0.0 are the same value.
    let number = if number == 0.0 { 0.0 } else { number };
    hasher.write_u64(number.to_bits());
}

/// Parses a CSV cell as a number (`1`, `-2.5`, `1e3`, `inf`), ignoring surrounding ASCII
/// whitespace; `None` for anything else (including NaN, which is a null).
pub fn parse_number(bytes: &[u8]) -> Option<f64> {
    let bytes = bytes.trim_ascii();
    if bytes.is_empty() {
        return None;
    }
    // A fast path for plain integers, the commonest numeric cell.
    if bytes.len() <= 15 {
        let (negative, digits) = match bytes[0] {
            b'-' => (true, &bytes[1..]),
            b'+' => (false, &bytes[1..]),
            _ => (false, bytes),
        };
        if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
            let value = digits
                .iter()
                .fold(0i64, |acc, d| acc * 10 + (d - b'0') as i64);
            return Some(if negative { -value } else { value } as f64);
        }
    }
    if !bytes.is_ascii() {
        return None;
    }
    // SAFETY: ASCII bytes are valid UTF-8 (checked above; cheaper than `from_utf8`).
    let text = unsafe { std::str::from_utf8_unchecked(bytes) };
    text.parse::<f64>().ok().filter(|f| !f.is_nan())
}

/// One column of a chunk.
#[derive(Debug)]
pub enum ColumnData {
    /// CSV cells and Parquet strings/dates/timestamps: the cells' bytes back to back, each
    /// cell's end offset, and which are null.
    Text {
        bytes: Vec<u8>,
        ends: Vec<usize>,
        nulls: Vec<bool>,
        numbers: OnceLock<Vec<Option<f64>>>,
    },
    Int {
        values: Vec<i64>,
        nulls: Vec<bool>,
    },
    /// NaN is stored as a null.
    Float {
        values: Vec<f64>,
        nulls: Vec<bool>,
    },
    Bool {
        values: Vec<bool>,
        nulls: Vec<bool>,
    },
    /// The column is absent from this chunk's file (a folder whose files differ): all null.
    Missing {
        rows: usize,
    },
}

impl ColumnData {
    /// An empty text column with room for `rows` cells.
    pub fn text_with_capacity(rows: usize) -> Self {
        ColumnData::Text {
            bytes: Vec::with_capacity(rows * 8),
            ends: Vec::with_capacity(rows),
            nulls: Vec::with_capacity(rows),
            numbers: OnceLock::new(),
        }
    }

    /// Appends a CSV cell (null when it is a null token).
    pub fn push_text(&mut self, cell: &[u8]) {
        if let ColumnData::Text {
            bytes, ends, nulls, ..
        } = self
        {
            let null = is_null_token(cell);
            if !null {
                bytes.extend_from_slice(cell);
            }
            ends.push(bytes.len());
            nulls.push(null);
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ColumnData::Text { nulls, .. }
            | ColumnData::Int { nulls, .. }
            | ColumnData::Float { nulls, .. }
            | ColumnData::Bool { nulls, .. } => nulls.len(),
            ColumnData::Missing { rows } => *rows,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_null(&self, row: usize) -> bool {
        match self {
            ColumnData::Text { nulls, .. }
            | ColumnData::Int { nulls, .. }
            | ColumnData::Float { nulls, .. }
            | ColumnData::Bool { nulls, .. } => nulls[row],
            ColumnData::Missing { .. } => true,
        }
    }

    pub fn value(&self, row: usize) -> Value<'_> {
        match self {
            ColumnData::Text {
                bytes, ends, nulls, ..
            } => {
                if nulls[row] {
                    Value::Null
                } else {
                    let start = if row == 0 { 0 } else { ends[row - 1] };
                    Value::Text(&bytes[start..ends[row]])
                }
            }
            ColumnData::Int { values, nulls } => {
                if nulls[row] {
                    Value::Null
                } else {
                    Value::Int(values[row])
                }
            }
            ColumnData::Float { values, nulls } => {
                if nulls[row] {
                    Value::Null
                } else {
                    Value::Float(values[row])
                }
            }
            ColumnData::Bool { values, nulls } => {
                if nulls[row] {
                    Value::Null
                } else {
                    Value::Bool(values[row])
                }
            }
            ColumnData::Missing { .. } => Value::Null,
        }
    }

    /// Each row's value as a number (`None`: null, or text that is no number), parsed once per
    /// chunk for text columns.
    pub fn numbers(&self) -> std::borrow::Cow<'_, [Option<f64>]> {
        use std::borrow::Cow;
        match self {
            ColumnData::Text { numbers, .. } => Cow::Borrowed(
                numbers
                    .get_or_init(|| {
                        (0..self.len())
                            .map(|row| self.value(row).as_number())
                            .collect()
                    })
                    .as_slice(),
            ),
            ColumnData::Float { values, nulls } => Cow::Owned(
                values
                    .iter()
                    .zip(nulls)
                    .map(|(v, null)| (!null).then_some(*v))
                    .collect(),
            ),
            other => Cow::Owned(
                (0..other.len())
                    .map(|row| other.value(row).as_number())
                    .collect(),
            ),
        }
    }
}

/// Consecutive rows of a dataset, column-major, in the order the reader was asked for columns.
#[derive(Debug)]
pub struct Chunk {
    /// The dataset row number (0-based, across a folder's files) of the chunk's first row.
    pub first_row: u64,
    pub rows: usize,
    pub columns: Vec<ColumnData>,
}

impl Chunk {
    pub fn column(&self, index: usize) -> &ColumnData {
        &self.columns[index]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_like_pandas_and_nan_is_no_number() {
        assert_eq!(parse_number(b"42"), Some(42.0));
        assert_eq!(parse_number(b" -7 "), Some(-7.0));
        assert_eq!(parse_number(b"+3"), Some(3.0));
        assert_eq!(parse_number(b"1e3"), Some(1000.0));
        assert_eq!(parse_number(b"-2.5"), Some(-2.5));
        assert_eq!(parse_number(b"inf"), Some(f64::INFINITY));
        assert_eq!(parse_number(b"NaN"), None);
        assert_eq!(parse_number(b"12abc"), None);
        assert_eq!(parse_number(b"-"), None);
        assert_eq!(parse_number(b"\xff\xfe"), None);
        assert_eq!(parse_number(b""), None);
    }

    #[test]
    fn null_tokens_are_pandas_defaults_and_exact() {
        for token in [
            "", "NA", "N/A", "null", "NULL", "NaN", "nan", "None", "<NA>", "#N/A",
        ] {
            assert!(is_null_token(token.as_bytes()), "{token:?}");
        }
        for token in NULL_TOKENS {
            assert!(is_null_token(token), "{token:?}");
            let mut longer = token.to_vec();
            longer.push(b'x');
            assert!(!is_null_token(&longer), "{longer:?}");
        }
        for text in [" ", "na", "none", "Null", "0", "NA ", "1.#INF", "#N/B"] {
            assert!(!is_null_token(text.as_bytes()), "{text:?}");
        }
    }

    #[test]
    fn a_text_column_keeps_cells_and_nulls_apart() {
        let mut column = ColumnData::text_with_capacity(4);
        for cell in [&b"a"[..], b"", b"12", b"NA", b"\xff"] {
            column.push_text(cell);
        }
        assert_eq!(column.len(), 5);
        assert_eq!(column.value(0), Value::Text(b"a"));
        assert_eq!(column.value(1), Value::Null);
        assert_eq!(column.value(2), Value::Text(b"12"));
        assert!(column.is_null(3));
        assert_eq!(column.value(4), Value::Text(b"\xff"));
        assert_eq!(&*column.numbers(), &[None, None, Some(12.0), None, None]);
        assert_eq!(column.value(4).to_json(), serde_json::json!("\u{fffd}"));
    }

    #[test]
    fn equal_numbers_hash_equal_whatever_their_spelling() {
        use std::hash::{DefaultHasher, Hasher};
        let hash = |value: Value| {
            let mut hasher = DefaultHasher::new();
            value.hash_into(&mut hasher);
            hasher.finish()
        };
        assert_eq!(hash(Value::Text(b"1.0")), hash(Value::Int(1)));
        assert_eq!(hash(Value::Text(b"-0")), hash(Value::Float(0.0)));
        assert_ne!(hash(Value::Text(b"a")), hash(Value::Text(b"b")));
        assert_ne!(hash(Value::Text(b"1")), hash(Value::Text(b"1x")));
    }
}
