//! Where events come from. Every source — Trigger now, a queue change, the API — calls
//! [`record`] inside the transaction of its cause, so an event is never lost: it is
//! committed with the change that caused it, together with the trigger that will deliver it.
//!
//! Each statement records the event and its counters (`event` and `counted` CTEs over a
//! one-row `hook` CTE of the webhook) together with what the caller needs; the CTEs are
//! written out in each query so that every one is checked against the schema.

use sqlx::PgConnection;

use crate::domain::ObjectClass;
use crate::ids::{AccountId, ProductId, RequestId, WebhookId};

/// The channel the delivery task listens on; notified when a trigger becomes due.
pub const CHANNEL: &str = "webhook_triggers";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    TriggerNow,
    QueueChange,
    Api,
    /// A call of an inbound trigger (`/hooks/in/{id}`).
    Inbound,
    /// A validation webhook was asked to validate a request (a synchronous call).
    Validation,
}

impl Source {
    const ALL: [Source; 5] = [
        Source::TriggerNow,
        Source::QueueChange,
        Source::Api,
        Source::Inbound,
        Source::Validation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::TriggerNow => "trigger_now",
            Source::QueueChange => "queue_change",
            Source::Api => "api",
            Source::Inbound => "inbound",
            Source::Validation => "validation",
        }
    }

    pub fn parse(raw: &str) -> Option<Source> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

crate::db::text_column!(Source);

/// What recording did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A call is scheduled (new, or the event joined the pending one).
    Scheduled,
    /// The webhook is disabled: the event is recorded, no call will be made.
    RecordedDisabled,
    /// The webhook is out of order: recorded; only Trigger now or re-enabling calls again.
    RecordedOutOfOrder,
}

/// The event webhooks of an account on a product and object class, the ones a change in that
/// queue is recorded for. Always in id order: callers record events for each in one
/// transaction, and a common order keeps two such transactions from deadlocking.
pub async fn webhooks_watching(
    conn: &mut PgConnection,
    account_id: &AccountId,
    product_id: &ProductId,
    object_class: ObjectClass,
) -> Result<Vec<WebhookId>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select id as "id: WebhookId" from webhooks
           where account_id = $1 and product_id = $2 and object_class = $3 and type = 'event'
           order by id"#,
        account_id.as_str(),
        product_id.as_str(),
        object_class as ObjectClass,
    )
    .fetch_all(conn)
    .await
}

/// What an event means for the webhook in this state.
fn outcome(active: bool, out_of_order: bool, manual: bool) -> Outcome {
    if !active {
        Outcome::RecordedDisabled
    } else if out_of_order && !manual {
        Outcome::RecordedOutOfOrder
    } else {
        Outcome::Scheduled
    }
}

/// Records an event for a webhook and schedules (or joins) its pending trigger.
/// A manual event (Trigger now) makes the pending trigger due at once, even during a retry
/// back-off or when the webhook is out of order.
pub async fn record(
    conn: &mut PgConnection,
    webhook_id: &WebhookId,
    source: Source,
    object_id: Option<&RequestId>,
) -> Result<Outcome, sqlx::Error> {
    let manual = source == Source::TriggerNow;
    let object_id = object_id.map(RequestId::as_str);
    // One statement: the event, its counters, and — if the webhook is enabled — the pending
    // trigger (kept while out of order, so re-enabling delivers it; the claim skips it until
    // then), which a queue change joins without changing it (but locked until this commits, so
    // its call cannot start before the change is visible) and a
    // Trigger now makes due at once. The delivery task is notified (at commit) when a trigger
    // is new. The webhook row is only read: the delivery task writes it, and an event must
    // never wait for a call to be recorded.
    // A queue change meeting a pending trigger updates nothing (`where excluded.manual`).
    let state = sqlx::query!(
        r#"with hook as (select active, out_of_order from webhooks where id = $1),
                event as (insert into webhook_events (webhook_id, source, object_id)
                          select $1, $2::text, $3::text from hook),
                counted as (insert into webhook_event_stats (webhook_id, events, last_event_at)
                            select $1, 1, clock_timestamp() from hook
                            on conflict (webhook_id) do update set events = webhook_event_stats.events + 1,
                                                                   last_event_at = excluded.last_event_at),
                pending as (insert into webhook_triggers (webhook_id, state, due_at, manual)
                            select $1, 'pending', now(), $5 from hook where active
                            on conflict (webhook_id) where state = 'pending' and message_id is null and replay_of is null
                            do update set manual = true, due_at = least(webhook_triggers.due_at, excluded.due_at)
                            where excluded.manual
                            returning 1)
           select active as "active!", out_of_order as "out_of_order!",
                  (select count(pg_notify($4, '')) from pending) as "notified!"
           from hook"#,
        webhook_id.as_str(),
        source as Source,
        object_id,
        CHANNEL,
        manual,
    )
    .fetch_optional(&mut *conn)
    .await?
    .map(|r| (r.active, r.out_of_order));
    let (active, out_of_order) = state.ok_or(sqlx::Error::RowNotFound)?;
    Ok(outcome(active, out_of_order, manual))
}

