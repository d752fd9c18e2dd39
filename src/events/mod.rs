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
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::TriggerNow => "trigger_now",
            Source::QueueChange => "queue_change",
            Source::Api => "api",
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
    let row = sqlx::query(
        "with event as (insert into webhook_events (webhook_id, source, object_id) values ($1, $2, $3)),
              counted as (insert into webhook_event_stats (webhook_id, events, last_event_at) values ($1, 1, clock_timestamp())
                          on conflict (webhook_id) do update set events = webhook_event_stats.events + 1,
                                                                 last_event_at = excluded.last_event_at)
         select active, out_of_order from webhooks where id = $1",
    )
    .bind(webhook_id)
    .bind(source.as_str())
    .bind(object_id)
    .fetch_one(&mut *conn)
    .await?;
    let (active, out_of_order): (bool, bool) = (row.try_get("active")?, row.try_get("out_of_order")?);
    if !active {
        return Ok(Outcome::RecordedDisabled);
    }
    if out_of_order && !manual {
        return Ok(Outcome::RecordedOutOfOrder);
    }
    // Schedule or join the pending trigger and notify the delivery task (delivered when the
    // transaction commits) if a new one was made. The webhook row itself is not written: the
    // delivery task updates it, and an event must never wait for a call to be recorded.
    // A queue change joins a pending trigger without touching it (no row churn, no lock); a
    // Trigger now makes it due at once.
    let sql = if manual {
        "with pending as (
             insert into webhook_triggers (webhook_id, state, due_at, manual) values ($1, 'pending', now(), true)
             on conflict (webhook_id) where state = 'pending'
                 do update set manual = true, due_at = least(webhook_triggers.due_at, excluded.due_at)
             returning 1)
         select pg_notify($2, '') from pending"
    } else {
        "with pending as (
             insert into webhook_triggers (webhook_id, state, due_at) values ($1, 'pending', now())
             on conflict (webhook_id) where state = 'pending' do nothing
             returning 1)
         select pg_notify($2, '') from pending"
    };
    sqlx::query(sql)
        .bind(webhook_id)
        .bind(CHANNEL)
        .execute(&mut *conn)
        .await?;
    Ok(Outcome::Scheduled)
}
