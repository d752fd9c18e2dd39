//! Where events come from. Every source — Trigger now, a queue change, the API — calls
//! [`record`] inside the transaction of its cause, so an event is never lost: it is
//! committed with the change that caused it, together with the trigger that will deliver it.

use sqlx::{PgConnection, Row};

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
    pub fn as_str(self) -> &'static str {
        match self {
            Source::TriggerNow => "trigger_now",
            Source::QueueChange => "queue_change",
            Source::Api => "api",
            Source::Inbound => "inbound",
            Source::Validation => "validation",
        }
    }
}

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

/// Records an event for a webhook and schedules (or joins) its pending trigger.
/// A manual event (Trigger now) makes the pending trigger due at once, even during a retry
/// back-off or when the webhook is out of order.
pub async fn record(
    conn: &mut PgConnection,
    webhook_id: &str,
    source: Source,
    object_id: Option<&str>,
) -> Result<Outcome, sqlx::Error> {
    let manual = source == Source::TriggerNow;
    // One statement: the event, its counters, and — if the webhook is enabled — the pending
    // trigger (kept while out of order, so re-enabling delivers it; the claim skips it until then), which a queue change joins without touching (no row churn, no lock) and a
    // Trigger now makes due at once. The delivery task is notified (at commit) when a trigger
    // is new. The webhook row is only read: the delivery task writes it, and an event must
    // never wait for a call to be recorded.
    let on_conflict = if manual {
        "do update set manual = true, due_at = least(webhook_triggers.due_at, excluded.due_at)"
    } else {
        "do nothing"
    };
    let sql = format!(
        "with hook as (select active, out_of_order from webhooks where id = $1),
              event as (insert into webhook_events (webhook_id, source, object_id) select $1, $2, $3 from hook),
              counted as (insert into webhook_event_stats (webhook_id, events, last_event_at)
                          select $1, 1, clock_timestamp() from hook
                          on conflict (webhook_id) do update set events = webhook_event_stats.events + 1,
                                                                 last_event_at = excluded.last_event_at),
              pending as (insert into webhook_triggers (webhook_id, state, due_at, manual)
                          select $1, 'pending', now(), $4 from hook where active
                          on conflict (webhook_id) where state = 'pending' and message_id is null {on_conflict}
                          returning 1)
         select active, out_of_order, (select count(pg_notify($5, '')) from pending) as notified from hook"
    );
    let row = sqlx::query(&sql)
        .bind(webhook_id)
        .bind(source.as_str())
        .bind(object_id)
        .bind(manual)
        .bind(CHANNEL)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    let (active, out_of_order): (bool, bool) = (row.try_get("active")?, row.try_get("out_of_order")?);
    if !active {
        return Ok(Outcome::RecordedDisabled);
    }
    if out_of_order && !manual {
        return Ok(Outcome::RecordedOutOfOrder);
    }
    Ok(Outcome::Scheduled)
}

/// Records the event of an inbound message for a webhook and, if the webhook is enabled, a
/// trigger of its own for it (messages carry data, so they are never coalesced). With
/// `ordered`, the message is delivered only after every earlier ordered message succeeded.
pub async fn record_message(
    conn: &mut PgConnection,
    webhook_id: &str,
    message_id: i64,
    ordered: bool,
) -> Result<Outcome, sqlx::Error> {
    let row = sqlx::query(
        "with hook as (select active, out_of_order from webhooks where id = $1),
              event as (insert into webhook_events (webhook_id, source, object_id) select $1, 'inbound', $2::text from hook),
              counted as (insert into webhook_event_stats (webhook_id, events, last_event_at)
                          select $1, 1, clock_timestamp() from hook
                          on conflict (webhook_id) do update set events = webhook_event_stats.events + 1,
                                                                 last_event_at = excluded.last_event_at),
              pending as (insert into webhook_triggers (webhook_id, state, due_at, message_id, ordered)
                          select $1, 'pending', now(), $2, $3 from hook where active
                          returning 1)
         select active, out_of_order, (select count(pg_notify($4, '')) from pending) as notified from hook",
    )
    .bind(webhook_id)
    .bind(message_id)
    .bind(ordered)
    .bind(CHANNEL)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(sqlx::Error::RowNotFound)?;
    let (active, out_of_order): (bool, bool) = (row.try_get("active")?, row.try_get("out_of_order")?);
    Ok(if !active {
        Outcome::RecordedDisabled
    } else if out_of_order {
        Outcome::RecordedOutOfOrder
    } else {
        Outcome::Scheduled
    })
}