/// Records a queue change for each of `hooks` (distinct webhooks, in id order) in one
/// statement: the events, their counters and, for enabled webhooks without one, the pending
/// trigger. A pending trigger already there is joined unchanged but locked until the cause
/// commits (`do update … where excluded.manual`, false here, as [`record`] does): a claim
/// passes it over until then, so its call never starts before the change it announces can be
/// seen. A change of a queue that many webhooks watch costs one round trip. Returns how many
/// events were recorded (webhooks deleted meanwhile are skipped).
pub async fn record_queue_changes(
    conn: &mut PgConnection,
    hooks: &[WebhookId],
    object_id: Option<&RequestId>,
) -> Result<i64, sqlx::Error> {
    if hooks.is_empty() {
        return Ok(0);
    }
    // One notification however many triggers are new (the delivery task claims them all).
    let row = sqlx::query!(
        r#"with hook as (select w.id, w.active from webhooks w where w.id = any($1::text[])),
                event as (insert into webhook_events (webhook_id, source, object_id)
                          select id, $2::text, $3::text from hook),
                counted as (insert into webhook_event_stats (webhook_id, events, last_event_at)
                            select id, 1, clock_timestamp() from hook order by id
                            on conflict (webhook_id) do update set events = webhook_event_stats.events + 1,
                                                                   last_event_at = excluded.last_event_at),
                pending as (insert into webhook_triggers (webhook_id, state, due_at)
                            select id, 'pending', now() from hook where active order by id
                            on conflict (webhook_id) where state = 'pending' and message_id is null and replay_of is null
                            do update set manual = true where excluded.manual
                            returning 1)
           select (select count(*) from hook) as "recorded!",
                  (select count(pg_notify($4, '')) from (select 1 from pending limit 1) p) as "notified!""#,
        &hooks.iter().map(WebhookId::as_str).collect::<Vec<_>>() as _,
        Source::QueueChange as Source,
        object_id.map(RequestId::as_str),
        CHANNEL,
    )
    .fetch_one(conn)
    .await?;
    Ok(row.recorded)
}

/// Records the event of an inbound message for a webhook and, if the webhook is enabled, a
/// trigger of its own for it (messages carry data, so they are never coalesced). With
/// `ordered`, the message is delivered only after every earlier ordered message succeeded.
pub async fn record_message(
    conn: &mut PgConnection,
    webhook_id: &WebhookId,
    message_id: i64,
    ordered: bool,
) -> Result<Outcome, sqlx::Error> {
    let row = sqlx::query!(
        r#"with hook as (select active, out_of_order from webhooks where id = $1),
                event as (insert into webhook_events (webhook_id, source, object_id)
                          select $1, $2::text, $3::text from hook),
                counted as (insert into webhook_event_stats (webhook_id, events, last_event_at)
                            select $1, 1, clock_timestamp() from hook
                            on conflict (webhook_id) do update set events = webhook_event_stats.events + 1,
                                                                   last_event_at = excluded.last_event_at),
                pending as (insert into webhook_triggers (webhook_id, state, due_at, message_id, ordered)
                            select $1, 'pending', now(), $4::bigint, $5::boolean from hook where active
                            returning 1)
           select active as "active!", out_of_order as "out_of_order!",
                  (select count(pg_notify($6, '')) from pending) as "notified!"
           from hook"#,
        webhook_id.as_str(),
        Source::Inbound as Source,
        message_id.to_string(),
        message_id,
        ordered,
        CHANNEL,
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(sqlx::Error::RowNotFound)?;
    Ok(outcome(row.active, row.out_of_order, false))
}

/// Records an event that needs no trigger: a validation webhook is called at once by its
/// cause, which records the call itself.
pub async fn record_called(
    conn: &mut PgConnection,
    webhook_id: &WebhookId,
    source: Source,
    object_id: Option<&RequestId>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"with hook as (select 1 from webhooks where id = $1),
                event as (insert into webhook_events (webhook_id, source, object_id)
                          select $1, $2::text, $3::text from hook),
                counted as (insert into webhook_event_stats (webhook_id, events, last_event_at)
                            select $1, 1, clock_timestamp() from hook
                            on conflict (webhook_id) do update set events = webhook_event_stats.events + 1,
                                                                   last_event_at = excluded.last_event_at)
           select count(*) as "hooks!" from hook"#,
        webhook_id.as_str(),
        source as Source,
        object_id.map(RequestId::as_str),
    )
    .fetch_one(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_round_trip() {
        for s in Source::ALL {
            assert_eq!(Source::parse(s.as_str()), Some(s));
        }
        assert_eq!(Source::parse("manual"), None);
    }

    #[test]
    fn a_manual_event_calls_even_when_out_of_order() {
        assert_eq!(outcome(false, false, true), Outcome::RecordedDisabled);
        assert_eq!(outcome(true, true, false), Outcome::RecordedOutOfOrder);
        assert_eq!(outcome(true, true, true), Outcome::Scheduled);
    }
}
