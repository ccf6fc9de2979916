//! Reading Parquet files with the `parquet` crate's Arrow reader: only the columns asked for
//! (a projection mask), in record batches of [`CHUNK_ROWS`] rows, turned into kiroku's chunks.
//!
//! Integers of any width become `Int`, floats `Float` (NaN is a null, as pandas counts it),
//! decimals `Float`, strings (also dictionary-encoded and view strings) `Text`, dates and
//! timestamps ISO 8601 `Text`.
use super::chunk::{Chunk, ColumnData};
use super::dataset::{sha256_file, DatasetFile, Sink, CHUNK_ROWS};
use crate::error::{KirokuError, Result};
use crate::model::ColumnType;
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use std::path::Path;
use std::sync::OnceLock;

fn cannot_read(path: &Path, error: impl std::fmt::Display) -> KirokuError {
    KirokuError::Invalid(format!(
        "cannot read Parquet file {}: {error}",
        path.display()
    ))
}

fn builder(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<std::fs::File>> {
    let file = std::fs::File::open(path).map_err(|e| cannot_read(path, e))?;
    ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| cannot_read(path, e))
}

/// The column names and kiroku types of a Parquet file's top-level fields.
pub fn schema(path: &Path) -> Result<(Vec<String>, Vec<ColumnType>)> {
    let builder = builder(path)?;
    let schema = builder.schema();
    Ok(schema
        .fields()
        .iter()
        .map(|field| (field.name().clone(), column_type(field.data_type())))
        .unzip())
}

/// kiroku's type for an Arrow type.
pub fn column_type(data_type: &DataType) -> ColumnType {
    match data_type {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => ColumnType::Int,
        DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => ColumnType::Float,
        DataType::Boolean => ColumnType::Bool,
        DataType::Date32 | DataType::Date64 => ColumnType::Date,
        DataType::Timestamp(..) => ColumnType::Timestamp,
        DataType::Null => ColumnType::Null,
        DataType::Dictionary(_, values) => column_type(values),
        _ => ColumnType::String,
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
    // The digest on a thread of its own while the columns decode here.
    std::thread::scope(|scope| {
        let digest = hash.then(|| scope.spawn(|| sha256_file(path)));
        let stopped = decode(file, names, sink)?;
        let digest = match digest {
            Some(thread) => Some(thread.join().map_err(|_| {
                KirokuError::Invalid(format!("hashing {} failed", path.display()))
            })??),
            None => None,
        };
        Ok((if stopped { None } else { digest }, stopped))
    })
}

/// Decodes `file`'s columns `names` into chunks sent to `sink`; whether the consumer stopped.
fn decode(file: &DatasetFile, names: &[&str], sink: &mut Sink<'_>) -> Result<bool> {
    let path = &file.path;
    let builder = builder(path)?;
    let fields = builder.schema().fields().clone();
    let roots: Vec<usize> = names
        .iter()
        .filter_map(|name| fields.iter().position(|f| f.name() == name))
        .collect();
    let total_rows = builder.metadata().file_metadata().num_rows().max(0) as u64;
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots.iter().copied());
    let reader = builder
        .with_projection(mask)
        .with_batch_size(CHUNK_ROWS)
        .build()
        .map_err(|e| cannot_read(path, e))?;
    let mut rows_read = 0u64;
    let mut bytes_sent = 0u64;
    for batch in reader {
        let batch = batch.map_err(|e| cannot_read(path, e))?;
        let rows = batch.num_rows();
        let schema = batch.schema();
        let columns = names
            .iter()
            .map(|name| match schema.index_of(name) {
                Ok(index) => convert(batch.column(index), name, path),
                Err(_) => Ok(ColumnData::Missing { rows }),
            })
            .collect::<Result<Vec<_>>>()?;
        let chunk = Chunk {
            first_row: sink.summary.rows,
            rows,
            columns,
        };
        rows_read += rows as u64;
        // Progress in bytes: the file's share read so far.
        let bytes_now = (file.size as f64 * rows_read as f64 / total_rows.max(1) as f64) as u64;
        if !sink.send(chunk, bytes_now.saturating_sub(bytes_sent)) {
            return Ok(true);
        }
        bytes_sent = bytes_now;
    }
    if let Some(progress) = sink.progress {
        progress.add(file.size.saturating_sub(bytes_sent), 0);
    }
    Ok(false)
}

