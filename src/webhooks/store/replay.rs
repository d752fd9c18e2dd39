//! Replay since a time: the deliveries a webhook made since a moment, found from its calls,
//! and queued again as triggers of their own. The dry run and the replay are one function
//! ([`replay`]), so that the count a dry run answers is the count a replay queues.
//!
//! A *delivery* is one trigger's calls (its retries included): one per Trigger now, per
//! queue-change notification (however many events it coalesced) and per inbound message. Its
//! time is its first call's start. Test pings, redeliveries, validation calls and earlier
//! replays are not deliveries to replay.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::events::CHANNEL;
use crate::ids::{AccountId, WebhookId};

/// The most deliveries one replay sends again.
pub const MAX_DELIVERIES: usize = 10_000;
/// The most calls read to find them (retries and the calls just before `since` included).
const MAX_CALLS_READ: usize = 100_000;
/// Calls are read newest first, this many at a time.
const PAGE: i64 = 2_000;
/// Lock namespace for `pg_advisory_xact_lock(namespace, key)`: one replay per webhook at a time.
const LOCK_REPLAY: i32 = 0x0074_6803;

/// What to replay.
#[derive(Debug, Clone, Copy)]
pub struct ReplayRequest {
    pub since: DateTime<Utc>,
    /// Only deliveries that never got a successful call.
    pub only_failed: bool,
    /// Count, queue nothing.
    pub dry_run: bool,
    /// Queue only if the count is still this one (the count someone saw and confirmed).
    pub expect: Option<i64>,
    /// The longest a call can take from its start until it is recorded (the request timeout
    /// and the recording's retries): calls are numbered when recorded, so the walk back through
    /// a webhook's calls may stop at the first call that started this long before `since`.
    pub settle: chrono::Duration,
}

/// What a replay found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replayed {
    /// The deliveries sent again (or, in a dry run, that would be): one call each.
    pub events: i64,
    /// Deliveries of inbound messages that retention removed: they cannot be sent again.
    pub left_out: i64,
    /// Triggers queued: `events`, or 0 in a dry run.
    pub queued: i64,
}

/// Why nothing is replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No such webhook in the account.
    NotFound,
    Disabled,
    OutOfOrder,
    /// An earlier replay still has this many calls to make.
    StillReplaying(i64),
    /// More than [`MAX_DELIVERIES`] deliveries (or [`MAX_CALLS_READ`] calls) since then.
    TooMany,
}

#[derive(Debug)]
pub enum ReplayError {
    Refused(Refusal),
    Database(sqlx::Error),
}

impl From<sqlx::Error> for ReplayError {
    fn from(e: sqlx::Error) -> Self {
        ReplayError::Database(e)
    }
}

/// One delivery, as far as its calls read so far tell.
struct Delivery {
    first_call: i64,
    started_at: DateTime<Utc>,
    succeeded: bool,
    message_id: Option<i64>,
    /// One of its calls started before `since`, so the delivery did too.
    began_before: bool,
}

