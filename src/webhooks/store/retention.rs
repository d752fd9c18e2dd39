//! Retention: calls (attempts), events and hourly figures older than the retention period are
//! removed, a bounded batch at a time, so no statement holds locks for long or touches much at
//! once. The statistics are counters on the webhook rows, so they stay whole. A webhook's last
//! success and last failure are kept, however old: its Statistics tab still links their answers.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::db::{in_batches, BATCH};

/// How many rows [`forget_before`] removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Forgotten {
    pub attempts: u64,
    pub events: u64,
    /// Hourly figures (a webhook's hour of calls).
    pub hours: u64,
}

/// Removes the attempts and events from before `cutoff`, and the hourly figures of the hours
/// that ended before the hour of `cutoff`.
pub async fn forget_before(pool: &PgPool, cutoff: DateTime<Utc>) -> Result<Forgotten, sqlx::Error> {
    let attempts = in_batches(|| async {
        sqlx::query!(
            "delete from webhook_attempts where id in (
                 select a.id from webhook_attempts a
                 where a.started_at < $1
                   and not exists (select 1 from webhooks w where w.id = a.webhook_id
                                   and a.id in (w.last_success_attempt_id, w.last_failure_attempt_id))
                 limit $2)",
            cutoff,
            BATCH,
        )
        .execute(pool)
        .await
        .map(|done| done.rows_affected())
    })
    .await?;
    let events = in_batches(|| async {
        sqlx::query!(
            "delete from webhook_events where id in (
                 select id from webhook_events where created_at < $1 limit $2)",
            cutoff,
            BATCH,
        )
        .execute(pool)
        .await
        .map(|done| done.rows_affected())
    })
    .await?;
    let hours = in_batches(|| async {
        sqlx::query!(
            "delete from webhook_hourly_stats
             where ctid = any(array(select ctid from webhook_hourly_stats where hour < $1 limit $2))",
            crate::delivery::store::hour_of(cutoff),
            BATCH,
        )
        .execute(pool)
        .await
        .map(|done| done.rows_affected())
    })
    .await?;
    Ok(Forgotten {
        attempts,
        events,
        hours,
    })
}
