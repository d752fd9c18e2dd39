//! The tallies of successful calls: each recorded batch leaves one row saying what its calls add
//! to their webhooks' statistics and hours ([`super::record_successes`]); [`add_tallies`] adds
//! the waiting ones up, each webhook and hour once however many calls it had. The delivery task
//! adds them a few times a second; a read of the statistics adds them first, so it misses no
//! recorded call.

use sqlx::PgPool;

/// How many tallies one statement adds (a few hundred batches; more are added by the next).
const TALLIES_AT_ONCE: i64 = 500;

/// Adds every waiting tally to its webhooks' counters, last success and hours, and removes it,
/// in one transaction per statement: a tally is added exactly once. Another process adding the
/// same tallies at the same moment is waited for (its tallies are then gone, and the rest are
/// added here), so once this returns every call recorded before it was called is counted.
/// Returns how many calls were added.
pub async fn add_tallies(pool: &PgPool) -> Result<i64, sqlx::Error> {
    let mut added = 0;
    loop {
        let (tallies, calls) = add_some(pool).await?;
        added += calls;
        if tallies < TALLIES_AT_ONCE {
            return Ok(added);
        }
    }
}

/// For the readers of the statistics: adds the waiting tallies, and if that fails (a lock wait
/// ended as a deadlock's victim, say) logs it and lets the read go on, which then shows the
/// figures without the calls of the last second or so rather than an error.
pub async fn add_tallies_for_reading(pool: &PgPool) {
    if let Err(e) = add_tallies(pool).await {
        tracing::warn!(error = %e, "adding the waiting tallies before a read failed; showing the figures without them");
    }
}

/// One statement of [`add_tallies`]: how many tallies it took and how many calls they held.
async fn add_some(pool: &PgPool) -> Result<(i64, i64), sqlx::Error> {
    // Locks are taken in one order: the tallies oldest first (one that another adder removed
    // meanwhile is passed over), then their webhooks in id order (`locked`, read whole by the
    // first of `hours` and `counted` that runs), then the hours in webhook and hour order. The
    // call recorders lock a webhook before its hour, and several webhooks in id order, so no
    // two of them wait for each other in a circle. The webhooks are locked as their update
    // would (`no key update`): a new event's trigger checks its webhook by foreign key, and
    // must not wait for the adding. Webhooks are found by key (`= any`), whatever the planner
    // thinks of the number of calls. The `hours` part writes out the histogram's slots (plain
    // aggregates: this runs for every busy webhook).
    const _: () = assert!(crate::latency::SLOTS == 19, "add_some lists 19 latency slots");
    let row = sqlx::query!(
        r#"with taken as (
               delete from webhook_call_tallies where id in (
                   select id from webhook_call_tallies order by id limit $1 for update)
               returning webhook_ids, hours, slots, finished_at, attempt_ids),
           calls as (
               select c.* from taken t,
                   unnest(t.webhook_ids, t.hours, t.slots, t.finished_at, t.attempt_ids)
                       as c(webhook_id, hour, slot, finished_at, attempt_id)),
           locked as (
               select w.id from webhooks w where w.id = any(array(select distinct webhook_id from calls))
               order by w.id
               for no key update),
           hours as (
               insert into webhook_hourly_stats as h (webhook_id, hour, calls, failures, latency)
               select webhook_id, hour, count(*)::int, 0,
                      (array[count(*) filter (where slot = 0), count(*) filter (where slot = 1),
                             count(*) filter (where slot = 2), count(*) filter (where slot = 3),
                             count(*) filter (where slot = 4), count(*) filter (where slot = 5),
                             count(*) filter (where slot = 6), count(*) filter (where slot = 7),
                             count(*) filter (where slot = 8), count(*) filter (where slot = 9),
                             count(*) filter (where slot = 10), count(*) filter (where slot = 11),
                             count(*) filter (where slot = 12), count(*) filter (where slot = 13),
                             count(*) filter (where slot = 14), count(*) filter (where slot = 15),
                             count(*) filter (where slot = 16), count(*) filter (where slot = 17),
                             count(*) filter (where slot = 18)]::int[])[1 : max(slot) + 1]
               from calls
               where webhook_id = any(array(select id from locked))
               group by webhook_id, hour
               order by webhook_id, hour
               on conflict (webhook_id, hour) do update set calls = h.calls + excluded.calls,
                   latency = latency_add(h.latency, excluded.latency)),
           per_webhook as (
               select webhook_id, count(*) as calls, max(finished_at) as last_at,
                      (array_agg(attempt_id order by finished_at desc, attempt_id desc))[1] as last_attempt
               from calls group by webhook_id),
           counted as (
               update webhooks w set triggers = w.triggers + p.calls, success_triggers = w.success_triggers + p.calls,
                   last_success_at = greatest(w.last_success_at, p.last_at),
                   last_success_attempt_id = case when w.last_success_at is null or p.last_at >= w.last_success_at
                                                  then p.last_attempt else w.last_success_attempt_id end
               from per_webhook p
               where w.id = any(array(select id from locked)) and w.id = p.webhook_id)
           select (select count(*) from taken) as "tallies!", (select count(*) from calls) as "calls!""#,
        TALLIES_AT_ONCE,
    )
    .fetch_one(pool)
    .await?;
    Ok((row.tallies, row.calls))
}
