//! The charts' axes and words: round steps for counts, a log scale for latency, the lines
//! through the hours, and how hours and durations are written.

use chrono::{DateTime, Datelike, Timelike, Utc};

use super::{GridLine, Point, BOTTOM, PLOT_HEIGHT};

/// A log-scale axis from `low` to `high` ms (powers of ten, at least one decade apart).
pub(super) struct LogScale {
    low: f64,
    high: f64,
}

impl LogScale {
    /// The powers of ten around `fastest`..`slowest` (from 0.1 ms; 1–10 ms without calls).
    pub(super) fn spanning(fastest: f64, slowest: f64) -> LogScale {
        let low = if fastest == f64::MAX {
            1.0
        } else {
            10f64.powf(fastest.max(0.1).log10().floor())
        };
        let high = 10f64.powf(slowest.max(low).log10().ceil()).max(low * 10.0);
        LogScale { low, high }
    }

    pub(super) fn y(&self, ms: f64) -> f64 {
        let span = self.high.log10() - self.low.log10();
        let at = (ms.clamp(self.low, self.high).log10() - self.low.log10()) / span;
        BOTTOM as f64 - at * PLOT_HEIGHT as f64
    }

    /// A line at each power of ten, and at 2 and 5 times it when the axis spans one decade.
    pub(super) fn grid(&self) -> Vec<GridLine> {
        let decades = (self.high / self.low).log10().round() as i32;
        let steps: &[f64] = if decades <= 1 { &[1.0, 2.0, 5.0] } else { &[1.0] };
        let mut lines = Vec::new();
        for d in 0..=decades {
            for m in steps {
                let value = self.low * 10f64.powi(d) * m;
                if value <= self.high * 1.000_001 {
                    lines.push(GridLine {
                        y: self.y(value),
                        label: ms_text(value),
                    });
                }
            }
        }
        lines
    }
}

/// A whole step of 1, 2 or 5 times a power of ten giving at most 4 intervals up to `max`
/// calls, and the axis top (a whole number of steps).
pub(super) fn axis(max: f64) -> (f64, f64) {
    let raw = (max / 4.0).max(1.0);
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let step = step.round().max(1.0);
    (step, (max / step).ceil().max(1.0) * step)
}

pub(super) fn grid(step: f64, top: f64, label: impl Fn(f64) -> String) -> Vec<GridLine> {
    let steps = (top / step).round() as i64;
    (0..=steps)
        .map(|k| {
            let value = step * k as f64;
            GridLine {
                y: BOTTOM as f64 - value / top * PLOT_HEIGHT as f64,
                label: label(value),
            }
        })
        .collect()
}

/// An SVG path through points of consecutive hours; a gap (an hour without calls) starts a
/// new piece.
pub(super) fn path(points: &[(i64, Point)]) -> String {
    let mut d = String::new();
    let mut previous: Option<i64> = None;
    for (hour, p) in points {
        let joined = previous.is_some_and(|h| h + 1 == *hour);
        d.push_str(&format!("{}{:.1} {:.1} ", if joined { "L" } else { "M" }, p.x, p.y));
        previous = Some(*hour);
    }
    d.trim_end().to_string()
}

/// "Thu 12/03, 2 PM": an hour as the charts name it (UTC).
pub fn hour_label(at: DateTime<Utc>) -> String {
    let (pm, hour) = at.hour12();
    format!(
        "{} {:02}/{:02}, {hour} {}",
        at.weekday(),
        at.month(),
        at.day(),
        if pm { "PM" } else { "AM" }
    )
}

/// A latency as people read it: `0.8 ms`, `15 ms`, `1.2 s`.
pub fn ms_text(ms: f64) -> String {
    if ms == 0.0 {
        "0 ms".to_string()
    } else if ms < 10.0 {
        format!("{ms:.1} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else if ms < 100_000.0 && ms % 1000.0 != 0.0 {
        format!("{:.1} s", ms / 1000.0)
    } else {
        format!("{:.0} s", ms / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::web::charts::TOP;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn axes_step_by_one_two_or_five() {
        assert_eq!(axis(1.0), (1.0, 1.0));
        assert_eq!(axis(7.0), (2.0, 8.0));
        assert_eq!(axis(30.0), (10.0, 30.0));
        assert_eq!(axis(1204.0), (500.0, 1500.0));
    }

    #[test]
    fn latency_is_drawn_on_powers_of_ten() {
        let labels = |s: &LogScale| s.grid().into_iter().map(|g| g.label).collect::<Vec<_>>();
        let s = LogScale::spanning(15.0, 1600.0);
        assert_eq!((s.low, s.high), (10.0, 10_000.0));
        assert_eq!(labels(&s), ["10 ms", "100 ms", "1 s", "10 s"]);
        assert_eq!(s.y(10.0), BOTTOM as f64);
        assert_eq!(s.y(10_000.0), TOP as f64);
        let s = LogScale::spanning(15.0, 20.0);
        assert_eq!(labels(&s), ["10 ms", "20 ms", "50 ms", "100 ms"]);
        let s = LogScale::spanning(0.02, 0.5);
        assert_eq!((s.low, s.high), (0.1, 1.0));
        let s = LogScale::spanning(f64::MAX, 0.0);
        assert_eq!((s.low, s.high), (1.0, 10.0));
    }

    #[test]
    fn latencies_and_hours_read_as_people_write_them() {
        assert_eq!(ms_text(0.75), "0.8 ms");
        assert_eq!(ms_text(15.2), "15 ms");
        assert_eq!(ms_text(1234.0), "1.2 s");
        assert_eq!(ms_text(300_000.0), "300 s");
        assert_eq!(hour_label(at("2026-12-03T14:00:00+00:00")), "Thu 12/03, 2 PM");
        assert_eq!(hour_label(at("2026-12-03T00:00:00+00:00")), "Thu 12/03, 12 AM");
    }
}
