//! Liveness of delivery processes, and giving back the work of those that stopped.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::events::CHANNEL;

/// Says this delivery process is alive until `liveness` from now.
pub async fn heartbeat(pool: &PgPool, worker: i64, liveness: Duration) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into delivery_workers (id, alive_until) values ($1, clock_timestamp() + make_interval(secs => $2))
         on conflict (id) do update set alive_until = excluded.alive_until",
        worker,
        liveness.as_secs_f64(),
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Forgets a process that stopped, and processes long dead.
pub async fn forget_worker(pool: &PgPool, worker: i64) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "delete from delivery_workers where id = $1 or alive_until < now() - interval '1 day'",
        worker,
    )
    .execute(pool)
    .await?;
    Ok(())
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
    let stale = sqlx::query!(
        "select t.id, t.webhook_id, t.manual, t.first_event_at, t.message_id, t.replay_of from webhook_triggers t
         where t.state = 'in_flight' and case
           when $3::bigint[] is not null then t.claimed_by = $1 and (t.id, t.claimed_until) in
                (select * from unnest($3::bigint[], $4::timestamptz[]))
           when $2 then t.claimed_by = $1
           else t.claimed_until < clock_timestamp()
                or (t.claimed_by <> $1 and exists (select 1 from delivery_workers d
                                                   where d.id = t.claimed_by and d.alive_until < clock_timestamp()))
         end
         for update of t skip locked",
        me,
        own,
        ids.as_deref(),
        leases.as_deref(),
    )
    .fetch_all(&mut *tx)
    .await?;
    for t in &stale {
        let (id, webhook_id, manual, first_event_at) = (t.id, &t.webhook_id, t.manual, t.first_event_at);
        // An inbound message or a replayed delivery keeps its own trigger; a queue change
        // merges into its successor.
        let merged = if t.message_id.is_some() || t.replay_of.is_some() {
            0
        } else {
            sqlx::query!(
                "update webhook_triggers set manual = manual or $2,
                     first_event_at = least(first_event_at, $3), due_at = least(due_at, clock_timestamp())
                 where webhook_id = $1 and state = 'pending' and message_id is null and replay_of is null",
                webhook_id,
                manual,
                first_event_at,
            )
            .execute(&mut *tx)
            .await?
            .rows_affected()
        };
        if merged > 0 {
            sqlx::query!("delete from webhook_triggers where id = $1", id,)
                .execute(&mut *tx)
                .await?;
        } else {
            sqlx::query!(
                "update webhook_triggers set state = 'pending', claimed_by = null, claimed_until = null,
                     due_at = clock_timestamp() where id = $1",
                id,
            )
            .execute(&mut *tx)
            .await?;
        }
    }
    if !stale.is_empty() {
        sqlx::query!("select pg_notify($1, '')", CHANNEL,)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(stale.len() as u64)
}
