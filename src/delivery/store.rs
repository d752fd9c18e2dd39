//! The delivery task's SQL: claim due triggers, record attempts with the statistics, and
//! put back work whose lease ran out.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::PgPool;

use super::fairness::{Caps, Snapshot};
use super::http::CallResult;
use crate::config::DeliveryConfig;
use crate::events::CHANNEL;

/// A claimed trigger with everything needed to make the call.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedTrigger {
    pub trigger_id: i64,
    pub webhook_id: String,
    pub manual: bool,
    /// The lease this claim holds; a recording only finishes the trigger it claimed.
    pub claimed_until: DateTime<Utc>,
    pub first_event_at: DateTime<Utc>,
    pub label: String,
    pub object_class: String,
    pub account_id: String,
    pub product_id: String,
    pub external_url: String,
    /// The endpoint's `host:port`, for the per-host cap.
    pub endpoint_host: Option<String>,
    pub jwt_secret: String,
    pub http_method: String,
    pub headers: Json<Vec<(String, String)>>,
    pub data: Json<Value>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_failure_at: Option<DateTime<Utc>>,
    /// The inbound message this trigger delivers (its own call, never coalesced).
    pub message_id: Option<i64>,
    /// The message: trigger id, method, query parameters, content type and body.
    pub inbound: Option<Json<Value>>,
}

/// A pending trigger (`t2` of webhook `w2`) that may be called once due: its webhook is
/// enabled (and not out of order unless the trigger is manual) and has no call in flight, and,
/// for an ordered inbound message, no earlier ordered message of the webhook is still waiting
/// (one that fails holds back the later ones until its retry succeeds).
const CANDIDATE: &str = "t2.state = 'pending' and w2.active and (t2.manual or not w2.out_of_order)
    and not exists (select 1 from webhook_triggers f where f.webhook_id = t2.webhook_id and f.state = 'in_flight')
    and (not t2.ordered
         or not exists (select 1 from webhook_triggers e where e.webhook_id = t2.webhook_id and e.state = 'pending'
                        and e.ordered and e.id < t2.id))";

/// When a pending trigger may be called: when due, and for a webhook with a rate limit, not
/// before `1 / rate_limit` seconds after its previous call ended.
const EFFECTIVE_DUE: &str = "case when w2.rate_limit is null then t2.due_at
    else greatest(t2.due_at, greatest(w2.last_success_at, w2.last_failure_at)
                             + make_interval(secs => 1.0 / w2.rate_limit)) end";

/// Candidates (`t2` of `w2`) of accounts, hosts and accounts on hosts at their cap are
/// passed over; `$n`, `$n+1`, `$n+2` are the saturated keys ([`Snapshot::saturated`]). Plain
/// `<> all(…)` filters: a join here would steer the planner away from the webhook's key.
fn not_saturated(n: usize) -> String {
    let (accounts, hosts, pairs) = (n, n + 1, n + 2);
    format!(
        "w2.account_id <> all(${accounts}::text[]) and coalesce(w2.endpoint_host, '') <> all(${hosts}::text[])
         and (w2.account_id || ' ' || coalesce(w2.endpoint_host, '')) <> all(${pairs}::text[])"
    )
}

