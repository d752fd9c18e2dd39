//! Health at a glance: the hourly figures the delivery task keeps per webhook (calls, failures,
//! latency histogram), read for the list's Health column and the Statistics tab's charts, and
//! the 24 h success rate kept on each webhook for sorting the list, refreshed every minute.
//! The pages read the figures after their webhooks ([`super::get_many`]), which adds the
//! waiting tallies of recorded calls to both, so they are not added again here.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;

use crate::delivery::store::{add_tallies_for_reading, hour_of};
use crate::ids::{AccountId, WebhookId};

/// The hours the list's Health column covers: this one and the 23 before it.
pub const DAY_HOURS: i64 = 24;
/// The hours the Statistics tab's charts cover: 7 days.
pub const WEEK_HOURS: i64 = 7 * 24;

/// One hour of a webhook's calls.
#[derive(Debug, Clone, PartialEq)]
pub struct HourFigures {
    /// The hour's start (UTC).
    pub hour: DateTime<Utc>,
    pub calls: i32,
    pub failures: i32,
    /// Calls per latency slot (see [`crate::latency`]).
    pub latency: Vec<i32>,
}

/// The start of the first of the `hours` hours that end with the one `now` is in.
pub fn window_start(now: DateTime<Utc>, hours: i64) -> DateTime<Utc> {
    hour_of(now) - TimeDelta::hours(hours - 1)
}

/// The last 24 hours of each of `ids` (webhooks of the account; others are not found), hours
/// without calls left out. One query for a page of the list, from the figures' key.
pub async fn last_day(
    pool: &PgPool,
    account_id: &AccountId,
    ids: &[WebhookId],
    now: DateTime<Utc>,
) -> Result<HashMap<WebhookId, Vec<HourFigures>>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select h.webhook_id as "webhook_id: WebhookId", h.hour, h.calls, h.failures
           from webhook_hourly_stats h join webhooks w on w.id = h.webhook_id
           where w.account_id = $1 and h.webhook_id = any($2) and h.hour >= $3
           order by h.webhook_id, h.hour"#,
        account_id.as_str(),
        ids as &[WebhookId],
        window_start(now, DAY_HOURS),
    )
    .fetch_all(pool)
    .await?;
    let mut days: HashMap<WebhookId, Vec<HourFigures>> = HashMap::new();
    for r in rows {
        days.entry(r.webhook_id).or_default().push(HourFigures {
            hour: r.hour,
            calls: r.calls,
            failures: r.failures,
            latency: Vec::new(),
        });
    }
    Ok(days)
}

/// A webhook's hours with calls among the last `hours` (oldest first), with their latency.
pub async fn recent_hours(
    pool: &PgPool,
    account_id: &AccountId,
    id: &WebhookId,
    now: DateTime<Utc>,
    hours: i64,
) -> Result<Vec<HourFigures>, sqlx::Error> {
    sqlx::query_as!(
        HourFigures,
        r#"select h.hour, h.calls, h.failures, h.latency
           from webhook_hourly_stats h join webhooks w on w.id = h.webhook_id
           where w.account_id = $1 and h.webhook_id = $2 and h.hour >= $3
           order by h.hour"#,
        account_id.as_str(),
        id.as_str(),
        window_start(now, hours),
    )
    .fetch_all(pool)
    .await
}

/// How many webhooks one statement of [`refresh_rates`] writes (its row locks are held only
/// for that statement).
const REFRESH_BATCH: usize = 1_000;

/// Sets each webhook's 24 h success rate (`health_bp`, what the list sorts by) from its hourly
/// figures; a webhook without calls in the last 24 h gets none. The rates that changed are read
/// first without locking anything, then written a batch at a time, passing over rows that a
/// call's record is writing (the next refresh gets them). One process refreshes at a time (a
/// session advisory lock); the others skip (`None`). Returns how many webhooks changed.
pub async fn refresh_rates(pool: &PgPool, now: DateTime<Utc>) -> Result<Option<u64>, sqlx::Error> {
    add_tallies_for_reading(pool).await;
    let mut conn = pool.acquire().await?;
    let ours = sqlx::query_scalar!(r#"select pg_try_advisory_lock(hashtext('webhook_health_refresh')) as "ours!""#)
        .fetch_one(&mut *conn)
        .await?;
    if !ours {
        return Ok(None);
    }
    let refreshed = refresh_on(&mut conn, now).await;
    let unlocked = sqlx::query_scalar!("select pg_advisory_unlock(hashtext('webhook_health_refresh'))")
        .fetch_one(&mut *conn)
        .await;
    if unlocked.is_err() {
        // Never hand a connection that may still hold the lock back to the pool.
        conn.detach();
    }
    refreshed.map(Some)
}

async fn refresh_on(conn: &mut sqlx::PgConnection, now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    // The rates that differ from the stored ones: webhooks with calls in the window, and those
    // with a stored rate and no calls left in it (from the partial index of rated webhooks).
    let changes = sqlx::query!(
        r#"with fresh as (
               select webhook_id, (10000 * (sum(calls) - sum(failures)) / sum(calls))::int as bp
               from webhook_hourly_stats where hour >= $1
               group by webhook_id having sum(calls) > 0)
           select f.webhook_id as "id!", f.bp from fresh f join webhooks w on w.id = f.webhook_id
           where w.health_bp is distinct from f.bp
           union all
           select w.id, null from webhooks w
           where w.health_bp is not null and not exists (select 1 from fresh f where f.webhook_id = w.id)"#,
        window_start(now, DAY_HOURS),
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut changed = 0;
    for batch in changes.chunks(REFRESH_BATCH) {
        changed += sqlx::query!(
            "with target as (select * from unnest($1::text[], $2::int[]) as t(id, bp)),
             locked as (
                 select w.id, t.bp from webhooks w join target t on t.id = w.id
                 where w.health_bp is distinct from t.bp
                 order by w.id
                 for update of w skip locked)
             update webhooks w set health_bp = l.bp from locked l where w.id = l.id",
            &batch.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
            &batch.iter().map(|c| c.bp).collect::<Vec<_>>() as &[Option<i32>],
        )
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_this_hour_and_the_23_before() {
        let now = DateTime::parse_from_rfc3339("2026-12-03T14:25:00+00:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(window_start(now, DAY_HOURS).to_rfc3339(), "2026-12-02T15:00:00+00:00");
        assert_eq!(window_start(now, WEEK_HOURS).to_rfc3339(), "2026-11-26T15:00:00+00:00");
    }
}
