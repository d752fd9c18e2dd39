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
    sqlx::query("insert into webhook_events (webhook_id, source, object_id) values ($1, $2, $3)")
        .bind(webhook_id)
        .bind(source.as_str())
        .bind(object_id)
        .execute(&mut *conn)
        .await?;
    let row = sqlx::query(
        "update webhooks set events = events + 1, last_event_at = clock_timestamp() where id = $1 returning active, out_of_order",
    )
    .bind(webhook_id)
    .fetch_one(&mut *conn)
    .await?;
    let (active, out_of_order): (bool, bool) = (row.try_get("active")?, row.try_get("out_of_order")?);
    if !active {
        return Ok(Outcome::RecordedDisabled);
    }
    if out_of_order && !manual {
        return Ok(Outcome::RecordedOutOfOrder);
    }
    sqlx::query(
        "insert into webhook_triggers (webhook_id, state, due_at, manual) values ($1, 'pending', clock_timestamp(), $2)
         on conflict (webhook_id) where state = 'pending' do update set
             events = webhook_triggers.events + 1,
             manual = webhook_triggers.manual or excluded.manual,
             due_at = case when excluded.manual then least(webhook_triggers.due_at, excluded.due_at)
                           else webhook_triggers.due_at end",
    )
    .bind(webhook_id)
    .bind(manual)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "update webhooks set next_trigger_at =
             (select due_at from webhook_triggers where webhook_id = $1 and state = 'pending')
         where id = $1",
    )
    .bind(webhook_id)
    .execute(&mut *conn)
    .await?;
    // Delivered to listeners when the transaction commits.
    sqlx::query("select pg_notify($1, '')")
        .bind(CHANNEL)
        .execute(&mut *conn)
        .await?;
    Ok(Outcome::Scheduled)
}
