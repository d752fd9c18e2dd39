//! The list's Health column: the last 24 h's success rate with a sparkline of calls per hour
//! (an inline SVG the template draws from the bars computed here), or "no calls".

use chrono::{DateTime, Utc};

use crate::render::grouped;
use crate::webhooks::store::health::{window_start, HourFigures, DAY_HOURS};

/// The sparkline's size in SVG units: a bar of 2 and a gap of 1 per hour.
pub const SPARK_WIDTH: i64 = DAY_HOURS * 3;
pub const SPARK_HEIGHT: i64 = 20;

/// One hour of the sparkline; failures are stacked on top of successes. An hour without
/// calls is a faint baseline tick.
pub struct SparkBar {
    pub x: i64,
    pub calls: i32,
    pub ok_y: i64,
    pub ok_height: i64,
    pub failed_y: i64,
    pub failed_height: i64,
}

pub struct HealthCell {
    pub calls: i64,
    /// "98.7%"
    pub rate: String,
    /// "98.7% of 1,204 calls succeeded in the last 24 h", the sparkline's accessible name.
    pub label: String,
    /// `ok` (no failure), `warn` (at least 95 % succeeded), `bad`: a CSS class suffix.
    pub tone: &'static str,
    pub bars: Vec<SparkBar>,
}

impl HealthCell {
    /// The cell for a webhook's hours with calls among the 24 ending with `now`'s.
    pub fn new(hours: &[HourFigures], now: DateTime<Utc>) -> HealthCell {
        let start = window_start(now, DAY_HOURS);
        let mut per_hour = [(0i32, 0i32); DAY_HOURS as usize];
        for h in hours {
            let slot = (h.hour - start).num_hours();
            if let Some(cell) = usize::try_from(slot).ok().and_then(|i| per_hour.get_mut(i)) {
                *cell = (cell.0 + h.calls.max(0), cell.1 + h.failures.clamp(0, h.calls.max(0)));
            }
        }
        let calls: i64 = per_hour.iter().map(|(c, _)| i64::from(*c)).sum();
        let failures: i64 = per_hour.iter().map(|(_, f)| i64::from(*f)).sum();
        let busiest = per_hour.iter().map(|(c, _)| *c).max().unwrap_or(0).max(1);
        let bars = per_hour
            .iter()
            .zip(0..)
            .map(|(&(c, f), i)| spark_bar(i * 3, c, f, busiest))
            .collect();
        let rate = percent(calls, failures);
        let noun = if calls == 1 { "call" } else { "calls" };
        let label = if calls == 0 {
            "No calls in the last 24 h".to_string()
        } else {
            format!("{rate} of {} {noun} succeeded in the last 24 h", grouped(calls))
        };
        let tone = if failures == 0 {
            "ok"
        } else if (calls - failures) * 100 >= calls * 95 {
            "warn"
        } else {
            "bad"
        };
        HealthCell {
            calls,
            rate,
            label,
            tone,
            bars,
        }
    }
}

fn spark_bar(x: i64, calls: i32, failures: i32, busiest: i32) -> SparkBar {
    let full = SPARK_HEIGHT - 2;
    let height = if calls == 0 {
        0
    } else {
        ((i64::from(calls) * full + i64::from(busiest) - 1) / i64::from(busiest)).max(2)
    };
    let failed_height = if failures == 0 || calls == 0 {
        0
    } else {
        (i64::from(failures) * height / i64::from(calls)).max(1)
    };
    let top = SPARK_HEIGHT - height;
    SparkBar {
        x,
        calls,
        ok_y: top + failed_height,
        ok_height: height - failed_height,
        failed_y: top,
        failed_height,
    }
}

/// A success rate as the list shows it: `100%` only without failures, one decimal below it,
/// rounded down (so 99.96 % is `99.9%`), `<0.1%` for a rare success, `0%` without any.
pub fn percent(calls: i64, failures: i64) -> String {
    if calls <= 0 {
        return String::new();
    }
    let ok = calls - failures.clamp(0, calls);
    if ok == calls {
        return "100%".to_string();
    }
    if ok == 0 {
        return "0%".to_string();
    }
    let tenths = ok * 1000 / calls;
    if tenths == 0 {
        return "<0.1%".to_string();
    }
    format!("{}.{}%", tenths / 10, tenths % 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn hour(s: &str, calls: i32, failures: i32) -> HourFigures {
        HourFigures {
            hour: at(s),
            calls,
            failures,
            latency: Vec::new(),
        }
    }

    #[test]
    fn rates_never_round_up_to_a_perfect_score() {
        assert_eq!(percent(1204, 0), "100%");
        assert_eq!(percent(1204, 16), "98.6%");
        assert_eq!(percent(100_000, 4), "99.9%");
        assert_eq!(percent(3, 3), "0%");
        assert_eq!(percent(10_000, 9_999), "<0.1%");
        assert_eq!(percent(4, 1), "75.0%");
    }

    #[test]
    fn the_cell_sums_the_last_day_and_draws_an_hour_a_bar() {
        let now = at("2026-12-03T14:25:00+00:00");
        let cell = HealthCell::new(
            &[
                hour("2026-12-02T14:00:00+00:00", 50, 50), // a day ago: outside
                hour("2026-12-02T15:00:00+00:00", 10, 0),
                hour("2026-12-03T14:00:00+00:00", 30, 3),
            ],
            now,
        );
        assert_eq!(cell.calls, 40);
        assert_eq!(cell.rate, "92.5%");
        assert_eq!(cell.label, "92.5% of 40 calls succeeded in the last 24 h");
        assert_eq!(cell.tone, "bad");
        assert_eq!(cell.bars.len(), 24);
        let first = &cell.bars[0];
        assert_eq!((first.x, first.calls, first.failed_height), (0, 10, 0));
        let last = &cell.bars[23];
        assert_eq!((last.x, last.calls), (69, 30));
        assert_eq!(last.failed_y, 2, "the busiest hour is full height");
        assert_eq!(last.failed_height, 1);
        assert_eq!(last.ok_y + last.ok_height, SPARK_HEIGHT);
        assert_eq!(cell.bars[5].calls, 0);

        let quiet = HealthCell::new(&[], now);
        assert_eq!((quiet.calls, quiet.label.as_str()), (0, "No calls in the last 24 h"));
        let one = HealthCell::new(&[hour("2026-12-03T10:00:00+00:00", 1, 0)], now);
        assert_eq!(
            (one.label.as_str(), one.tone),
            ("100% of 1 call succeeded in the last 24 h", "ok")
        );
    }
}
