//! The Statistics tab's charts of the last 7 days, drawn on the server as SVG: calls per hour
//! (successes and failures stacked) and latency p50/p95 per hour. This computes the geometry
//! and the words; `templates/webhooks/_charts.html` draws them, with a table alternative.

use chrono::{DateTime, Datelike, TimeDelta, Timelike, Utc};

use crate::latency;
use crate::render::grouped;
use crate::webhooks::store::health::{window_start, HourFigures, WEEK_HOURS};

mod scale;

use self::scale::{axis, grid, hour_label, ms_text, path, LogScale};

/// The drawing, in SVG units: axis labels on the left, a step of 4 per hour (a bar of 3).
pub const LEFT: i64 = 64;
pub const TOP: i64 = 26;
pub const STEP: i64 = 4;
pub const PLOT_WIDTH: i64 = WEEK_HOURS * STEP;
pub const PLOT_HEIGHT: i64 = 140;
pub const WIDTH: i64 = LEFT + PLOT_WIDTH + 12;
pub const HEIGHT: i64 = TOP + PLOT_HEIGHT + 34;
/// Where the plot's bottom (the zero line) and right edge are.
pub const BOTTOM: i64 = TOP + PLOT_HEIGHT;
pub const RIGHT: i64 = LEFT + PLOT_WIDTH;

/// A horizontal grid line with its value.
pub struct GridLine {
    pub y: f64,
    pub label: String,
}

/// The start of a day (UTC) on the time axis.
pub struct DayTick {
    pub x: i64,
    pub label: String,
}

/// One hour's bar: failures stacked on successes.
pub struct CallBar {
    pub x: i64,
    pub ok_y: f64,
    pub ok_height: f64,
    pub failed_y: f64,
    pub failed_height: f64,
    pub title: String,
}

/// A point of a latency line.
pub struct Point {
    pub x: f64,
    pub y: f64,
}

/// A row of the table alternative.
pub struct HourRow {
    pub hour: String,
    pub calls: String,
    pub succeeded: String,
    pub failed: String,
    pub p50: String,
    pub p95: String,
}

pub struct Charts {
    pub calls: i64,
    /// The calls chart's description: totals and the busiest hour.
    pub calls_summary: String,
    /// "p50 15 ms · p95 180 ms" over the 7 days, and the latency chart's description.
    pub latency_overall: String,
    pub latency_summary: String,
    pub call_grid: Vec<GridLine>,
    pub latency_grid: Vec<GridLine>,
    pub days: Vec<DayTick>,
    pub bars: Vec<CallBar>,
    pub p50_path: String,
    pub p95_path: String,
    pub p50_points: Vec<Point>,
    pub p95_points: Vec<Point>,
    pub rows: Vec<HourRow>,
}