fn nulls_of(array: &dyn Array) -> Vec<bool> {
    (0..array.len()).map(|i| array.is_null(i)).collect()
}

fn ints<T: ArrowPrimitiveType>(array: &ArrayRef, to_i64: impl Fn(T::Native) -> i64) -> ColumnData {
    let typed = array.as_primitive::<T>();
    ColumnData::Int {
        values: typed.values().iter().map(|v| to_i64(*v)).collect(),
        nulls: nulls_of(typed),
    }
}

fn floats(values: impl Iterator<Item = f64>, array: &dyn Array) -> ColumnData {
    let values: Vec<f64> = values.collect();
    let nulls = values
        .iter()
        .enumerate()
        .map(|(i, v)| array.is_null(i) || v.is_nan())
        .collect();
    ColumnData::Float { values, nulls }
}

fn texts<'a>(cells: impl Iterator<Item = Option<&'a [u8]>>, rows: usize) -> ColumnData {
    let mut bytes = Vec::new();
    let mut ends = Vec::with_capacity(rows);
    let mut nulls = Vec::with_capacity(rows);
    for cell in cells {
        if let Some(cell) = cell {
            bytes.extend_from_slice(cell);
        }
        ends.push(bytes.len());
        nulls.push(cell.is_none());
    }
    ColumnData::Text {
        bytes,
        ends,
        nulls,
        numbers: OnceLock::new(),
    }
}

fn formatted(array: &dyn Array, format: impl Fn(usize) -> String) -> ColumnData {
    let texts_owned: Vec<Option<String>> = (0..array.len())
        .map(|i| (!array.is_null(i)).then(|| format(i)))
        .collect();
    texts(
        texts_owned.iter().map(|t| t.as_deref().map(str::as_bytes)),
        array.len(),
    )
}

/// An Arrow array as a chunk column.
fn convert(array: &ArrayRef, name: &str, path: &Path) -> Result<ColumnData> {
    let rows = array.len();
    Ok(match array.data_type() {
        DataType::Int8 => ints::<Int8Type>(array, i64::from),
        DataType::Int16 => ints::<Int16Type>(array, i64::from),
        DataType::Int32 => ints::<Int32Type>(array, i64::from),
        DataType::Int64 => ints::<Int64Type>(array, |v| v),
        DataType::UInt8 => ints::<UInt8Type>(array, i64::from),
        DataType::UInt16 => ints::<UInt16Type>(array, i64::from),
        DataType::UInt32 => ints::<UInt32Type>(array, i64::from),
        DataType::UInt64 => ints::<UInt64Type>(array, |v| v as i64),
        DataType::Float32 => {
            let typed = array.as_primitive::<Float32Type>();
            floats(typed.values().iter().map(|v| *v as f64), typed)
        }
        DataType::Float64 => {
            let typed = array.as_primitive::<Float64Type>();
            floats(typed.values().iter().copied(), typed)
        }
        DataType::Decimal128(_, scale) => {
            let typed = array.as_primitive::<Decimal128Type>();
            let divisor = 10f64.powi(*scale as i32);
            floats(typed.values().iter().map(|v| *v as f64 / divisor), typed)
        }
        DataType::Boolean => {
            let typed = array.as_boolean();
            ColumnData::Bool {
                values: typed.values().iter().collect(),
                nulls: nulls_of(typed),
            }
        }
        DataType::Utf8 => texts(
            array
                .as_string::<i32>()
                .iter()
                .map(|v| v.map(str::as_bytes)),
            rows,
        ),
        DataType::LargeUtf8 => texts(
            array
                .as_string::<i64>()
                .iter()
                .map(|v| v.map(str::as_bytes)),
            rows,
        ),
        DataType::Utf8View => texts(
            array.as_string_view().iter().map(|v| v.map(str::as_bytes)),
            rows,
        ),
        DataType::Binary => texts(array.as_binary::<i32>().iter(), rows),
        DataType::LargeBinary => texts(array.as_binary::<i64>().iter(), rows),
        DataType::Date32 => {
            let typed = array.as_primitive::<Date32Type>();
            formatted(typed, |i| format_date(typed.value(i) as i64))
        }
        DataType::Date64 => {
            let typed = array.as_primitive::<Date64Type>();
            formatted(typed, |i| {
                format_date(typed.value(i).div_euclid(86_400_000))
            })
        }
        DataType::Timestamp(unit, zone) => {
            let per_second: i64 = match unit {
                TimeUnit::Second => 1,
                TimeUnit::Millisecond => 1_000,
                TimeUnit::Microsecond => 1_000_000,
                TimeUnit::Nanosecond => 1_000_000_000,
            };
            let suffix = if zone.is_some() { "Z" } else { "" };
            let values: Vec<i64> = match unit {
                TimeUnit::Second => array
                    .as_primitive::<TimestampSecondType>()
                    .values()
                    .to_vec(),
                TimeUnit::Millisecond => array
                    .as_primitive::<TimestampMillisecondType>()
                    .values()
                    .to_vec(),
                TimeUnit::Microsecond => array
                    .as_primitive::<TimestampMicrosecondType>()
                    .values()
                    .to_vec(),
                TimeUnit::Nanosecond => array
                    .as_primitive::<TimestampNanosecondType>()
                    .values()
                    .to_vec(),
            };
            formatted(array.as_ref(), |i| {
                format_timestamp(values[i], per_second) + suffix
            })
        }
        DataType::Dictionary(key, _) => {
            let (keys, values): (Vec<Option<usize>>, ArrayRef) = match key.as_ref() {
                DataType::Int8 => dictionary::<Int8Type>(array),
                DataType::Int16 => dictionary::<Int16Type>(array),
                DataType::Int32 => dictionary::<Int32Type>(array),
                DataType::Int64 => dictionary::<Int64Type>(array),
                DataType::UInt8 => dictionary::<UInt8Type>(array),
                DataType::UInt16 => dictionary::<UInt16Type>(array),
                DataType::UInt32 => dictionary::<UInt32Type>(array),
                DataType::UInt64 => dictionary::<UInt64Type>(array),
                other => return Err(unsupported(name, other, path)),
            };
            let dictionary = convert(&values, name, path)?;
            let texts_owned: Vec<Option<serde_json::Value>> = keys
                .iter()
                .map(|key| {
                    key.map(|k| dictionary.value(k).to_json())
                        .filter(|v| !v.is_null())
                })
                .collect();
            let strings: Vec<Option<String>> = texts_owned
                .into_iter()
                .map(|v| {
                    v.map(|v| match v {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    })
                })
                .collect();
            texts(
                strings.iter().map(|s| s.as_deref().map(str::as_bytes)),
                rows,
            )
        }
        DataType::Null => ColumnData::Missing { rows },
        other => return Err(unsupported(name, other, path)),
    })
}

