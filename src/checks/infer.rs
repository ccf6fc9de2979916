//! Inferring a CSV column's type from its cells: the narrowest of int, float, bool, date,
//! timestamp that every non-null cell fits, else string; `null` when every cell is null.
use super::chunk::Value;
use crate::model::ColumnType;

const INT: u8 = 1;
const FLOAT: u8 = 2;
const BOOL: u8 = 4;
const DATE: u8 = 8;
const TIMESTAMP: u8 = 16;
const ANY: u8 = INT | FLOAT | BOOL | DATE | TIMESTAMP;

/// A running type inference over one column's values.
#[derive(Debug, Clone, Copy)]
pub struct TypeInference {
    possible: u8,
    seen: bool,
}

impl Default for TypeInference {
    fn default() -> Self {
        TypeInference {
            possible: ANY,
            seen: false,
        }
    }
}

impl TypeInference {
    pub fn add(&mut self, value: Value<'_>) {
        let mask = match value {
            Value::Null => return,
            Value::Int(_) => INT | FLOAT,
            Value::Float(_) => FLOAT,
            Value::Bool(_) => BOOL,
            Value::Text(bytes) => {
                if self.possible == 0 {
                    self.seen = true;
                    return;
                }
                classify(bytes)
            }
        };
        self.seen = true;
        self.possible &= mask;
    }

    pub fn merge(&mut self, other: &TypeInference) {
        self.possible &= other.possible;
        self.seen |= other.seen;
    }

    pub fn column_type(&self) -> ColumnType {
        if !self.seen {
            ColumnType::Null
        } else if self.possible & INT != 0 {
            ColumnType::Int
        } else if self.possible & FLOAT != 0 {
            ColumnType::Float
        } else if self.possible & BOOL != 0 {
            ColumnType::Bool
        } else if self.possible & DATE != 0 {
            ColumnType::Date
        } else if self.possible & TIMESTAMP != 0 {
            ColumnType::Timestamp
        } else {
            ColumnType::String
        }
    }
}

/// The types one text cell fits.
fn classify(bytes: &[u8]) -> u8 {
    let trimmed = bytes.trim_ascii();
    if trimmed.is_empty() {
        return 0;
    }
    let digits = match trimmed[0] {
        b'-' | b'+' => &trimmed[1..],
        _ => trimmed,
    };
    if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
        return INT | FLOAT;
    }
    if super::chunk::parse_number(trimmed).is_some() {
        return FLOAT;
    }
    if is_bool(trimmed) {
        return BOOL;
    }
    if is_date(trimmed) {
        return DATE | TIMESTAMP;
    }
    if is_timestamp(trimmed) {
        return TIMESTAMP;
    }
    0
}

/// `true`/`false` as pandas reads them (`True`, `TRUE`, `true`, and the same for false).
pub fn is_bool(bytes: &[u8]) -> bool {
    matches!(
        bytes,
        b"true" | b"True" | b"TRUE" | b"false" | b"False" | b"FALSE"
    )
}

