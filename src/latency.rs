//! How long calls take, as a fixed histogram: the hourly figures keep one per webhook and hour
//! (`webhook_hourly_stats.latency`), `/metrics` uses the same bounds, and the Statistics tab
//! reads p50 and p95 from it.

/// Upper bounds of the slots in milliseconds (a 1-2-5 series up to 500 s, past the longest
/// request timeout that matters); slot `i` counts calls of at most `BOUNDS_MS[i]` ms and more
/// than the bound before, and the last slot those beyond every bound. The migration that
/// filled the figures from earlier calls wrote these bounds out too.
pub const BOUNDS_MS: [i32; 18] = [
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000,
];

/// The number of slots: one per bound and one beyond. A stored histogram leaves out the
/// slots after its last call's (see the migration `0022_health.sql`).
pub const SLOTS: usize = BOUNDS_MS.len() + 1;

/// The slot of a call that took `ms` milliseconds.
pub fn slot(ms: i32) -> i32 {
    BOUNDS_MS.partition_point(|bound| *bound < ms) as i32
}

/// The `q` quantile (0 < q ≤ 1) of a histogram in milliseconds, `None` without calls.
/// Interpolated linearly inside its slot, as Prometheus' `histogram_quantile` does; in the
/// last slot, which has no upper bound, it is that slot's lower bound.
pub fn quantile(counts: &[i32], q: f64) -> Option<f64> {
    let total: i64 = counts.iter().map(|c| i64::from((*c).max(0))).sum();
    if total == 0 {
        return None;
    }
    let rank = q.clamp(0.0, 1.0) * total as f64;
    let mut below = 0i64;
    for (i, count) in counts.iter().enumerate() {
        let count = i64::from((*count).max(0));
        if count > 0 && (below + count) as f64 >= rank {
            let lower = if i == 0 { 0.0 } else { f64::from(BOUNDS_MS[i - 1]) };
            let Some(upper) = BOUNDS_MS.get(i) else {
                return Some(lower);
            };
            let within = (rank - below as f64) / count as f64;
            return Some(lower + (f64::from(*upper) - lower) * within);
        }
        below += count;
    }
    BOUNDS_MS.last().map(|b| f64::from(*b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duration_falls_in_the_slot_of_the_first_bound_it_does_not_exceed() {
        assert_eq!(slot(0), 0);
        assert_eq!(slot(1), 0);
        assert_eq!(slot(2), 1);
        assert_eq!(slot(3), 2);
        assert_eq!(slot(20), 4);
        assert_eq!(slot(21), 5);
        assert_eq!(slot(500_000), 17);
        assert_eq!(slot(500_001), 18);
        assert_eq!(slot(i32::MAX), SLOTS as i32 - 1);
    }

    #[test]
    fn quantiles_interpolate_inside_the_slot() {
        assert_eq!(quantile(&[0; SLOTS], 0.5), None);
        let mut counts = [0; SLOTS];
        // 10 calls in (10, 20] ms: the median is half-way.
        counts[4] = 10;
        assert_eq!(quantile(&counts, 0.5), Some(15.0));
        assert_eq!(quantile(&counts, 1.0), Some(20.0));
        // 95 fast calls and 5 slow ones: p50 among the fast, p95 at the top of the fast slot.
        let mut counts = [0; SLOTS];
        counts[2] = 95;
        counts[10] = 5;
        assert_eq!(quantile(&counts, 0.5), Some(2.0 + 3.0 * 50.0 / 95.0));
        assert_eq!(quantile(&counts, 0.95), Some(5.0));
        assert_eq!(quantile(&counts, 0.99), Some(1000.0 + 1000.0 * 4.0 / 5.0));
        // Beyond every bound: the last bound.
        let mut counts = [0; SLOTS];
        counts[SLOTS - 1] = 3;
        assert_eq!(quantile(&counts, 0.5), Some(500_000.0));
    }
}
