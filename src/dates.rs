//! How pages write a moment: the Connect style (`05/18/2021 8:40 AM`), always in UTC and
//! saying so, to the minute or to the second. Tables and details show how long ago
//! (`3 min ago`) in a `<time>` whose title is that moment (`{{ w.created_at|when }}`); prose
//! and messages write the moment itself (`|datetime`). Rust code uses the functions.

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

/// How long ago `t` was, seen at `now`, in words ("just now", "3 min ago", "yesterday",
/// "in 5 min" for what is to come); `seconds` says "12 s ago" rather than "just now".
pub fn ago(t: &DateTime<Utc>, now: DateTime<Utc>, seconds: bool) -> String {
    let delta = now.signed_duration_since(*t);
    let future = delta.num_seconds() < 0;
    let secs = delta.num_seconds().unsigned_abs();
    let (n, unit) = match secs {
        s if s < 45 && !seconds => return "just now".to_string(),
        s if s < 60 => (s, "s"),
        s if s < 3600 => (s / 60, "min"),
        s if s < 86_400 => (s / 3600, if s / 3600 == 1 { "hour" } else { "hours" }),
        s if s < 30 * 86_400 => {
            let days = s / 86_400;
            if days == 1 {
                return if future { "tomorrow" } else { "yesterday" }.to_string();
            }
            (days, "days")
        }
        s if s < 365 * 86_400 => (
            s / (30 * 86_400),
            if s / (30 * 86_400) == 1 { "month" } else { "months" },
        ),
        s => (
            s / (365 * 86_400),
            if s / (365 * 86_400) == 1 { "year" } else { "years" },
        ),
    };
    if future {
        format!("in {n}\u{a0}{unit}")
    } else {
        format!("{n}\u{a0}{unit} ago")
    }
}

/// `<time datetime="…" title="05/18/2021 8:40 AM UTC">3 min ago</time>`.
fn time_element(t: &DateTime<Utc>, seconds: bool) -> String {
    let title = if seconds {
        datetime_secs(t).to_string()
    } else {
        datetime(t).to_string()
    };
    format!(
        "<time datetime=\"{}\" title=\"{title}\">{}</time>",
        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ago(t, Utc::now(), seconds)
    )
}

/// The askama filters: bring them into a template's module with `use crate::dates::filters;`.
pub mod filters {
    use std::fmt::Display;

    use askama::filters::Safe;
    use chrono::{DateTime, Utc};

    /// How long ago, the moment in the title (to the minute). Made of a date only: safe HTML.
    pub fn when(t: &DateTime<Utc>, _: &dyn askama::Values) -> askama::Result<Safe<String>> {
        Ok(Safe(super::time_element(t, false)))
    }

    /// How long ago, to the second, the moment in the title (to the second).
    pub fn when_secs(t: &DateTime<Utc>, _: &dyn askama::Values) -> askama::Result<Safe<String>> {
        Ok(Safe(super::time_element(t, true)))
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
    fn how_long_ago_in_words() {
        let now = Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap();
        let at = |secs: i64| now - chrono::Duration::seconds(secs);
        let words = |secs: i64, seconds: bool| ago(&at(secs), now, seconds).replace('\u{a0}', " ");
        assert_eq!(words(10, false), "just now");
        assert_eq!(words(10, true), "10 s ago");
        assert_eq!(words(180, false), "3 min ago");
        assert_eq!(words(3600, false), "1 hour ago");
        assert_eq!(words(5 * 3600, false), "5 hours ago");
        assert_eq!(words(86_400 + 10, false), "yesterday");
        assert_eq!(words(3 * 86_400, false), "3 days ago");
        assert_eq!(words(65 * 86_400, false), "2 months ago");
        assert_eq!(words(800 * 86_400, false), "2 years ago");
        assert_eq!(words(-300, false), "in 5 min");
        let shown = time_element(&at(180), false);
        assert!(
            shown.starts_with("<time datetime=\"2026-12-03T11:57:00Z\" title=\"12/03/2026 11:57"),
            "{shown}"
        );
    }

    #[test]
    fn the_time_stays_on_one_line() {
        let t = Utc.with_ymd_and_hms(2026, 12, 3, 9, 56, 0).unwrap();
        assert_eq!(datetime(&t).to_string(), "12/03/2026 9:56\u{a0}AM\u{a0}UTC");
    }
}
