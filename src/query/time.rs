//! Times typed in filters: `start_time > '2026-11-01'`, `'2026-11-01 14:30'`,
//! `'2026-11-01T14:30:00+09:00'`. A time with an offset (or `Z`) means that instant; one
//! without is read in the reader's zone (`TZ`, else the system's), as times are shown to
//! them. Parsing is `jiff`'s (RFC 3339 / ISO 8601, a space allowed between date and time).
//! Stored times are ms since the epoch, so a parsed time becomes that number.
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// What a filter's time may look like, for error messages.
pub const TIME_FORMS: &str =
    "a time ('2026-11-01', '2026-11-01 14:30', '2026-11-01T14:30:00+09:00') or ms since the epoch";

/// `text` as ms since the epoch, in `zone` unless it carries an offset; `None` when it is not
/// a date or date and time. Daylight-saving gaps and folds resolve as most tools do: a time
/// skipped by a gap moves forward by the gap, a repeated one means its first occurrence.
pub fn parse_time_ms(text: &str, zone: &TimeZone) -> Option<i64> {
    let text = text.trim();
    if let Ok(instant) = text.parse::<Timestamp>() {
        return Some(instant.as_millisecond());
    }
    let civil: DateTime = text.parse().ok()?;
    zone.to_timestamp(civil).ok().map(Timestamp::as_millisecond)
}

/// [`parse_time_ms`] in the reader's zone.
pub fn parse_local_time_ms(text: &str) -> Option<i64> {
    parse_time_ms(text, &TimeZone::system())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(name: &str) -> TimeZone {
        TimeZone::get(name).expect("the system's time zone database")
    }

    #[test]
    fn times_with_an_offset_are_instants_in_any_zone() {
        let tokyo = zone("Asia/Tokyo");
        for text in [
            "2026-11-01T00:00:00Z",
            "2026-11-01 09:00+09:00",
            "2026-10-31T20:00:00-04:00",
        ] {
            assert_eq!(
                parse_time_ms(text, &tokyo),
                Some(1_793_491_200_000),
                "{text}"
            );
            assert_eq!(parse_time_ms(text, &TimeZone::UTC), Some(1_793_491_200_000));
        }
    }

    #[test]
    fn times_without_an_offset_are_read_in_the_zone() {
        assert_eq!(
            parse_time_ms("2026-11-01", &TimeZone::UTC),
            Some(1_793_491_200_000)
        );
        // Midnight in Tokyo is 15:00 UTC the day before.
        assert_eq!(
            parse_time_ms("2026-11-01", &zone("Asia/Tokyo")),
            Some(1_793_491_200_000 - 9 * 3_600_000)
        );
        assert_eq!(
            parse_time_ms("2026-11-01 14:30", &zone("Asia/Tokyo")),
            parse_time_ms("2026-11-01T05:30:00Z", &TimeZone::UTC)
        );
    }

    #[test]
    fn new_york_across_the_end_of_daylight_saving() {
        let ny = zone("America/New_York");
        // 2026-11-01: clocks go from 02:00 EDT back to 01:00 EST.
        let utc = |t: &str| parse_time_ms(t, &TimeZone::UTC).unwrap();
        assert_eq!(
            parse_time_ms("2026-11-01 00:30", &ny),
            Some(utc("2026-11-01 04:30"))
        );
        // 01:30 happens twice; the first (EDT) is meant.
        assert_eq!(
            parse_time_ms("2026-11-01 01:30", &ny),
            Some(utc("2026-11-01 05:30"))
        );
        assert_eq!(
            parse_time_ms("2026-11-01 03:00", &ny),
            Some(utc("2026-11-01 08:00"))
        );
        // Summer: UTC-4; the March gap (02:30 does not exist) moves forward to 03:30 EDT.
        assert_eq!(
            parse_time_ms("2026-07-01 08:30", &ny),
            Some(utc("2026-07-01 12:30"))
        );
        assert_eq!(
            parse_time_ms("2026-03-08 02:30", &ny),
            Some(utc("2026-03-08 07:30"))
        );
    }

    #[test]
    fn other_text_is_not_a_time() {
        for text in ["abc", "", "2026-13-01", "yesterday", "1793491200000"] {
            assert_eq!(parse_time_ms(text, &TimeZone::UTC), None, "{text}");
        }
    }
}