fn dictionary<K: ArrowDictionaryKeyType>(array: &ArrayRef) -> (Vec<Option<usize>>, ArrayRef) {
    let dictionary = array.as_dictionary::<K>();
    let keys = (0..dictionary.len()).map(|i| dictionary.key(i)).collect();
    (keys, dictionary.values().clone())
}

fn unsupported(name: &str, data_type: &DataType, path: &Path) -> KirokuError {
    KirokuError::Invalid(format!(
        "column '{name}' of {} has Parquet/Arrow type {data_type}, which kiroku's checks do not read",
        path.display()
    ))
}

/// `YYYY-MM-DD` for days since 1970-01-01 (proleptic Gregorian).
pub fn format_date(days: i64) -> String {
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}")
}

/// `YYYY-MM-DDTHH:MM:SS` (and a fraction when there is one) for `ticks` at `per_second`.
pub fn format_timestamp(ticks: i64, per_second: i64) -> String {
    let seconds = ticks.div_euclid(per_second);
    let fraction = ticks.rem_euclid(per_second);
    let days = seconds.div_euclid(86_400);
    let in_day = seconds.rem_euclid(86_400);
    let mut text = format!(
        "{}T{:02}:{:02}:{:02}",
        format_date(days),
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60
    );
    if fraction != 0 {
        let digits = (per_second as f64).log10().round() as usize;
        text.push_str(&format!(".{fraction:0digits$}"));
    }
    text
}

/// Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_timestamps_format_as_iso_8601() {
        assert_eq!(format_date(0), "1970-01-01");
        assert_eq!(format_date(19_723), "2024-01-01");
        assert_eq!(format_date(-1), "1969-12-31");
        assert_eq!(format_timestamp(1_704_067_200, 1), "2024-01-01T00:00:00");
        assert_eq!(
            format_timestamp(1_704_067_200_123_000, 1_000_000),
            "2024-01-01T00:00:00.123000"
        );
        assert_eq!(format_timestamp(-1, 1), "1969-12-31T23:59:59");
    }
}
