//! Times and durations for people. Times are shown in the reader's own time zone, as MLflow's
//! UI does: `jiff` finds it from `TZ` (so `TZ=UTC kiroku …` shows UTC) or else the system's
//! setting, and converts with the system's time zone database, daylight saving included.
//! Stored times stay ms since the Unix epoch (UTC); only their display depends on the zone.
use crate::model::Millis;
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// The zone times are shown in: `TZ` when set, else the system's local zone (UTC when it
/// cannot be found).
pub fn display_zone() -> TimeZone {
    TimeZone::system()
}

/// `3s`, `4m12s`, `2h05m`, `3d04h`.
pub fn format_duration(ms: i64) -> String {
    let s = (ms.max(0) / 1000) as u64;
    match s {
        // A sub-second run is not a run of no time.
        0 => "<1s".into(),
        1..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86400, (s % 86400) / 3600),
    }
}

/// `12s ago`, `5m ago`, `3h ago`, `2d ago`, or a date for older times.
/// How long a run took, as shown: until its end; until `now` while it is queued or running
/// (the time climbs); `?` for an ended run that recorded no end (an import, a crash), whose
/// time cannot be known and must not keep climbing.
pub fn format_run_duration(
    status: crate::model::RunStatus,
    start: Millis,
    end: Option<Millis>,
    now: Millis,
) -> String {
    match end {
        Some(end) => format_duration(end - start),
        None if !status.is_terminal() => format_duration(now - start),
        None => "?".into(),
    }
}

pub fn format_relative(time: Millis, now: Millis) -> String {
    let s = (now - time) / 1000;
    if s < 0 {
        return "just now".into();
    }
    match s {
        0..=59 => format!("{s}s ago"),
        60..=3599 => format!("{}m ago", s / 60),
        3600..=86399 => format!("{}h ago", s / 3600),
        86400..=2_591_999 => format!("{}d ago", s / 86400),
        _ => format_timestamp(time),
    }
}

/// `YYYY-MM-DD HH:MM:SS` in the reader's zone (see [`display_zone`]).
pub fn format_timestamp(ms: Millis) -> String {
    format_timestamp_in(ms, &display_zone())
}

/// `YYYY-MM-DD HH:MM:SS` in the given zone. A time outside what a calendar can show (beyond
/// the years -9999 to 9999) is shown as its number of ms.
pub fn format_timestamp_in(ms: Millis, zone: &TimeZone) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(t) => zone
            .to_datetime(t)
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string(),
        Err(_) => format!("{ms} ms"),
    }
}

/// ` until 2026-12-31 00:00:00` for a waiver that lapses (its `expires_at`), nothing for one
/// that does not: how `kiroku review` and the TUI's Checks screen say it.
pub fn until_text(expires_at: Option<Millis>) -> String {
    expires_at
        .map(|t| format!(" until {}", format_timestamp(t)))
        .unwrap_or_default()
}

/// When something lapses (a waiver's `--until`): a span from `now` (`12h`, `7d`) or a time in
/// the reader's zone. `what` names the argument in the error (`--until`, `argument 'until'`).
pub fn parse_until(text: &str, now: Millis, what: &str) -> crate::error::Result<Millis> {
    let t = text.trim();
    let bad = || {
        crate::error::KirokuError::Invalid(format!(
            "{what} '{text}': expected a time (2026-12-31, 2026-12-31 18:00) or a span from now (30m, 12h, 7d)"
        ))
    };
    let is_span = t.len() > 1
        && t.ends_with(|c: char| c.is_ascii_alphabetic())
        && t[..t.len() - 1].bytes().all(|b| b.is_ascii_digit());
    if is_span {
        let seconds = crate::jobs::submit::parse_time_limit(t).map_err(|_| bad())?;
        return Ok(now.saturating_add((seconds as i64).saturating_mul(1000)));
    }
    crate::query::time::parse_local_time_ms(t).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(name: &str) -> TimeZone {
        TimeZone::get(name).expect("the system's time zone database")
    }

    #[test]
    fn an_ended_run_without_an_end_does_not_climb() {
        use crate::model::RunStatus;
        assert_eq!(
            format_run_duration(RunStatus::Finished, 0, None, 5_000_000),
            "?"
        );
        assert_eq!(
            format_run_duration(RunStatus::Running, 0, None, 61_000),
            "1m01s"
        );
        assert_eq!(
            format_run_duration(RunStatus::Finished, 0, Some(61_000), 9_000_000),
            "1m01s"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(format_duration(61_000), "1m01s");
        assert_eq!(format_duration(-5), "<1s");
        assert_eq!(format_duration(999), "<1s");
        assert_eq!(format_duration(1000), "1s");
        assert_eq!(format_duration(90_000_000), "1d01h");
    }

    #[test]
    fn timestamps_in_utc() {
        assert_eq!(
            format_timestamp_in(0, &TimeZone::UTC),
            "1970-01-01 00:00:00"
        );
        assert_eq!(
            format_timestamp_in(1_700_000_000_000, &TimeZone::UTC),
            "2023-11-14 22:13:20"
        );
        assert_eq!(
            format_timestamp_in(-1, &TimeZone::UTC),
            "1969-12-31 23:59:59"
        );
        assert_eq!(
            format_timestamp_in(i64::MAX, &TimeZone::UTC),
            format!("{} ms", i64::MAX)
        );
    }

    #[test]
    fn timestamps_in_the_readers_zone() {
        assert_eq!(
            format_timestamp_in(1_700_000_000_000, &zone("Asia/Tokyo")),
            "2023-11-15 07:13:20"
        );
        // New York across the end of daylight saving (2026-11-01 02:00 EDT → 01:00 EST):
        // 05:30 UTC is 01:30 EDT, an hour later is 01:30 EST.
        let ny = zone("America/New_York");
        let before = 1_793_511_000_000; // 2026-11-01 05:30:00 UTC
        assert_eq!(
            format_timestamp_in(before, &TimeZone::UTC),
            "2026-11-01 05:30:00"
        );
        assert_eq!(format_timestamp_in(before, &ny), "2026-11-01 01:30:00");
        assert_eq!(
            format_timestamp_in(before + 3_600_000, &ny),
            "2026-11-01 01:30:00"
        );
        assert_eq!(
            format_timestamp_in(before + 7_200_000, &ny),
            "2026-11-01 02:30:00"
        );
        // Summer time: UTC-4.
        assert_eq!(
            format_timestamp_in(1_782_909_000_000, &ny),
            "2026-07-01 08:30:00"
        );
    }

    #[test]
    fn relative_times_turn_into_dates_after_a_month() {
        let now = 1_700_000_000_000;
        assert_eq!(format_relative(now - 5_000, now), "5s ago");
        assert_eq!(format_relative(now + 5_000, now), "just now");
        assert_eq!(format_relative(now - 2 * 86_400_000, now), "2d ago");
        assert!(format_relative(now - 40 * 86_400_000, now).starts_with("2023-10-0"));
    }
}
