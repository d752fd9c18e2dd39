//! The delivery task's SQL: claim due triggers ([`claim`]), record attempts with the
//! statistics (here), the hourly figures ([`hourly`]) and the tallies of successful calls
//! ([`tallies`]), and put back work whose process stopped ([`workers`]).

mod claim;
mod hourly;
mod tallies;
mod workers;

pub use claim::{candidates_for, claim, due_beyond, next_due, queue_figures, ClaimedTrigger};
pub use hourly::{hour_of, HourlyCall};
pub use tallies::{add_tallies, add_tallies_for_reading};
pub use workers::{forget_worker, heartbeat, release, Release};

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{PgExecutor, PgPool};

use super::http::CallResult;
use crate::config::DeliveryConfig;
use crate::domain::{ErrorKind, HttpMethod};
use crate::ids::WebhookId;

/// The request as it was sent, for the attempt record.
pub struct SentRequest<'a> {
    pub method: HttpMethod,
    pub url: &'a str,
    pub body: Option<&'a str>,
    pub started_at: DateTime<Utc>,
}

/// Records a failed call: its attempt, the statistics and the retry (or, after too many
/// failures, out of order), atomically. Successful calls are recorded by
/// [`record_successes`].
///
/// The pool should have `synchronous_commit = off`: an attempt lost to a database crash means
/// one more call, never a lost event (events are committed by their cause with a normal commit).
pub async fn record_failure(
    pool: &PgPool,
    worker: i64,
    job: &ClaimedTrigger,
    sent: &SentRequest<'_>,
    result: &CallResult,
    policy: &DeliveryConfig,
) -> Result<i64, sqlx::Error> {
    let finished_at = sent.started_at + chrono::Duration::from_std(result.duration).unwrap_or_default();
    // A failure also schedules the retry (unless the webhook is now out of order): two
    // statements, one transaction. A queue-change trigger is finished (later events join the
    // retry); an inbound message's or a replay's trigger is kept, to be retried in its place in
    // the order. The trigger is removed only if its lease did not run out (else another worker
    // took it).
    let mut tx = pool.begin().await?;
    let recorded = sqlx::query!(
        r#"with attempt as (
               insert into webhook_attempts (webhook_id, trigger_id, manual, started_at, duration_ms, success,
                   status_code, error_kind, error, request_method, request_url, request_headers, request_body,
                   response_headers, response_body, response_truncated, worker, message_id, replay_of)
               select $1, $2, $3, $4, $5, false, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $21
               where exists (select 1 from webhooks w where w.id = $1)
               returning id),
           finished as (
               delete from webhook_triggers
               where id = $2 and state = 'in_flight' and claimed_by = $16 and claimed_until = $18
                 and message_id is null and replay_of is null)
           update webhooks set triggers = triggers + 1, failure_triggers = failure_triggers + 1,
               failure_since_last_success = failure_since_last_success + 1,
               failures_since_reset = failures_since_reset + 1,
               out_of_order = out_of_order or failures_since_reset + 1 >= $19,
               last_failure_at = $20, last_failure_attempt_id = (select id from attempt)
           where id = $1
           returning (select id from attempt) as "attempt_id!", failures_since_reset"#,
        job.webhook_id.as_str(),
        job.trigger_id,
        job.manual,
        sent.started_at,
        duration_ms(result),
        result.status_code.map(i32::from),
        result.error_kind as Option<ErrorKind>,
        result.error.as_deref(),
        sent.method as HttpMethod,
        sent.url,
        Json(&result.request_headers) as _,
        sent.body,
        Json(&result.response_headers) as _,
        result.response_body.as_deref(),
        result.response_truncated,
        worker,
        job.message_id,
        job.claimed_until,
        policy.out_of_order_after,
        finished_at,
        job.replay_of,
    )
    .fetch_optional(&mut *tx)
    .await?;
    let (attempt_id, failures) = recorded
        .as_ref()
        .map_or((0, 0), |r| (r.attempt_id, r.failures_since_reset));
    if recorded.is_some() {
        let call = HourlyCall {
            webhook_id: &job.webhook_id,
            started_at: sent.started_at,
            success: false,
            duration_ms: duration_ms(result),
        };
        hourly::add_to_hours(&mut tx, std::slice::from_ref(&call)).await?;
    }
    // 410 Gone: the handler says the endpoint is gone for good; the webhook is turned off at
    // once, saying why, and nothing is retried (its events stay; enabling it calls again).
    let gone = result.status_code == Some(410) && recorded.is_some();
    if gone {
        let reason = format!(
            "Turned off {}: the handler answered 410 Gone (the endpoint is gone). Enable the webhook to call it again.",
            crate::dates::datetime(&finished_at)
        );
        // With its audit record, by the portal (the one record the delivery task writes).
        sqlx::query!(
            r#"with off as (
                   update webhooks set active = false, disabled_reason = $2, modified_at = now(), modified_by = null
                   where id = $1 and active
                   returning account_id, id, label)
               insert into audit_records (account_id, actor_kind, actor_name, action, object_kind, object_id,
                   object_name, changes, detail)
               select account_id, 'portal', 'Webhook portal', 'webhook.gone', 'webhook', id, label,
                      '[{"field": "Status", "before": "Enabled", "after": "Disabled"}]',
                      'The handler answered 410 Gone to call WHA-' || $3::bigint || '.'
               from off"#,
            job.webhook_id.as_str(),
            reason,
            attempt_id,
        )
        .execute(&mut *tx)
        .await?;
    }
    let retry = if !gone && failures < policy.out_of_order_after {
        // No sooner than a 429's or 503's Retry-After asks, within the longest interval.
        let backoff = super::policy::retry_delay(failures, policy.retry_base, policy.retry_max);
        let asked = super::policy::retry_after(result.status_code, &result.response_headers, finished_at);
        Some(super::policy::polite(backoff, asked, policy.retry_max).as_secs_f64())
    } else {
        None
    };
    if job.message_id.is_some() || job.replay_of.is_some() {
        // The message (or replayed delivery) waits in its place for the retry (or, out of
        // order, for a reset).
        sqlx::query!(
            "update webhook_triggers set state = 'pending', claimed_by = null, claimed_until = null,
                 due_at = clock_timestamp() + make_interval(secs => coalesce($2::float8, 0))
             where id = $1 and state = 'in_flight' and claimed_by = $3 and claimed_until = $4",
            job.trigger_id,
            retry,
            worker,
            job.claimed_until,
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        return Ok(attempt_id);
    }
    // Try again later; events that arrived meanwhile join the retry. A Trigger now pressed
    // during the call keeps its "at once".
    sqlx::query!(
        "insert into webhook_triggers (webhook_id, state, due_at, first_event_at)
         select $1, 'pending', clock_timestamp() + make_interval(secs => $2), $3 where $2 is not null
         on conflict (webhook_id) where state = 'pending' and message_id is null and replay_of is null do update set
             first_event_at = least(webhook_triggers.first_event_at, excluded.first_event_at),
             due_at = case when webhook_triggers.manual then webhook_triggers.due_at
                           else greatest(webhook_triggers.due_at, excluded.due_at) end",
        job.webhook_id.as_str(),
        retry,
        job.first_event_at,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(attempt_id)
}

/// A successful call waiting to be recorded in a batch.
pub struct Success {
    pub webhook_id: WebhookId,
    pub trigger_id: i64,
    pub claimed_until: DateTime<Utc>,
    pub manual: bool,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i32,
    pub status_code: Option<i32>,
    pub method: HttpMethod,
    pub url: String,
    pub request_headers: Value,
    pub request_body: Option<String>,
    pub response_headers: Value,
    pub response_body: Option<String>,
    pub response_truncated: bool,
    pub message_id: Option<i64>,
    pub replay_of: Option<i64>,
}

/// Records many successful calls in one statement: their attempts, their finished triggers,
/// and one tally of what they add to their webhooks' statistics and hours (added up later by
/// [`add_tallies`], about a second later, for many batches at once). A webhook row is written
/// here only where its state changes with the success: failures to reset, out of order to end,
/// an alert to clear, or a rate limit that paces the next call by this one. Those rows are
/// locked in id order, as the adder of tallies locks them, and their state is checked again
/// once locked; the lock leaves their key alone (`no key update`), so a new event's trigger,
/// which checks its webhook by foreign key, need not wait. A call whose webhook was deleted
/// while it was in flight is not recorded (its history went with it). A batch holds at most one call per webhook (one call is in flight
/// per webhook), so each webhook row is updated once. A finished replay call makes the next
/// queued call of its replay pending. The triggers and webhooks are found by their keys
/// (`= any`), whatever the planner thinks of the batch's size: a hash join there would read
/// every webhook each batch. The finished triggers' state is a parameter, not a constant: a
/// constant matches the partial index of calls in flight, which the planner may then walk whole
/// and join to the batch row by row, where the primary key finds each at once.
pub async fn record_successes(db: impl PgExecutor<'_>, worker: i64, batch: &[Success]) -> Result<(), sqlx::Error> {
    let finished: Vec<DateTime<Utc>> = batch
        .iter()
        .map(|s| s.started_at + chrono::Duration::milliseconds(i64::from(s.duration_ms)))
        .collect();
    sqlx::query!(
        "with input as (
             select * from unnest($1::text[], $2::bigint[], $3::boolean[], $4::timestamptz[], $5::integer[],
                                  $6::integer[], $7::text[], $8::text[], $9::jsonb[], $10::text[], $11::jsonb[],
                                  $12::text[], $13::boolean[], $14::timestamptz[], $16::timestamptz[], $17::bigint[],
                                  $18::bigint[], $19::timestamptz[], $20::integer[])
               as i(webhook_id, trigger_id, manual, started_at, duration_ms, status_code, request_method, request_url,
                    request_headers, request_body, response_headers, response_body, response_truncated, finished_at,
                    claimed_until, message_id, replay_of, hour, slot)
             where exists (select 1 from webhooks w where w.id = i.webhook_id)),
         attempt as (
             insert into webhook_attempts (webhook_id, trigger_id, worker, manual, started_at, duration_ms, success,
                 status_code, request_method, request_url, request_headers, request_body, response_headers,
                 response_body, response_truncated, message_id, replay_of)
             select webhook_id, trigger_id, $15, manual, started_at, duration_ms, true, status_code, request_method,
                    request_url, request_headers, request_body, response_headers, response_body, response_truncated,
                    message_id, replay_of
             from input
             returning id, trigger_id),
         done as (
             delete from webhook_triggers t using input i
             where t.id = any($2) and t.id = i.trigger_id and t.state = $21 and t.claimed_by = $15
               and t.claimed_until = i.claimed_until
             returning t.webhook_id, t.replay_of),
         next_replayed as (
             update webhook_triggers q set state = 'pending', due_at = clock_timestamp(),
                 first_event_at = clock_timestamp()
             where q.id in (select (select n.id from webhook_triggers n
                                    where n.webhook_id = d.webhook_id and n.state = 'queued'
                                    order by n.id limit 1)
                            from done d where d.replay_of is not null)),
         tally as (
             insert into webhook_call_tallies (webhook_ids, hours, slots, finished_at, attempt_ids)
             select array_agg(i.webhook_id), array_agg(i.hour), array_agg(i.slot), array_agg(i.finished_at),
                    array_agg(a.id)
             from input i join attempt a on a.trigger_id = i.trigger_id
             having count(*) > 0),
         changing as (
             select w.id from webhooks w
             where w.id = any($1)
               and (w.failure_since_last_success <> 0 or w.failures_since_reset <> 0 or w.out_of_order
                    or w.alert_state <> 'ok' or w.rate_limit is not null)
             order by w.id
             for no key update)
         update webhooks w set failure_since_last_success = 0, failures_since_reset = 0, out_of_order = false,
             last_success_at = i.finished_at, last_success_attempt_id = a.id
         from input i join attempt a on a.trigger_id = i.trigger_id
         where w.id = any(array(select id from changing)) and w.id = i.webhook_id",
        &batch.iter().map(|s| s.webhook_id.as_str()).collect::<Vec<_>>() as _,
        &batch.iter().map(|s| s.trigger_id).collect::<Vec<_>>(),
        &batch.iter().map(|s| s.manual).collect::<Vec<_>>(),
        &batch.iter().map(|s| s.started_at).collect::<Vec<_>>(),
        &batch.iter().map(|s| s.duration_ms).collect::<Vec<_>>(),
        &batch.iter().map(|s| s.status_code).collect::<Vec<_>>() as _,
        &batch.iter().map(|s| s.method.as_str()).collect::<Vec<_>>() as _,
        &batch.iter().map(|s| s.url.as_str()).collect::<Vec<_>>() as _,
        batch.iter().map(|s| s.request_headers.clone()).collect::<Vec<_>>() as _,
        &batch.iter().map(|s| s.request_body.clone()).collect::<Vec<_>>() as _,
        batch.iter().map(|s| s.response_headers.clone()).collect::<Vec<_>>() as _,
        &batch.iter().map(|s| s.response_body.clone()).collect::<Vec<_>>() as _,
        &batch.iter().map(|s| s.response_truncated).collect::<Vec<_>>(),
        &finished,
        worker,
        &batch.iter().map(|s| s.claimed_until).collect::<Vec<_>>(),
        &batch.iter().map(|s| s.message_id).collect::<Vec<_>>() as _,
        &batch.iter().map(|s| s.replay_of).collect::<Vec<_>>() as _,
        &batch.iter().map(|s| hour_of(s.started_at)).collect::<Vec<_>>(),
        &batch
            .iter()
            .map(|s| crate::latency::slot(s.duration_ms))
            .collect::<Vec<_>>(),
        "in_flight",
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Records a validation webhook's synchronous call (its event is recorded by the caller): the
/// attempt (a success only if the answer was usable: `refusal` says why not) and the call
/// statistics. Validation calls are not retried and never put a webhook out of order: the
/// admin sees the result at once.
pub async fn record_validation_call(
    conn: &mut sqlx::PgConnection,
    webhook_id: &WebhookId,
    sent: &SentRequest<'_>,
    result: &CallResult,
    refusal: Option<&str>,
) -> Result<i64, sqlx::Error> {
    let success = refusal.is_none();
    let finished_at = sent.started_at + chrono::Duration::from_std(result.duration).unwrap_or_default();
    let error_kind = result.error_kind.or((!success).then_some(ErrorKind::Answer));
    let attempt_id = sqlx::query_scalar!(
        r#"with attempt as (insert into webhook_attempts (webhook_id, manual, started_at, duration_ms, success,
                              status_code, error_kind, error, request_method, request_url, request_headers,
                              request_body, response_headers, response_body, response_truncated)
                          values ($1, true, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                          returning id),
              stats as (update webhooks set triggers = triggers + 1,
                            success_triggers = success_triggers + $4::boolean::int,
                            failure_triggers = failure_triggers + (not $4)::int,
                            failure_since_last_success = case when $4 then 0 else failure_since_last_success + 1 end,
                            last_success_at = case when $4 then $15 else last_success_at end,
                            last_success_attempt_id = case when $4 then (select id from attempt) else last_success_attempt_id end,
                            last_failure_at = case when $4 then last_failure_at else $15 end,
                            last_failure_attempt_id = case when $4 then last_failure_attempt_id else (select id from attempt) end
                        where id = $1)
         select id as "id!" from attempt"#,
        webhook_id.as_str(),
        sent.started_at,
        duration_ms(result),
        success,
        result.status_code.map(i32::from),
        error_kind as Option<ErrorKind>,
        refusal.map(str::to_string).or_else(|| result.error.clone()),
        sent.method as HttpMethod,
        sent.url,
        Json(&result.request_headers) as _,
        sent.body,
        Json(&result.response_headers) as _,
        result.response_body.as_deref(),
        result.response_truncated,
        finished_at,
    )
    .fetch_one(&mut *conn)
    .await?;
    let call = HourlyCall {
        webhook_id,
        started_at: sent.started_at,
        success,
        duration_ms: duration_ms(result),
    };
    hourly::add_to_hours(conn, std::slice::from_ref(&call)).await?;
    Ok(attempt_id)
}

/// A call's duration in whole milliseconds, as its record keeps it.
fn duration_ms(result: &CallResult) -> i32 {
    result.duration.as_millis().min(i32::MAX as u128) as i32
}
