//! How pages write a moment: the Connect style (`05/18/2021 8:40 AM`), always in UTC and
//! saying so, at one of three precisions. Templates use the [`filters`]
//! (`{{ w.created_at|datetime }}`), Rust code the functions.

use std::fmt::Display;

use chrono::{DateTime, Utc};

const DATE: &str = "%m/%d/%Y";
const MINUTES: &str = "%m/%d/%Y %-I:%M %p UTC";
const SECONDS: &str = "%m/%d/%Y %-I:%M:%S %p UTC";

/// `05/18/2021`: where only the day matters.
pub fn date(t: &DateTime<Utc>) -> impl Display {
    t.format(DATE)
}

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

    pub fn date(t: &DateTime<Utc>, _: &dyn askama::Values) -> askama::Result<impl Display> {
        Ok(super::date(t))
    }

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

    #[test]
    fn one_style_three_precisions() {
        let morning = Utc.with_ymd_and_hms(2021, 5, 18, 8, 40, 3).unwrap();
        assert_eq!(date(&morning).to_string(), "05/18/2021");
        assert_eq!(datetime(&morning).to_string(), "05/18/2021 8:40 AM UTC");
        assert_eq!(datetime_secs(&morning).to_string(), "05/18/2021 8:40:03 AM UTC");
        let afternoon = Utc.with_ymd_and_hms(2026, 12, 3, 21, 5, 0).unwrap();
        assert_eq!(datetime(&afternoon).to_string(), "12/03/2026 9:05 PM UTC");
        let noon = Utc.with_ymd_and_hms(2026, 1, 7, 12, 0, 59).unwrap();
        assert_eq!(datetime_secs(&noon).to_string(), "01/07/2026 12:00:59 PM UTC");
    }
}