impl Charts {
    /// The charts of a webhook's hours with calls among the 7 days ending with `now`'s hour.
    pub fn new(hours: &[HourFigures], now: DateTime<Utc>) -> Charts {
        let start = window_start(now, WEEK_HOURS);
        let in_window: Vec<(i64, &HourFigures)> = hours
            .iter()
            .filter(|h| h.calls > 0)
            .map(|h| ((h.hour - start).num_hours(), h))
            .filter(|(i, _)| (0..WEEK_HOURS).contains(i))
            .collect();
        let calls: i64 = in_window.iter().map(|(_, h)| i64::from(h.calls)).sum();
        let failures: i64 = in_window.iter().map(|(_, h)| i64::from(h.failures)).sum();

        let busiest = in_window.iter().max_by_key(|(_, h)| h.calls);
        let (call_step, call_top) = axis(busiest.map_or(1.0, |(_, h)| f64::from(h.calls)));
        let call_grid = grid(call_step, call_top, |v| grouped(v as i64));
        let bars = in_window
            .iter()
            .map(|(i, h)| {
                let height = f64::from(h.calls) / call_top * PLOT_HEIGHT as f64;
                let failed_height = height * f64::from(h.failures) / f64::from(h.calls);
                let top = BOTTOM as f64 - height;
                CallBar {
                    x: LEFT + i * STEP,
                    ok_y: top + failed_height,
                    ok_height: height - failed_height,
                    failed_y: top,
                    failed_height,
                    title: format!(
                        "{}: {} {}, {} failed",
                        hour_label(h.hour),
                        grouped(i64::from(h.calls)),
                        if h.calls == 1 { "call" } else { "calls" },
                        grouped(i64::from(h.failures))
                    ),
                }
            })
            .collect();

        let quantiles: Vec<HourQuantiles> = in_window
            .iter()
            .map(|(i, h)| HourQuantiles {
                index: *i,
                p50: latency::quantile(&h.latency, 0.5),
                p95: latency::quantile(&h.latency, 0.95),
            })
            .collect();
        // Latency on a log scale: a slow hour does not flatten every ordinary one.
        let values = quantiles.iter().flat_map(|q| [q.p50, q.p95]).flatten();
        let (fastest, slowest) = values.fold((f64::MAX, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let scale = LogScale::spanning(fastest, slowest);
        let latency_grid = scale.grid();
        let y_of = |ms: f64| scale.y(ms);
        let line = |pick: fn(&HourQuantiles) -> Option<f64>| -> Vec<(i64, Point)> {
            quantiles
                .iter()
                .filter_map(|q| {
                    pick(q).map(|ms| {
                        let x = (LEFT + q.index * STEP) as f64 + 1.5;
                        (q.index, Point { x, y: y_of(ms) })
                    })
                })
                .collect()
        };
        let p50 = line(|q| q.p50);
        let p95 = line(|q| q.p95);

        let mut total_latency = vec![0i32; latency::SLOTS];
        for (_, h) in &in_window {
            for (sum, n) in total_latency.iter_mut().zip(&h.latency) {
                *sum = sum.saturating_add(*n);
            }
        }
        let overall = |q: f64| latency::quantile(&total_latency, q).map_or_else(|| "—".to_string(), ms_text);
        let latency_overall = format!("p50 {} · p95 {} over the 7 days", overall(0.5), overall(0.95));
        let slowest_hour = quantiles
            .iter()
            .filter_map(|q| q.p95.map(|v| (q.index, v)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let latency_summary = match slowest_hour {
            Some((i, ms)) => format!(
                "Latency {latency_overall}. The slowest hour was {} with a p95 of {}.",
                hour_label(start + TimeDelta::hours(i)),
                ms_text(ms)
            ),
            None => "No calls in the last 7 days.".to_string(),
        };
        let calls_summary = match busiest {
            Some((_, h)) => format!(
                "{} {} in the last 7 days, {} failed ({} succeeded). The busiest hour was {} with {}.",
                grouped(calls),
                if calls == 1 { "call" } else { "calls" },
                grouped(failures),
                super::health::percent(calls, failures),
                hour_label(h.hour),
                grouped(i64::from(h.calls))
            ),
            None => "No calls in the last 7 days.".to_string(),
        };

        let days = (0..WEEK_HOURS)
            .map(|i| (i, start + TimeDelta::hours(i)))
            .filter(|(_, at)| at.hour() == 0)
            .map(|(i, at)| DayTick {
                x: LEFT + i * STEP,
                label: format!("{} {:02}/{:02}", at.weekday(), at.month(), at.day()),
            })
            .collect();
        let rows = in_window
            .iter()
            .zip(&quantiles)
            .map(|((_, h), q)| HourRow {
                hour: hour_label(h.hour),
                calls: grouped(i64::from(h.calls)),
                succeeded: grouped(i64::from(h.calls - h.failures)),
                failed: grouped(i64::from(h.failures)),
                p50: q.p50.map_or_else(|| "—".to_string(), ms_text),
                p95: q.p95.map_or_else(|| "—".to_string(), ms_text),
            })
            .collect();
        Charts {
            calls,
            calls_summary,
            latency_overall,
            latency_summary,
            call_grid,
            latency_grid,
            days,
            bars,
            p50_path: path(&p50),
            p95_path: path(&p95),
            p50_points: p50.into_iter().map(|(_, p)| p).collect(),
            p95_points: p95.into_iter().map(|(_, p)| p).collect(),
            rows,
        }
    }
}

/// An hour's latency percentiles, `index` hours into the window.
struct HourQuantiles {
    index: i64,
    p50: Option<f64>,
    p95: Option<f64>,
}
#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn hour(s: &str, calls: i32, failures: i32, slot: usize) -> HourFigures {
        let mut latency = vec![0; latency::SLOTS];
        latency[slot] = calls;
        HourFigures {
            hour: at(s),
            calls,
            failures,
            latency,
        }
    }

    #[test]
    fn the_charts_cover_7_days_of_hours() {
        let now = at("2026-12-03T14:25:00+00:00");
        let charts = Charts::new(
            &[
                hour("2026-11-26T14:00:00+00:00", 99, 99, 3), // 7 days ago: outside
                hour("2026-11-26T15:00:00+00:00", 10, 0, 4),
                hour("2026-12-03T13:00:00+00:00", 30, 3, 4),
                hour("2026-12-03T14:00:00+00:00", 20, 0, 6),
            ],
            now,
        );
        assert_eq!(charts.calls, 60);
        assert_eq!(charts.rows.len(), 3);
        assert_eq!(charts.rows[1].hour, "Thu 12/03, 1 PM");
        assert_eq!(
            (charts.rows[1].calls.as_str(), charts.rows[1].failed.as_str()),
            ("30", "3")
        );
        assert_eq!(
            (charts.rows[1].p50.as_str(), charts.rows[1].p95.as_str()),
            ("15 ms", "20 ms")
        );
        assert_eq!(charts.bars[0].x, LEFT);
        assert_eq!(charts.bars[2].x, LEFT + 167 * STEP);
        // The busiest hour reaches the top of a 0–30 axis.
        assert_eq!(charts.bars[1].failed_y, TOP as f64);
        assert_eq!(charts.call_grid.len(), 4);
        assert_eq!(charts.days.len(), 7);
        assert_eq!(charts.days[0].label, "Fri 11/27");
        assert_eq!(charts.p50_path.matches('M').count(), 2, "a gap breaks the line");
        assert_eq!(charts.p50_path.matches('L').count(), 1);
        assert!(charts
            .calls_summary
            .starts_with("60 calls in the last 7 days, 3 failed (95.0% succeeded)"));
        assert!(charts.latency_summary.contains("The slowest hour was Thu 12/03, 2 PM"));
    }
}