/// Claims up to `limit` due triggers for this worker: each moves to `in_flight` with a lease.
/// Candidates are read in due order and of those each webhook's earliest is taken; only the
/// chosen ones are locked (`SKIP LOCKED`, re-checked as still pending), so a claim writes no
/// more rows than it takes. A webhook with a call in flight is skipped, so it never has two
/// at once (the unique index makes sure: a rare race between processes fails the claim, which
/// is retried). Nothing is claimed unless this process's liveness has a few seconds left.
///
/// The claim is fair among the due work it looks at (the oldest, past that of saturated
/// accounts and hosts): each account, host and account on a host takes no more than its cap
/// allows, and the slots go round-robin across accounts (every account's first call before
/// any account's second).
pub async fn claim(
    pool: &PgPool,
    worker: i64,
    lease: Duration,
    limit: i64,
    caps: Caps,
    load: &Snapshot,
) -> Result<Vec<ClaimedTrigger>, sqlx::Error> {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let sql = SQL.get_or_init(|| {
        // $5–$7: saturated keys; $8–$10: the caps; $11–$16: calls in flight per key.
        let not_saturated = not_saturated(5);
        let (pair_cap, account_cap, host_cap) = (8, 9, 10);
        let (accounts, account_calls, hosts, host_calls, pairs, pair_calls) = (11, 12, 13, 14, 15, 16);
        format!(
            "with candidate as (
                 select t2.id, t2.webhook_id, t2.due_at, w2.account_id, coalesce(w2.endpoint_host, '') as host
                 from webhook_triggers t2 join webhooks w2 on w2.id = t2.webhook_id
                 where t2.due_at <= now() and {CANDIDATE} and {not_saturated} and {EFFECTIVE_DUE} <= now()
                 order by t2.due_at, t2.id
                 limit $4),
             head as (select distinct on (webhook_id) id, due_at, account_id, host
                      from candidate order by webhook_id, id),
             by_account as (
                 select h.*, coalesce(a.n, 0) + row_number() over (partition by h.account_id order by h.due_at, h.id) as account_calls
                 from head h left join unnest(${accounts}::text[], ${account_calls}::int[]) a(k, n) on a.k = h.account_id),
             by_pair as (
                 select r.*, coalesce(p.n, 0) + row_number() over (partition by r.account_id, r.host
                                                                   order by r.account_calls, r.due_at, r.id) as pair_calls
                 from by_account r left join unnest(${pairs}::text[], ${pair_calls}::int[]) p(k, n)
                      on p.k = r.account_id || ' ' || r.host
                 where r.account_calls <= ${account_cap}),
             by_host as (
                 select r.*, coalesce(o.n, 0) + row_number() over (partition by r.host
                                                                   order by r.account_calls, r.due_at, r.id) as host_calls
                 from by_pair r left join unnest(${hosts}::text[], ${host_calls}::int[]) o(k, n) on o.k = r.host
                 where r.pair_calls <= ${pair_cap}),
             chosen as (select id from by_host where host_calls <= ${host_cap}
                        order by account_calls, due_at, id limit $3),
             locked as (select t3.id from webhook_triggers t3 join chosen c on c.id = t3.id
                        where t3.state = 'pending'
                          and exists (select 1 from delivery_workers d where d.id = $1
                                      and d.alive_until > clock_timestamp() + interval '3 seconds')
                        for update of t3 skip locked)
             update webhook_triggers t
                set state = 'in_flight', claimed_by = $1,
                    claimed_until = clock_timestamp() + make_interval(secs => $2)
             from locked c, webhooks w
             where t.id = c.id and w.id = t.webhook_id
             returning t.id as trigger_id, t.webhook_id, t.manual, t.claimed_until, t.first_event_at,
                       w.label, w.object_class, w.account_id, w.product_id, w.external_url, w.endpoint_host,
                       w.jwt_secret, w.http_method, w.headers, w.data, w.last_success_at, w.last_failure_at, t.message_id,
                       (select jsonb_build_object('trigger_id', m.trigger_id, 'message_id', m.id, 'method', m.method,
                                                  'query', m.query, 'content_type', m.content_type, 'body', m.body)
                        from inbound_messages m where m.id = t.message_id) as inbound"
        )
    });
    // Look further than the slots, so that round-robin has several accounts to choose from.
    let scan = (limit * 2).max(16);
    let saturated = load.saturated(caps);
    sqlx::query_as(sql)
        .bind(worker)
        .bind(lease.as_secs_f64())
        .bind(limit)
        .bind(scan)
        .bind(&saturated.accounts)
        .bind(&saturated.hosts)
        .bind(&saturated.account_hosts)
        .bind(caps.per_account_host as i64)
        .bind(caps.per_account as i64)
        .bind(caps.per_host as i64)
        .bind(&load.accounts)
        .bind(&load.account_calls)
        .bind(&load.hosts)
        .bind(&load.host_calls)
        .bind(&load.account_hosts)
        .bind(&load.account_host_calls)
        .fetch_all(pool)
        .await
}

/// When the next pending trigger that this process could claim falls due, if any.
pub async fn next_due(pool: &PgPool, caps: Caps, load: &Snapshot) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let sql = SQL.get_or_init(|| {
        format!(
            "select min({EFFECTIVE_DUE}) from webhook_triggers t2 join webhooks w2 on w2.id = t2.webhook_id
             where {CANDIDATE} and {}",
            not_saturated(1)
        )
    });
    let saturated = load.saturated(caps);
    sqlx::query_scalar(sql)
        .bind(&saturated.accounts)
        .bind(&saturated.hosts)
        .bind(&saturated.account_hosts)
        .fetch_one(pool)
        .await
}