/// `YYYY-MM-DD` with a valid month and day.
pub fn is_date(bytes: &[u8]) -> bool {
    parse_date(bytes).is_some()
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` text.
pub fn parse_date(bytes: &[u8]) -> Option<i64> {
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year = digits(&bytes[0..4])?;
    let month = digits(&bytes[5..7])?;
    let day = digits(&bytes[8..10])?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

fn digits(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        bytes
            .iter()
            .fold(0i64, |acc, d| acc * 10 + (d - b'0') as i64),
    )
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Howard Hinnant's `days_from_civil`.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub fn is_timestamp(bytes: &[u8]) -> bool {
    parse_timestamp(bytes).is_some()
}

/// Seconds since the epoch (UTC) of `YYYY-MM-DD[T ]HH:MM[:SS[.fff]][Z|±HH:MM]`, or of a bare
/// date (midnight). A time without a zone is read as UTC.
pub fn parse_timestamp(bytes: &[u8]) -> Option<f64> {
    let text = bytes.trim_ascii();
    if text.len() < 10 {
        return None;
    }
    let days = parse_date(&text[..10])?;
    let mut seconds = days as f64 * 86_400.0;
    let rest = &text[10..];
    if rest.is_empty() {
        return Some(seconds);
    }
    if rest[0] != b'T' && rest[0] != b' ' {
        return None;
    }
    let rest = &rest[1..];
    if rest.len() < 5 || rest[2] != b':' {
        return None;
    }
    let hour = digits(&rest[0..2])?;
    let minute = digits(&rest[3..5])?;
    if hour > 23 || minute > 59 {
        return None;
    }
    seconds += (hour * 3600 + minute * 60) as f64;
    let mut rest = &rest[5..];
    if rest.len() >= 3 && rest[0] == b':' {
        let second = digits(&rest[1..3])?;
        if second > 60 {
            return None;
        }
        seconds += second as f64;
        rest = &rest[3..];
        if rest.first() == Some(&b'.') {
            let end = rest[1..]
                .iter()
                .position(|b| !b.is_ascii_digit())
                .map_or(rest.len(), |p| p + 1);
            if end == 1 {
                return None;
            }
            let fraction: f64 = std::str::from_utf8(&rest[..end]).ok()?.parse().ok()?;
            seconds += fraction;
            rest = &rest[end..];
        }
    }
    match rest {
        b"" | b"Z" | b"z" => Some(seconds),
        [sign @ (b'+' | b'-'), hh1, hh2, b':', mm1, mm2] => {
            let hours = digits(&[*hh1, *hh2])?;
            let minutes = digits(&[*mm1, *mm2])?;
            let offset = (hours * 3600 + minutes * 60) as f64;
            Some(if *sign == b'+' {
                seconds - offset
            } else {
                seconds + offset
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infer(cells: &[&str]) -> ColumnType {
        let mut inference = TypeInference::default();
        for cell in cells {
            if super::super::chunk::is_null_token(cell.as_bytes()) {
                inference.add(Value::Null);
            } else {
                inference.add(Value::Text(cell.as_bytes()));
            }
        }
        inference.column_type()
    }

    #[test]
    fn the_narrowest_type_every_cell_fits_wins() {
        assert_eq!(infer(&["1", "-2", "", "NA"]), ColumnType::Int);
        assert_eq!(infer(&["1", "2.5", "1e3"]), ColumnType::Float);
        assert_eq!(infer(&["true", "False"]), ColumnType::Bool);
        assert_eq!(infer(&["2024-02-29", "2023-01-01"]), ColumnType::Date);
        assert_eq!(
            infer(&["2024-02-29", "2023-01-01T10:00:00Z"]),
            ColumnType::Timestamp
        );
        assert_eq!(infer(&["2023-02-29"]), ColumnType::String);
        assert_eq!(infer(&["1", "x"]), ColumnType::String);
        assert_eq!(infer(&["", "NaN"]), ColumnType::Null);
        assert_eq!(infer(&[]), ColumnType::Null);
    }

    #[test]
    fn timestamps_parse_with_zones_and_fractions() {
        assert_eq!(parse_timestamp(b"1970-01-02"), Some(86_400.0));
        assert_eq!(parse_timestamp(b"1970-01-01T01:00:00Z"), Some(3600.0));
        assert_eq!(parse_timestamp(b"1970-01-01 01:00:00.5"), Some(3600.5));
        assert_eq!(parse_timestamp(b"1970-01-01T01:00:00+01:00"), Some(0.0));
        assert_eq!(parse_timestamp(b"1970-01-01T01:00"), Some(3600.0));
        assert_eq!(parse_timestamp(b"2024-01-01T25:00:00"), None);
        assert_eq!(parse_timestamp(b"yesterday"), None);
    }
}
