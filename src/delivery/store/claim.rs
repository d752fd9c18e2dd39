//! Claiming due triggers fairly: which pending triggers may be called, and the claim that
//! moves them to `in_flight` under a lease.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{PgExecutor, PgPool};

use crate::delivery::fairness::{Caps, Snapshot};
use crate::domain::{HttpMethod, ObjectClass, PayloadFormat};
use crate::ids::{AccountId, ProductId, WebhookId};

/// A claimed trigger with everything needed to make the call.
#[derive(Debug, Clone)]
pub struct ClaimedTrigger {
    pub trigger_id: i64,
    pub webhook_id: WebhookId,
    pub manual: bool,
    /// The lease this claim holds; a recording only finishes the trigger it claimed.
    pub claimed_until: DateTime<Utc>,
    pub first_event_at: DateTime<Utc>,
    pub label: String,
    pub object_class: ObjectClass,
    pub account_id: AccountId,
    pub product_id: ProductId,
    pub external_url: String,
    /// The endpoint's `host:port`, for the per-host cap.
    pub endpoint_host: Option<String>,
    pub jwt_secret: String,
    pub jwt_kid: String,
    pub http_method: HttpMethod,
    pub payload_format: PayloadFormat,
    pub md5_wrap: bool,
    pub headers: Json<Vec<(String, String)>>,
    pub data: Json<Value>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_failure_at: Option<DateTime<Utc>>,
    /// The inbound message this trigger delivers (its own call, never coalesced).
    pub message_id: Option<i64>,
    /// The delivery this trigger replays (its first call's id): a call of its own, like a message's.
    pub replay_of: Option<i64>,
    /// The message: trigger id, method, query parameters, content type, the body's inline text
    /// (never its bytes: a claim reads no more than the call carries), size and SHA-256.
    pub inbound: Option<Json<Value>>,
    /// How many due triggers the claim looked at (the same on every row of one claim): as
    /// many as its window means there may be more beyond it.
    pub looked_at: i64,
}

/// How many of the due triggers a claim for `limit` calls considers (the first ones in due
/// order that may be called): more than the slots, so that round-robin has several accounts to
/// choose from.
pub fn candidates_for(limit: i64) -> i64 {
    (limit * 2).max(16)
}

