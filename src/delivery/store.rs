//! The delivery task's SQL: claim due triggers, record attempts with the statistics, and
//! put back work whose lease ran out.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::PgPool;

use super::http::CallResult;
use crate::events::CHANNEL;

/// A claimed trigger with everything needed to make the call.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedTrigger {
    pub trigger_id: i64,
    pub webhook_id: String,
    pub manual: bool,
    pub events: i64,
    pub first_event_at: DateTime<Utc>,
    pub label: String,
    pub object_class: String,
    pub account_id: String,
    pub product_id: String,
    pub external_url: String,
    pub jwt_secret: String,
    pub http_method: String,
    pub headers: Json<Vec<(String, String)>>,
    pub data: Json<Value>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_failure_at: Option<DateTime<Utc>>,
}

/// Claims up to `limit` due triggers for this worker: each moves to `in_flight` with a lease.
/// A webhook with a call in flight is skipped, so it never has two at once.
pub async fn claim(
    pool: &PgPool,
    worker: i64,
    lease: Duration,
    limit: i64,
) -> Result<Vec<ClaimedTrigger>, sqlx::Error> {
    sqlx::query_as(
        "update webhook_triggers t
            set state = 'in_flight', claimed_by = $1,
                claimed_until = clock_timestamp() + make_interval(secs => $2)
         from (select t2.id from webhook_triggers t2 join webhooks w2 on w2.id = t2.webhook_id
               where t2.state = 'pending' and t2.due_at <= clock_timestamp()
                 and w2.active and (t2.manual or not w2.out_of_order)
                 and not exists (select 1 from webhook_triggers f
                                 where f.webhook_id = t2.webhook_id and f.state = 'in_flight')
               order by t2.due_at
               limit $3
               for update of t2 skip locked) c,
              webhooks w
         where t.id = c.id and w.id = t.webhook_id
         returning t.id as trigger_id, t.webhook_id, t.manual, t.events, t.first_event_at,
                   w.label, w.object_class, w.account_id, w.product_id, w.external_url, w.jwt_secret,
                   w.http_method, w.headers, w.data, w.last_success_at, w.last_failure_at",
    )
    .bind(worker)
    .bind(lease.as_secs_f64())
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// When the next pending trigger falls due, if any.
pub async fn next_due(pool: &PgPool) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(
        "select min(t.due_at) from webhook_triggers t join webhooks w on w.id = t.webhook_id
         where t.state = 'pending' and w.active and (t.manual or not w.out_of_order)",
    )
    .fetch_one(pool)
    .await
}

pub struct RecordPolicy {
    pub out_of_order_after: i32,
    pub retry_base: Duration,
    pub retry_max: Duration,
}

/// The request as it was sent, for the attempt record.
pub struct SentRequest<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub body: Option<&'a str>,
    pub started_at: DateTime<Utc>,
}