/// Says this delivery process is alive until `liveness` from now.
pub async fn heartbeat(pool: &PgPool, worker: i64, liveness: Duration) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into delivery_workers (id, alive_until) values ($1, clock_timestamp() + make_interval(secs => $2))
         on conflict (id) do update set alive_until = excluded.alive_until",
    )
    .bind(worker)
    .bind(liveness.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(())
}

/// Forgets a process that stopped, and processes long dead.
pub async fn forget_worker(pool: &PgPool, worker: i64) -> Result<(), sqlx::Error> {
    sqlx::query("delete from delivery_workers where id = $1 or alive_until < now() - interval '1 day'")
        .bind(worker)
        .execute(pool)
        .await?;
    Ok(())
}

/// The request as it was sent, for the attempt record.
pub struct SentRequest<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub body: Option<&'a str>,
    pub started_at: DateTime<Utc>,
}

const INSERT_ATTEMPT: &str =
    "insert into webhook_attempts (webhook_id, trigger_id, manual, started_at, duration_ms, success,
        status_code, error_kind, error, request_method, request_url, request_headers, request_body, response_headers,
        response_body, response_truncated, worker, message_id)
    values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $18, $21)
    returning id";

/// Removes the finished trigger (unless its lease ran out and another worker took it over).
const FINISH_TRIGGER: &str =
    "delete from webhook_triggers where id = $17 and state = 'in_flight' and claimed_by = $18 and claimed_until = $20";

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
    let attempt = |sql: &'static String| {
        sqlx::query_as::<_, (i64, i32)>(sql)
            .bind(&job.webhook_id)
            .bind(job.trigger_id)
            .bind(job.manual)
            .bind(sent.started_at)
            .bind(result.duration.as_millis().min(i32::MAX as u128) as i32)
            .bind(false)
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
            .bind(job.trigger_id)
            .bind(worker)
            .bind(finished_at)
            .bind(job.claimed_until)
            .bind(job.message_id)
    };

    // A failure also schedules the retry (unless the webhook is now out of order): two
    // statements, one transaction. A queue-change trigger is finished (later events join the
    // retry); an inbound message's trigger is kept, to be retried in its place in the order.
    static FAILURE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let sql = FAILURE.get_or_init(|| {
        format!(
            "with attempt as ({INSERT_ATTEMPT}), finished as ({FINISH_TRIGGER} and message_id is null)
             update webhooks set triggers = triggers + 1, failure_triggers = failure_triggers + 1,
                 failure_since_last_success = failure_since_last_success + 1,
                 failures_since_reset = failures_since_reset + 1,
                 out_of_order = out_of_order or failures_since_reset + 1 >= $22,
                 last_failure_at = $19, last_failure_attempt_id = (select id from attempt)
             where id = $1
             returning (select id from attempt), failures_since_reset"
        )
    });
    let mut tx = pool.begin().await?;
    let (attempt_id, failures) = attempt(sql)
        .bind(policy.out_of_order_after)
        .fetch_optional(&mut *tx)
        .await?
        .unwrap_or((0, 0));
    let retry = if failures < policy.out_of_order_after {
        Some(super::policy::retry_delay(failures, policy.retry_base, policy.retry_max).as_secs_f64())
    } else {
        None
    };
    if job.message_id.is_some() {
        // The message waits in its place for the retry (or, out of order, for a reset).
        sqlx::query(
            "update webhook_triggers set state = 'pending', claimed_by = null, claimed_until = null,
                 due_at = clock_timestamp() + make_interval(secs => coalesce($2, 0))
             where id = $1 and state = 'in_flight' and claimed_by = $3 and claimed_until = $4",
        )
        .bind(job.trigger_id)
        .bind(retry)
        .bind(worker)
        .bind(job.claimed_until)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        return Ok(attempt_id);
    }
    // Try again later; events that arrived meanwhile join the retry. A Trigger now pressed
    // during the call keeps its "at once".
    sqlx::query(
        "insert into webhook_triggers (webhook_id, state, due_at, first_event_at)
         select $1, 'pending', clock_timestamp() + make_interval(secs => $2), $3 where $2 is not null
         on conflict (webhook_id) where state = 'pending' and message_id is null do update set
             first_event_at = least(webhook_triggers.first_event_at, excluded.first_event_at),
             due_at = case when webhook_triggers.manual then webhook_triggers.due_at
                           else greatest(webhook_triggers.due_at, excluded.due_at) end",
    )
    .bind(&job.webhook_id)
    .bind(retry)
    .bind(job.first_event_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(attempt_id)
}