/// Claims up to `limit` due triggers for this worker: each moves to `in_flight` with a lease.
/// Candidates are read in due order from the first `window` due triggers (an index walk that
/// stops there, so a claim costs the same with 500 or 500,000 due; each row says how many it
/// looked at, and [`due_beyond`] says so when nothing was claimed) and of those each webhook's earliest is taken; only the
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
    db: impl PgExecutor<'_>,
    worker: i64,
    lease: Duration,
    limit: i64,
    window: i64,
    caps: Caps,
    load: &Snapshot,
) -> Result<Vec<ClaimedTrigger>, sqlx::Error> {
    let scan = candidates_for(limit);
    let saturated = load.saturated(caps);
    // A pending trigger (`t2` of webhook `w2`) may be called once due (and, with a rate limit,
    // not before `1 / rate_limit` s after the webhook's previous call ended) when its webhook is
    // enabled (and not out of order unless the trigger is manual) and has no call in flight, and,
    // for an ordered inbound message, no earlier ordered message of the webhook is still waiting
    // (one that fails holds back the later ones until its retry succeeds). Candidates of
    // accounts, hosts and accounts on hosts at their cap are passed over ($5–$7, plain `<> all`
    // filters: a join there would steer the planner away from the webhook's key). $8–$10 are
    // the caps, $11–$16 the calls in flight per key. The lock checks each chosen trigger against
    // the state it was read in, not against the constant 'pending': with the constant, the
    // planner may find it through the partial due index, which has the id second, and walk the
    // whole of that index once per chosen trigger (2 ms of a 3 ms claim under load); without
    // it only the primary key serves.
    sqlx::query_as!(
        ClaimedTrigger,
        r#"with due as (
                 select d.id, d.webhook_id, d.due_at, d.manual, d.ordered, d.state from webhook_triggers d
                 where d.due_at <= now() and d.state = 'pending'
                 order by d.due_at, d.id
                 limit $17),
             candidate as (
                 select t2.id, t2.state, t2.webhook_id, t2.due_at, w2.account_id, coalesce(w2.endpoint_host, '') as host
                 from due t2 join webhooks w2 on w2.id = t2.webhook_id
                 where w2.active and (t2.manual or not w2.out_of_order)
    and not exists (select 1 from webhook_triggers f where f.webhook_id = t2.webhook_id and f.state = 'in_flight')
    and (not t2.ordered
         or not exists (select 1 from webhook_triggers e where e.webhook_id = t2.webhook_id and e.state = 'pending'
                        and e.ordered and e.id < t2.id)) and w2.account_id <> all($5::text[]) and coalesce(w2.endpoint_host, '') <> all($6::text[])
                   and (w2.account_id || ' ' || coalesce(w2.endpoint_host, '')) <> all($7::text[]) and case when w2.rate_limit is null then t2.due_at
    else greatest(t2.due_at, greatest(w2.last_success_at, w2.last_failure_at)
                             + make_interval(secs => 1.0 / w2.rate_limit)) end <= now()
                 order by t2.due_at, t2.id
                 limit $4),
             head as (select distinct on (webhook_id) id, state, due_at, account_id, host
                      from candidate order by webhook_id, id),
             by_account as (
                 select h.*, coalesce(a.n, 0) + row_number() over (partition by h.account_id order by h.due_at, h.id) as account_calls
                 from head h left join unnest($11::text[], $12::int[]) a(k, n) on a.k = h.account_id),
             by_pair as (
                 select r.*, coalesce(p.n, 0) + row_number() over (partition by r.account_id, r.host
                                                                   order by r.account_calls, r.due_at, r.id) as pair_calls
                 from by_account r left join unnest($15::text[], $16::int[]) p(k, n)
                      on p.k = r.account_id || ' ' || r.host
                 where r.account_calls <= $9),
             by_host as (
                 select r.*, coalesce(o.n, 0) + row_number() over (partition by r.host
                                                                   order by r.account_calls, r.due_at, r.id) as host_calls
                 from by_pair r left join unnest($13::text[], $14::int[]) o(k, n) on o.k = r.host
                 where r.pair_calls <= $8),
             chosen as (select id, state from by_host where host_calls <= $10
                        order by account_calls, due_at, id limit $3),
             locked as (select t3.id from webhook_triggers t3 join chosen c on c.id = t3.id
                        where t3.state = c.state
                          and exists (select 1 from delivery_workers d where d.id = $1
                                      and d.alive_until > clock_timestamp() + interval '3 seconds')
                        for update of t3 skip locked)
             update webhook_triggers t
                set state = 'in_flight', claimed_by = $1,
                    claimed_until = clock_timestamp() + make_interval(secs => $2)
             from locked c, webhooks w
             where t.id = c.id and w.id = t.webhook_id
             returning t.id as trigger_id, t.webhook_id as "webhook_id: WebhookId", t.manual,
                       t.claimed_until as "claimed_until!", t.first_event_at, w.label,
                       w.object_class as "object_class: ObjectClass", w.account_id as "account_id: AccountId",
                       w.product_id as "product_id: ProductId", w.external_url, w.endpoint_host,
                       w.jwt_secret, w.jwt_kid, w.http_method as "http_method: HttpMethod",
                       w.payload_format as "payload_format: PayloadFormat", w.md5_wrap,
                       w.headers as "headers: Json<Vec<(String, String)>>", w.data as "data: Json<Value>",
                       w.last_success_at, w.last_failure_at, t.message_id, t.replay_of,
                       (select jsonb_build_object('trigger_id', m.trigger_id, 'message_id', m.id, 'method', m.method,
                                                  'query', m.query, 'content_type', m.content_type, 'body', m.body,
                                                  'body_size', m.body_size, 'body_sha256', m.body_sha256)
                        from inbound_messages m where m.id = t.message_id) as "inbound: Json<Value>",
                       (select count(*) from due) as "looked_at!""#,
        worker,
        lease.as_secs_f64(),
        limit,
        scan,
        &saturated.accounts,
        &saturated.hosts,
        &saturated.account_hosts,
        caps.per_account_host as i64,
        caps.per_account as i64,
        caps.per_host as i64,
        &load.accounts,
        &load.account_calls,
        &load.hosts,
        &load.host_calls,
        &load.account_hosts,
        &load.account_host_calls,
        window,
    )
        .fetch_all(db)
        .await
}

