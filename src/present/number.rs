//! Metric values: for people a few significant digits (scientific notation at the extremes),
//! for programs every digit.
use super::format::Format;
use crate::model::json_float;

/// A metric value for people: 4 significant digits, scientific when very large or small.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e6).contains(&a) {
        return format!("{v:.3e}");
    }
    if v.fract() == 0.0 {
        return format!("{v:.0}");
    }
    let decimals = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A metric value as a listing in `format` shows it: [`format_value`] in a table; in CSV and
/// Markdown every digit, spelt as in JSON (`NaN`, `Infinity`).
pub fn format_value_as(v: f64, format: Format) -> String {
    if format == Format::Table {
        format_value(v)
    } else {
        json_float::to_value(v)
            .to_string()
            .trim_matches('"')
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(format_value(0.931234), "0.9312");
        assert_eq!(format_value(12.5), "12.5");
        assert_eq!(format_value(1e-5), "1.000e-5");
        assert_eq!(format_value(f64::NAN), "nan");
        assert_eq!(format_value_as(0.931234, Format::Table), "0.9312");
        assert_eq!(format_value_as(0.931234, Format::Csv), "0.931234");
    }
}