/// Finds the deliveries `webhook_id` made since `request.since` and, unless it is a dry run,
/// queues them again in `conn`'s transaction: one trigger each, in the original order,
/// `ordered`, carrying the message if there is one and naming the delivery (`replay_of`). The
/// first is due now; the others are queued behind it and become due one by one as each call
/// succeeds (see the delivery's record of successes). Replays of one webhook take turns.
pub async fn replay(
    conn: &mut PgConnection,
    account_id: &AccountId,
    webhook_id: &WebhookId,
    request: &ReplayRequest,
) -> Result<Replayed, ReplayError> {
    sqlx::query!(
        "select pg_advisory_xact_lock($1, hashtext($2))",
        LOCK_REPLAY,
        webhook_id.as_str()
    )
    .execute(&mut *conn)
    .await?;
    let state = sqlx::query!(
        r#"select active, out_of_order,
                  (select count(*) from webhook_triggers t where t.webhook_id = w.id and t.replay_of is not null)
                      as "replaying!"
           from webhooks w where w.id = $1 and w.account_id = $2"#,
        webhook_id.as_str(),
        account_id.as_str(),
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(ReplayError::Refused(Refusal::NotFound))?;
    let refusal = if !state.active {
        Some(Refusal::Disabled)
    } else if state.out_of_order {
        Some(Refusal::OutOfOrder)
    } else if state.replaying > 0 {
        Some(Refusal::StillReplaying(state.replaying))
    } else {
        None
    };
    if let Some(refusal) = refusal {
        return Err(ReplayError::Refused(refusal));
    }

    let found = deliveries_since(conn, webhook_id, request).await?;
    let (replayable, left_out) = settle_deliveries(conn, webhook_id, found, request.only_failed).await?;
    if replayable.len() > MAX_DELIVERIES {
        return Err(ReplayError::Refused(Refusal::TooMany));
    }
    let events = replayable.len() as i64;
    let changed = request.expect.is_some_and(|expected| expected != events);
    if request.dry_run || changed || replayable.is_empty() {
        return Ok(Replayed {
            events,
            left_out,
            queued: 0,
        });
    }
    let replay_of: Vec<i64> = replayable.iter().map(|d| d.first_call).collect();
    let message_ids: Vec<Option<i64>> = replayable.iter().map(|d| d.message_id).collect();
    // Inserted in the original order, so trigger ids follow it (the order ordered calls keep).
    let queued = sqlx::query!(
        "insert into webhook_triggers (webhook_id, state, due_at, ordered, message_id, replay_of)
         select $1, case when r.position = 1 then 'pending' else 'queued' end, now(), true, r.message_id, r.replay_of
         from unnest($2::bigint[], $3::bigint[]) with ordinality as r(replay_of, message_id, position)
         order by r.position",
        webhook_id.as_str(),
        &replay_of,
        &message_ids as &[Option<i64>],
    )
    .execute(&mut *conn)
    .await?
    .rows_affected() as i64;
    sqlx::query!("select pg_notify($1, '')", CHANNEL)
        .execute(&mut *conn)
        .await?;
    Ok(Replayed {
        events,
        left_out,
        queued,
    })
}

/// Reads the webhook's calls newest first, a page at a time, back to the first one that
/// started `settle` before `since` (every call before it was recorded, and so numbered, before
/// `since`), and groups them into deliveries by trigger. Stops early, refusing, past
/// twice [`MAX_DELIVERIES`] deliveries or [`MAX_CALLS_READ`] calls: the work is bounded by
/// what a replay may send, never by the webhook's history.
async fn deliveries_since(
    conn: &mut PgConnection,
    webhook_id: &WebhookId,
    request: &ReplayRequest,
) -> Result<HashMap<i64, Delivery>, ReplayError> {
    let floor = request
        .since
        .checked_sub_signed(request.settle)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    // The webhook's own calls from its index, whatever the planner guesses for a busy webhook
    // (as the Deliveries tab does).
    sqlx::query!("set local plan_cache_mode = force_generic_plan")
        .execute(&mut *conn)
        .await?;
    let mut deliveries: HashMap<i64, Delivery> = HashMap::new();
    let mut counted = 0usize;
    let mut read = 0usize;
    let mut before = i64::MAX;
    loop {
        let page = sqlx::query!(
            r#"select id, trigger_id, started_at, success, message_id,
                      (test or trigger_id is null or redelivery_of is not null or replay_of is not null) as "aside!"
               from webhook_attempts where webhook_id = $1 and id < $2
               order by id desc limit $3"#,
            webhook_id.as_str(),
            before,
            PAGE,
        )
        .fetch_all(&mut *conn)
        .await?;
        let full = page.len() as i64 == PAGE;
        for call in page {
            before = call.id;
            read += 1;
            if call.started_at < floor {
                return Ok(deliveries);
            }
            let (Some(trigger_id), false) = (call.trigger_id, call.aside) else {
                continue;
            };
            let delivery = deliveries.entry(trigger_id).or_insert_with(|| {
                // Seen newest call first: a success (a delivery's last call) is known at once.
                if call.started_at >= request.since && !(request.only_failed && call.success) {
                    counted += 1;
                }
                Delivery {
                    first_call: call.id,
                    started_at: call.started_at,
                    succeeded: false,
                    message_id: call.message_id,
                    began_before: false,
                }
            });
            delivery.first_call = delivery.first_call.min(call.id);
            delivery.started_at = delivery.started_at.min(call.started_at);
            delivery.succeeded |= call.success;
            delivery.began_before |= call.started_at < request.since;
            // Some of these may yet be passed over (see `settle_deliveries`): stop only when
            // even that could not bring them within the limit.
            if counted > 2 * MAX_DELIVERIES {
                return Err(ReplayError::Refused(Refusal::TooMany));
            }
        }
        if full && read >= MAX_CALLS_READ {
            return Err(ReplayError::Refused(Refusal::TooMany));
        }
        if !full {
            return Ok(deliveries);
        }
    }
}

/// The deliveries to send again, in their original order, and how many were left out because
/// their message is gone. Passes over deliveries that began before `since` (an inbound
/// message's earlier calls may lie past the calls read: its index tells), those whose trigger
/// is still pending or in flight (they are still being delivered) and, with `only_failed`,
/// those that got a successful call.
async fn settle_deliveries(
    conn: &mut PgConnection,
    webhook_id: &WebhookId,
    found: HashMap<i64, Delivery>,
    only_failed: bool,
) -> Result<(Vec<Delivery>, i64), ReplayError> {
    let mut candidates: Vec<(i64, Delivery)> = found
        .into_iter()
        .filter(|(_, d)| !(d.began_before || (only_failed && d.succeeded)))
        .collect();
    let triggers: Vec<i64> = candidates.iter().map(|(trigger, _)| *trigger).collect();
    let firsts: Vec<i64> = candidates.iter().map(|(_, d)| d.first_call).collect();
    let messages: Vec<Option<i64>> = candidates.iter().map(|(_, d)| d.message_id).collect();
    let began_earlier: HashSet<i64> = sqlx::query_scalar!(
        r#"select c.trigger_id as "trigger_id!"
           from unnest($1::bigint[], $2::bigint[], $3::bigint[]) as c(trigger_id, first_call, message_id)
           where c.message_id is not null
             and exists (select 1 from webhook_attempts a
                         where a.message_id = c.message_id and a.webhook_id = $4
                           and a.trigger_id = c.trigger_id and a.id < c.first_call)"#,
        &triggers,
        &firsts,
        &messages as &[Option<i64>],
        webhook_id.as_str(),
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect();
    let still_delivering: HashSet<i64> =
        sqlx::query_scalar!("select id from webhook_triggers where id = any($1)", &triggers)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .collect();
    let message_ids: Vec<i64> = messages.iter().flatten().copied().collect();
    let kept_messages: HashSet<i64> =
        sqlx::query_scalar!("select id from inbound_messages where id = any($1)", &message_ids)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .collect();
    candidates.retain(|(trigger, _)| !began_earlier.contains(trigger) && !still_delivering.contains(trigger));
    let before = candidates.len();
    candidates.retain(|(_, d)| d.message_id.is_none_or(|m| kept_messages.contains(&m)));
    let left_out = (before - candidates.len()) as i64;
    let mut replayable: Vec<Delivery> = candidates.into_iter().map(|(_, d)| d).collect();
    replayable.sort_by_key(|d| (d.started_at, d.first_call));
    Ok((replayable, left_out))
}