/// Whether more than `window` triggers are due: a claim that found fewer than it asked for
/// within that window should look further (the first ones may all be of busy, disabled or
/// capped webhooks).
pub async fn due_beyond(pool: &PgPool, window: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select exists (select 1 from webhook_triggers
                          where due_at <= now() and state = 'pending'
                          order by due_at, id offset $1) as "beyond!""#,
        window,
    )
    .fetch_one(pool)
    .await
}

/// When the next pending trigger that this process could claim falls due, if any.
pub async fn next_due(
    db: impl PgExecutor<'_>,
    caps: Caps,
    load: &Snapshot,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    let saturated = load.saturated(caps);
    // The same candidates as [`claim`]'s, read in due order and no further than 64: a
    // candidate's time is never before its due time, so past the 64th nothing is earlier than
    // that one's due time. The answer may be early (then the task looks again), never late, and
    // its cost does not grow with the number of pending triggers.
    sqlx::query_scalar!(
        r#"select least(min(effective), max(due_at)) from (
               select t2.due_at,
                      case when w2.rate_limit is null then t2.due_at
                           else greatest(t2.due_at, greatest(w2.last_success_at, w2.last_failure_at)
                                                    + make_interval(secs => 1.0 / w2.rate_limit)) end as effective
               from webhook_triggers t2 join webhooks w2 on w2.id = t2.webhook_id
               where t2.state = 'pending' and w2.active and (t2.manual or not w2.out_of_order)
                 and not exists (select 1 from webhook_triggers f where f.webhook_id = t2.webhook_id
                                 and f.state = 'in_flight')
                 and (not t2.ordered
                      or not exists (select 1 from webhook_triggers e where e.webhook_id = t2.webhook_id
                                     and e.state = 'pending' and e.ordered and e.id < t2.id))
                 and w2.account_id <> all($1::text[]) and coalesce(w2.endpoint_host, '') <> all($2::text[])
                 and (w2.account_id || ' ' || coalesce(w2.endpoint_host, '')) <> all($3::text[])
               order by t2.due_at, t2.id
               limit 64) first"#,
        &saturated.accounts,
        &saturated.hosts,
        &saturated.account_hosts,
    )
    .fetch_one(db)
    .await
}

/// The queue as `/metrics` shows it: how many calls are due and may be made now (as [`claim`]
/// would see them, ignoring caps and rate limits), how long past its due time the oldest is,
/// and how many enabled webhooks are out of order. Each is read from an index: the due part
/// of the `(due_at)` index of pending triggers, and the partial index of out-of-order webhooks.
pub async fn queue_figures(pool: &PgPool) -> Result<crate::telemetry::QueueFigures, sqlx::Error> {
    let row = sqlx::query!(
        r#"select count(*) as "due!",
                  coalesce(extract(epoch from now() - min(t.due_at))::float8, 0) as "oldest_age!",
                  (select count(*) from webhooks w where w.out_of_order and w.active) as "out_of_order!"
           from webhook_triggers t join webhooks w on w.id = t.webhook_id
           where t.state = 'pending' and t.due_at <= now() and w.active and (t.manual or not w.out_of_order)"#
    )
    .fetch_one(pool)
    .await?;
    Ok(crate::telemetry::QueueFigures {
        due_triggers: row.due,
        oldest_due_age_seconds: row.oldest_age.max(0.0),
        webhooks_out_of_order: row.out_of_order,
    })
}