/// Records one attempt and its effect on the statistics and the trigger, in one transaction.
pub async fn record(
    pool: &PgPool,
    worker: i64,
    job: &ClaimedTrigger,
    sent: &SentRequest<'_>,
    result: &CallResult,
    policy: &RecordPolicy,
) -> Result<i64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    // An attempt lost to a database crash means one more call, never a lost event (events are
    // committed by their cause): so this transaction need not wait for the disk.
    sqlx::query("set local synchronous_commit = off")
        .execute(&mut *tx)
        .await?;
    let attempt_id: i64 = sqlx::query_scalar(
        "insert into webhook_attempts (webhook_id, trigger_id, manual, started_at, duration_ms, success, status_code,
             error_kind, error, request_method, request_url, request_headers, request_body, response_headers,
             response_body, response_truncated)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
         returning id",
    )
    .bind(&job.webhook_id)
    .bind(job.trigger_id)
    .bind(job.manual)
    .bind(sent.started_at)
    .bind(result.duration.as_millis().min(i32::MAX as u128) as i32)
    .bind(result.success)
    .bind(result.status_code.map(i32::from))
    .bind(result.error_kind)
    .bind(&result.error)
    .bind(sent.method)
    .bind(sent.url)
    .bind(Json(&result.request_headers))
    .bind(sent.body)
    .bind(Json(&result.response_headers))
    .bind(&result.response_body)
    .bind(result.response_truncated)
    .fetch_one(&mut *tx)
    .await?;

    let finished_at = sent.started_at + chrono::Duration::from_std(result.duration).unwrap_or_default();
    let failures: i32 = if result.success {
        sqlx::query_scalar(
            "update webhooks set triggers = triggers + 1, success_triggers = success_triggers + 1,
                 failure_since_last_success = 0, failures_since_reset = 0, out_of_order = false,
                 last_success_at = $2, last_success_attempt_id = $3
             where id = $1 returning failures_since_reset",
        )
        .bind(&job.webhook_id)
        .bind(finished_at)
        .bind(attempt_id)
        .fetch_optional(&mut *tx)
        .await?
        .unwrap_or(0)
    } else {
        sqlx::query_scalar(
            "update webhooks set triggers = triggers + 1, failure_triggers = failure_triggers + 1,
                 failure_since_last_success = failure_since_last_success + 1,
                 failures_since_reset = failures_since_reset + 1,
                 out_of_order = out_of_order or failures_since_reset + 1 >= $4,
                 last_failure_at = $2, last_failure_attempt_id = $3
             where id = $1 returning failures_since_reset",
        )
        .bind(&job.webhook_id)
        .bind(finished_at)
        .bind(attempt_id)
        .bind(policy.out_of_order_after)
        .fetch_optional(&mut *tx)
        .await?
        .unwrap_or(0)
    };

    // This trigger is done (unless its lease ran out and another worker took it over).
    sqlx::query(
        "update webhook_triggers set state = 'done', finished_at = clock_timestamp()
         where id = $1 and state = 'in_flight' and claimed_by = $2",
    )
    .bind(job.trigger_id)
    .bind(worker)
    .execute(&mut *tx)
    .await?;

    if !result.success && failures < policy.out_of_order_after {
        // Try again later; events that arrived meanwhile join the retry. A Trigger now
        // pressed during the call keeps its "at once".
        let delay = super::policy::retry_delay(failures, policy.retry_base, policy.retry_max);
        sqlx::query(
            "insert into webhook_triggers (webhook_id, state, due_at, events, first_event_at)
             values ($1, 'pending', clock_timestamp() + make_interval(secs => $2), $3, $4)
             on conflict (webhook_id) where state = 'pending' do update set
                 events = webhook_triggers.events + excluded.events,
                 first_event_at = least(webhook_triggers.first_event_at, excluded.first_event_at),
                 due_at = case when webhook_triggers.manual then webhook_triggers.due_at
                               else greatest(webhook_triggers.due_at, excluded.due_at) end",
        )
        .bind(&job.webhook_id)
        .bind(delay.as_secs_f64())
        .bind(job.events)
        .bind(job.first_event_at)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "update webhooks set next_trigger_at =
             (select due_at from webhook_triggers where webhook_id = $1 and state = 'pending')
         where id = $1",
    )
    .bind(&job.webhook_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("select pg_notify($1, '')")
        .bind(CHANNEL)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(attempt_id)
}

/// Puts in-flight triggers back to pending: those whose lease ran out (their worker died),
/// or, with `worker`, this worker's own (graceful shutdown). A trigger that meanwhile got a
/// pending successor is merged into it.
pub async fn release(pool: &PgPool, worker: Option<i64>) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let stale: Vec<(i64, String, i64, bool, DateTime<Utc>)> = sqlx::query_as(
        "select id, webhook_id, events, manual, first_event_at from webhook_triggers
         where state = 'in_flight' and (($1::bigint is null and claimed_until < clock_timestamp()) or claimed_by = $1)
         for update skip locked",
    )
    .bind(worker)
    .fetch_all(&mut *tx)
    .await?;
    for (id, webhook_id, events, manual, first_event_at) in &stale {
        let merged = sqlx::query(
            "update webhook_triggers set events = events + $2, manual = manual or $3,
                 first_event_at = least(first_event_at, $4), due_at = least(due_at, clock_timestamp())
             where webhook_id = $1 and state = 'pending'",
        )
        .bind(webhook_id)
        .bind(events)
        .bind(manual)
        .bind(first_event_at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if merged > 0 {
            sqlx::query("update webhook_triggers set state = 'done', finished_at = clock_timestamp() where id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        } else {
            sqlx::query(
                "update webhook_triggers set state = 'pending', claimed_by = null, claimed_until = null,
                     due_at = clock_timestamp() where id = $1",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
    }
    if !stale.is_empty() {
        sqlx::query("select pg_notify($1, '')")
            .bind(CHANNEL)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(stale.len() as u64)
}
