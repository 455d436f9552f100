//! Beijing time (UTC+8, no daylight saving): the time legal documents, task windows and every
//! display of OneVisit are read in, whatever zone the device or the server is set to.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, Utc};

/// The offset of Beijing time from UTC.
pub const OFFSET: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
    Some(offset) => offset,
    None => panic!("UTC+8 is a valid offset"),
};

/// A device time (ms since the epoch) in Beijing time, or `None` outside chrono's range.
pub fn at(ms: i64) -> Option<DateTime<FixedOffset>> {
    DateTime::from_timestamp_millis(ms).map(|t| t.with_timezone(&OFFSET))
}

/// A device time as `2026-12-01 09:30:00` (Beijing time); empty for an impossible time.
pub fn date_time(ms: i64) -> String {
    format(ms, "%Y-%m-%d %H:%M:%S")
}

/// A device time as `2026-12-01 09:30` (Beijing time), as screens show it.
pub fn minute(ms: i64) -> String {
    format(ms, "%Y-%m-%d %H:%M")
}

/// A device time in the written style of legal documents: `2026年12月01日 09时30分`.
pub fn written(ms: i64) -> String {
    format(ms, "%Y年%m月%d日 %H时%M分")
}

/// A device time with a chrono format string, in Beijing time; empty for an impossible time.
pub fn format(ms: i64, pattern: &str) -> String {
    at(ms).map(|t| t.format(pattern).to_string()).unwrap_or_default()
}

/// Today's date in Beijing.
pub fn today() -> NaiveDate {
    Utc::now().with_timezone(&OFFSET).date_naive()
}

/// This year in Beijing (document numbers count per year).
pub fn year() -> i32 {
    today().year()
}

/// The year in Beijing at an instant (ms since the epoch).
pub fn year_of(ms: i64) -> i32 {
    at(ms).map(|t| t.year()).unwrap_or_else(year)
}

/// The instant (ms since the epoch) of a Beijing wall-clock date and time.
pub fn instant(day: NaiveDate, time: NaiveTime) -> i64 {
    day.and_time(time).and_utc().timestamp_millis() - i64::from(OFFSET.local_minus_utc()) * 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn midnight_utc_is_eight_in_the_morning_in_beijing() {
        let ms = NaiveDate::from_ymd_opt(2026, 12, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .unwrap()
            .and_utc()
            .timestamp_millis();
        assert_eq!(date_time(ms), "2026-12-01 08:00:00");
        assert_eq!(minute(ms), "2026-12-01 08:00");
        assert_eq!(written(ms), "2026年12月01日 08时00分");
    }

    #[test]
    fn a_beijing_wall_clock_time_is_eight_hours_ahead_of_utc() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let ms = instant(day, NaiveTime::MIN);
        assert_eq!(date_time(ms), "2026-12-01 00:00:00");
        assert_eq!(DateTime::from_timestamp_millis(ms).unwrap().to_rfc3339(), "2026-11-30T16:00:00+00:00");
    }

    #[test]
    fn an_impossible_time_prints_nothing() {
        assert_eq!(date_time(i64::MAX), "");
    }
}