/// Which in-flight triggers [`release`] puts back.
pub enum Release<'a> {
    /// Those of other processes whose liveness ran out (they crashed or lost the database),
    /// and any whose lease ran out (a process of a version without liveness rows).
    Abandoned { me: i64 },
    /// All of this process's own (graceful shutdown).
    Own { me: i64 },
    /// These claims of this process, whose calls it stopped: (trigger, lease).
    Claims {
        me: i64,
        claims: &'a [(i64, DateTime<Utc>)],
    },
}

/// Puts in-flight triggers back to pending (see [`Release`]). A trigger that meanwhile got a
/// pending successor is merged into it.
pub async fn release(pool: &PgPool, which: Release<'_>) -> Result<u64, sqlx::Error> {
    let (me, own, ids, leases) = match which {
        Release::Abandoned { me } => (me, false, None, None),
        Release::Own { me } => (me, true, None, None),
        Release::Claims { me, claims } => (
            me,
            true,
            Some(claims.iter().map(|c| c.0).collect::<Vec<_>>()),
            Some(claims.iter().map(|c| c.1).collect::<Vec<_>>()),
        ),
    };
    let mut tx = pool.begin().await?;
    /// id, webhook, manual, first event, inbound message
    type Stale = (i64, String, bool, DateTime<Utc>, Option<i64>);
    let stale: Vec<Stale> = sqlx::query_as(
        "select t.id, t.webhook_id, t.manual, t.first_event_at, t.message_id from webhook_triggers t
         where t.state = 'in_flight' and case
           when $3::bigint[] is not null then t.claimed_by = $1 and (t.id, t.claimed_until) in
                (select * from unnest($3::bigint[], $4::timestamptz[]))
           when $2 then t.claimed_by = $1
           else t.claimed_until < clock_timestamp()
                or (t.claimed_by <> $1 and exists (select 1 from delivery_workers d
                                                   where d.id = t.claimed_by and d.alive_until < clock_timestamp()))
         end
         for update of t skip locked",
    )
    .bind(me)
    .bind(own)
    .bind(ids)
    .bind(leases)
    .fetch_all(&mut *tx)
    .await?;
    for (id, webhook_id, manual, first_event_at, message_id) in &stale {
        // An inbound message keeps its own trigger; a queue change merges into its successor.
        let merged = if message_id.is_some() {
            0
        } else {
            sqlx::query(
                "update webhook_triggers set manual = manual or $2,
                     first_event_at = least(first_event_at, $3), due_at = least(due_at, clock_timestamp())
                 where webhook_id = $1 and state = 'pending' and message_id is null",
            )
            .bind(webhook_id)
            .bind(manual)
            .bind(first_event_at)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        };
        if merged > 0 {
            sqlx::query("delete from webhook_triggers where id = $1")
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

/// A successful call waiting to be recorded in a batch.
pub struct Success {
    pub webhook_id: String,
    pub trigger_id: i64,
    pub claimed_until: DateTime<Utc>,
    pub manual: bool,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i32,
    pub status_code: Option<i32>,
    pub method: String,
    pub url: String,
    pub request_headers: Value,
    pub request_body: Option<String>,
    pub response_headers: Value,
    pub response_body: Option<String>,
    pub response_truncated: bool,
    pub message_id: Option<i64>,
}

/// Records many successful calls in one statement: their attempts, their finished triggers
/// and their webhooks' statistics. A batch holds at most one call per webhook (one call is in
/// flight per webhook), so each webhook row is updated once.
pub async fn record_successes(pool: &PgPool, worker: i64, batch: &[Success]) -> Result<(), sqlx::Error> {
    let finished: Vec<DateTime<Utc>> = batch
        .iter()
        .map(|s| s.started_at + chrono::Duration::milliseconds(i64::from(s.duration_ms)))
        .collect();
    sqlx::query(
        "with input as (
             select * from unnest($1::text[], $2::bigint[], $3::boolean[], $4::timestamptz[], $5::integer[],
                                  $6::integer[], $7::text[], $8::text[], $9::jsonb[], $10::text[], $11::jsonb[],
                                  $12::text[], $13::boolean[], $14::timestamptz[], $16::timestamptz[], $17::bigint[])
               as i(webhook_id, trigger_id, manual, started_at, duration_ms, status_code, request_method, request_url,
                    request_headers, request_body, response_headers, response_body, response_truncated, finished_at,
                    claimed_until, message_id)),
         attempt as (
             insert into webhook_attempts (webhook_id, trigger_id, worker, manual, started_at, duration_ms, success,
                 status_code, request_method, request_url, request_headers, request_body, response_headers,
                 response_body, response_truncated, message_id)
             select webhook_id, trigger_id, $15, manual, started_at, duration_ms, true, status_code, request_method,
                    request_url, request_headers, request_body, response_headers, response_body, response_truncated,
                    message_id
             from input
             returning id, trigger_id),
         done as (
             delete from webhook_triggers t using input i
             where t.id = i.trigger_id and t.state = 'in_flight' and t.claimed_by = $15
               and t.claimed_until = i.claimed_until)
         update webhooks w set triggers = triggers + 1, success_triggers = success_triggers + 1,
             failure_since_last_success = 0, failures_since_reset = 0, out_of_order = false,
             last_success_at = i.finished_at, last_success_attempt_id = a.id
         from input i join attempt a on a.trigger_id = i.trigger_id
         where w.id = i.webhook_id",
    )
    .bind(batch.iter().map(|s| s.webhook_id.as_str()).collect::<Vec<_>>())
    .bind(batch.iter().map(|s| s.trigger_id).collect::<Vec<_>>())
    .bind(batch.iter().map(|s| s.manual).collect::<Vec<_>>())
    .bind(batch.iter().map(|s| s.started_at).collect::<Vec<_>>())
    .bind(batch.iter().map(|s| s.duration_ms).collect::<Vec<_>>())
    .bind(batch.iter().map(|s| s.status_code).collect::<Vec<_>>())
    .bind(batch.iter().map(|s| s.method.as_str()).collect::<Vec<_>>())
    .bind(batch.iter().map(|s| s.url.as_str()).collect::<Vec<_>>())
    .bind(batch.iter().map(|s| s.request_headers.clone()).collect::<Vec<_>>())
    .bind(batch.iter().map(|s| s.request_body.clone()).collect::<Vec<_>>())
    .bind(batch.iter().map(|s| s.response_headers.clone()).collect::<Vec<_>>())
    .bind(batch.iter().map(|s| s.response_body.clone()).collect::<Vec<_>>())
    .bind(batch.iter().map(|s| s.response_truncated).collect::<Vec<_>>())
    .bind(finished)
    .bind(worker)
    .bind(batch.iter().map(|s| s.claimed_until).collect::<Vec<_>>())
    .bind(batch.iter().map(|s| s.message_id).collect::<Vec<_>>())
    .execute(pool)
    .await?;
    Ok(())
}

/// Records a validation webhook's synchronous call (its event is recorded by the caller): the
/// attempt (a success only if the answer was usable: `refusal` says why not) and the call
/// statistics. Validation calls are not retried and never put a webhook out of order: the
/// admin sees the result at once.
pub async fn record_validation_call(
    conn: &mut sqlx::PgConnection,
    webhook_id: &str,
    sent: &SentRequest<'_>,
    result: &CallResult,
    refusal: Option<&str>,
) -> Result<i64, sqlx::Error> {
    let success = refusal.is_none();
    let finished_at = sent.started_at + chrono::Duration::from_std(result.duration).unwrap_or_default();
    let error_kind = result.error_kind.or((!success).then_some("answer"));
    let (attempt_id,): (i64,) = sqlx::query_as(
        "with attempt as (insert into webhook_attempts (webhook_id, manual, started_at, duration_ms, success,
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
         select id from attempt",
    )
    .bind(webhook_id)
    .bind(sent.started_at)
    .bind(result.duration.as_millis().min(i32::MAX as u128) as i32)
    .bind(success)
    .bind(result.status_code.map(i32::from))
    .bind(error_kind)
    .bind(refusal.map(str::to_string).or_else(|| result.error.clone()))
    .bind(sent.method)
    .bind(sent.url)
    .bind(Json(&result.request_headers))
    .bind(sent.body)
    .bind(Json(&result.response_headers))
    .bind(&result.response_body)
    .bind(result.response_truncated)
    .bind(finished_at)
    .fetch_one(conn)
    .await?;
    Ok(attempt_id)
}
