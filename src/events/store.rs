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

/// The event and its counters, as CTEs over a one-row `hook` CTE of the webhook:
/// `$1` webhook, `$2` source, `$3` object id.
const EVENT_CTES: &str =
    "event as (insert into webhook_events (webhook_id, source, object_id) select $1, $2, $3 from hook),
      counted as (insert into webhook_event_stats (webhook_id, events, last_event_at)
                  select $1, 1, clock_timestamp() from hook
                  on conflict (webhook_id) do update set events = webhook_event_stats.events + 1,
                                                         last_event_at = excluded.last_event_at)";

/// The event webhooks of an account on a product and object class, the ones a change in that
/// queue is recorded for. Always in id order: callers record events for each in one
/// transaction, and a common order keeps two such transactions from deadlocking.
pub async fn webhooks_watching(
    conn: &mut PgConnection,
    account_id: &str,
    product_id: &str,
    object_class: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "select id from webhooks where account_id = $1 and product_id = $2 and object_class = $3 and type = 'event'
         order by id",
    )
    .bind(account_id)
    .bind(product_id)
    .bind(object_class)
    .fetch_all(conn)
    .await
}

fn outcome(row: &sqlx::postgres::PgRow, manual: bool) -> Result<Outcome, sqlx::Error> {
    let (active, out_of_order): (bool, bool) = (row.try_get("active")?, row.try_get("out_of_order")?);
    Ok(if !active {
        Outcome::RecordedDisabled
    } else if out_of_order && !manual {
        Outcome::RecordedOutOfOrder
    } else {
        Outcome::Scheduled
    })
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
    // trigger (kept while out of order, so re-enabling delivers it; the claim skips it until
    // then), which a queue change joins without touching (no row churn, no lock) and a
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
              {EVENT_CTES},
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
    outcome(&row, manual)
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
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let sql = SQL.get_or_init(|| {
        format!(
            "with hook as (select active, out_of_order from webhooks where id = $1),
                  {EVENT_CTES},
                  pending as (insert into webhook_triggers (webhook_id, state, due_at, message_id, ordered)
                              select $1, 'pending', now(), $4, $5 from hook where active
                              returning 1)
             select active, out_of_order, (select count(pg_notify($6, '')) from pending) as notified from hook"
        )
    });
    let row = sqlx::query(sql)
        .bind(webhook_id)
        .bind(Source::Inbound.as_str())
        .bind(message_id.to_string())
        .bind(message_id)
        .bind(ordered)
        .bind(CHANNEL)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    outcome(&row, false)
}

/// Records an event that needs no trigger: a validation webhook is called at once by its
/// cause, which records the call itself.
pub async fn record_called(
    conn: &mut PgConnection,
    webhook_id: &str,
    source: Source,
    object_id: Option<&str>,
) -> Result<(), sqlx::Error> {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let sql = SQL.get_or_init(|| {
        format!("with hook as (select 1 from webhooks where id = $1), {EVENT_CTES} select count(*) from hook")
    });
    sqlx::query(sql)
        .bind(webhook_id)
        .bind(source.as_str())
        .bind(object_id)
        .execute(conn)
        .await?;
    Ok(())
}
