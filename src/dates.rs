//! How pages write a moment: the Connect style (`05/18/2021 8:40 AM`), always in UTC and
//! saying so, to the minute or to the second. Templates use the [`filters`]
//! (`{{ w.created_at|datetime }}`), Rust code the functions.

use std::fmt::Display;

use chrono::{DateTime, Utc};

// No-break spaces inside the time: a narrow cell wraps between the date and the time only.
const MINUTES: &str = "%m/%d/%Y %-I:%M\u{a0}%p\u{a0}UTC";
const SECONDS: &str = "%m/%d/%Y %-I:%M:%S\u{a0}%p\u{a0}UTC";

/// `05/18/2021 8:40 AM UTC`: when something was made or changed.
pub fn datetime(t: &DateTime<Utc>) -> impl Display {
    t.format(MINUTES)
}

/// `05/18/2021 8:40:03 AM UTC`: calls, messages and other events that come seconds apart.
pub fn datetime_secs(t: &DateTime<Utc>) -> impl Display {
    t.format(SECONDS)
}

/// The askama filters: bring them into a template's module with `use crate::dates::filters;`.
pub mod filters {
    use std::fmt::Display;

    use chrono::{DateTime, Utc};

    pub fn datetime(t: &DateTime<Utc>, _: &dyn askama::Values) -> askama::Result<impl Display> {
        Ok(super::datetime(t))
    }

    pub fn datetime_secs(t: &DateTime<Utc>, _: &dyn askama::Values) -> askama::Result<impl Display> {
        Ok(super::datetime_secs(t))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    /// As read on the page (no-break spaces shown as spaces).
    fn read(shown: impl Display) -> String {
        shown.to_string().replace('\u{a0}', " ")
    }

    #[test]
    fn one_style_two_precisions() {
        let morning = Utc.with_ymd_and_hms(2021, 5, 18, 8, 40, 3).unwrap();
        assert_eq!(read(datetime(&morning)), "05/18/2021 8:40 AM UTC");
        assert_eq!(read(datetime_secs(&morning)), "05/18/2021 8:40:03 AM UTC");
        let afternoon = Utc.with_ymd_and_hms(2026, 12, 3, 21, 5, 0).unwrap();
        assert_eq!(read(datetime(&afternoon)), "12/03/2026 9:05 PM UTC");
        let noon = Utc.with_ymd_and_hms(2026, 1, 7, 12, 0, 59).unwrap();
        assert_eq!(read(datetime_secs(&noon)), "01/07/2026 12:00:59 PM UTC");
    }

    #[test]
    fn the_time_stays_on_one_line() {
        let t = Utc.with_ymd_and_hms(2026, 12, 3, 9, 56, 0).unwrap();
        assert_eq!(datetime(&t).to_string(), "12/03/2026 9:56\u{a0}AM\u{a0}UTC");
    }
}
