//! The hourly figures: each call the statistics count is added to its webhook's hour
//! (`webhook_hourly_stats`) in the transaction that records it, by one upsert of its own (a
//! batch of successful calls by the `hours` part of its one statement, in `super`).

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use sqlx::PgConnection;

use crate::ids::WebhookId;
use crate::latency;

/// One recorded call, for its hour.
pub struct HourlyCall<'a> {
    pub webhook_id: &'a WebhookId,
    pub started_at: DateTime<Utc>,
    pub success: bool,
    pub duration_ms: i32,
}

/// The hour (UTC) a call started in.
pub fn hour_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::hours(1)).unwrap_or(at)
}

/// Adds `calls` to their webhooks' hours: calls, failures and the latency histogram (one
/// statement; calls of the same webhook and hour are summed first, and rows are written in
/// webhook order so that two batches never wait for each other in a circle).
pub async fn add_to_hours(conn: &mut PgConnection, calls: &[HourlyCall<'_>]) -> Result<(), sqlx::Error> {
    if calls.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "insert into webhook_hourly_stats as h (webhook_id, hour, calls, failures, latency)
         select c.webhook_id, c.hour, count(*)::int, (count(*) filter (where not c.success))::int,
                latency_sum(latency_one(c.slot))
         from unnest($1::text[], $2::timestamptz[], $3::boolean[], $4::int[]) as c(webhook_id, hour, success, slot)
         group by c.webhook_id, c.hour
         order by c.webhook_id, c.hour
         on conflict (webhook_id, hour) do update set calls = h.calls + excluded.calls,
             failures = h.failures + excluded.failures, latency = latency_add(h.latency, excluded.latency)",
        &calls.iter().map(|c| c.webhook_id.as_str()).collect::<Vec<_>>() as _,
        &calls.iter().map(|c| hour_of(c.started_at)).collect::<Vec<_>>(),
        &calls.iter().map(|c| c.success).collect::<Vec<_>>(),
        &calls.iter().map(|c| latency::slot(c.duration_ms)).collect::<Vec<_>>(),
    )
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_belongs_to_the_hour_it_started_in() {
        let at = DateTime::parse_from_rfc3339("2026-12-03T14:59:59.999+00:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(hour_of(at).to_rfc3339(), "2026-12-03T14:00:00+00:00");
    }
}
