//! What happens when a webhook fires: the in-process delivery task claims due triggers from
//! Postgres, signs and sends the calls ([`http`], [`payload`]), and records each attempt with
//! the statistics ([`store`]); retries and the endpoint policy are in [`policy`].
//!
//! All state is in Postgres, so a crash loses nothing and several processes can share the work:
//! a claim moves a trigger to `in_flight` under a lease (`FOR UPDATE SKIP LOCKED`), and a
//! unique index allows one call in flight per webhook. A process that dies gives its work
//! back within seconds ([`liveness`]); claims are fair across accounts and hosts
//! ([`fairness`]). The task wakes on `LISTEN/NOTIFY`; a slow poll is only a safety net.

pub mod body;
pub mod fairness;
pub mod http;
pub mod liveness;
pub mod payload;
pub mod policy;
pub mod request;
mod slots;
pub mod store;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rand::Rng;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinSet;

use self::fairness::{Caps, Load};
use self::http::HttpCaller;
use self::liveness::HEARTBEAT;
use self::slots::Slots;
use self::store::{Release, Success};
use self::worker::{Recorded, Worker};
use crate::config::Config;
use crate::events::CHANNEL;
use crate::telemetry::Telemetry;

/// Extra lease time beyond the request timeout, to record the attempt. The lease is only a
/// backstop: a dead process's work comes back through its [`liveness`].
const LEASE_GRACE: Duration = Duration::from_secs(30);
/// Under load, claim for at least this many free slots at once (or after 2 ms); no more than
/// half the slots.
const CLAIM_BATCH: i64 = 16;
/// A claim looks at no fewer than this many of the first due triggers; it looks further (8×
/// at a time) only when those are all passed over (busy, disabled, capped webhooks).
const CLAIM_WINDOW: i64 = 64;
/// Calls awaiting their recording, per slot: a call gives its slot back when it ends, so the
/// next calls start while the finished ones are recorded in batches; past this backlog (a slow
/// database), claims wait for the recordings. A call that turns slow gives back its place too
/// (slow calls have caps of their own), so hung endpoints never fill the backlog.
const RECORDING_BACKLOG: usize = 4;
/// After a claim that took every call it could, how long the task waits for new work before it
/// looks for the next retry's time (a retry or rate limit is that much late at most).
const SETTLE: Duration = Duration::from_millis(5);
/// Connections of the delivery pool opened at start and kept open: the listener, the
/// dispatcher (claims and idle waits) and the batch recorder each use one, and a lone event's
/// call should find them ready.
const WARM_CONNECTIONS: u32 = 4;
/// Calls recorded one by one at once, at most (failures, and successes a batch handed back):
/// the others wait for a turn with their trigger in flight. Each takes a connection, so this,
/// not the concurrency, sizes the delivery pool: several processes stay within the database's
/// connections while all their calls fail.
const ONE_BY_ONE_RECORDINGS: usize = 16;
/// How long a graceful shutdown waits for calls in flight before releasing them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A running delivery task; [`DeliveryTask::shutdown`] stops it gracefully.
pub struct DeliveryTask {
    stop: watch::Sender<bool>,
    handle: tokio::task::JoinHandle<()>,
}

impl DeliveryTask {
    /// Starts the task; `caller` is the portal's one HTTP client (shared with validation calls),
    /// `telemetry` counts the calls for `/metrics`.
    pub fn spawn(
        pool: PgPool,
        config: Arc<Config>,
        caller: Arc<HttpCaller>,
        telemetry: Arc<Telemetry>,
    ) -> DeliveryTask {
        // Every statement of the delivery task finds its rows through an index (the due order,
        // the in-flight and primary keys). Without statistics (a new database) or with small
        // tables the planner would rather read whole tables and hash them, on every claim and
        // every batch; here it may not while an index serves. For the same reason each
        // statement is planned once per connection (a generic plan): planning the claim and the
        // batch recording anew for each set of values cost more than running them.
        let options = (*pool.connect_options()).clone().options([
            ("synchronous_commit", "off"),
            ("enable_seqscan", "off"),
            ("enable_bitmapscan", "off"),
            ("plan_cache_mode", "force_generic_plan"),
        ]);
        let pool = sqlx::postgres::PgPoolOptions::new()
            // The recordings one by one, and the listener, the dispatcher (claims and waits),
            // the batch recorder and one spare.
            .max_connections(one_by_one_recordings(&config) as u32 + 4)
            .min_connections(WARM_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy_with(options);
        let (stop, stopped) = watch::channel(false);
        let handle = tokio::spawn(run(pool, config, caller, telemetry, stopped));
        DeliveryTask { stop, handle }
    }

    /// Stops claiming, lets calls in flight finish (up to a grace period), releases the rest.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.handle.await;
    }
}

async fn run(
    pool: PgPool,
    config: Arc<Config>,
    caller: Arc<HttpCaller>,
    telemetry: Arc<Telemetry>,
    mut stopped: watch::Receiver<bool>,
) {
    let wake = Arc::new(Notify::new());
    let id = rand::thread_rng().gen_range(1..i64::MAX);
    let (recorder, batches) = tokio::sync::mpsc::channel(config.delivery.concurrency * RECORDING_BACKLOG);
    tokio::spawn(record_in_batches(pool.clone(), id, batches));
    // The heartbeat outlives the dispatcher: calls finishing during shutdown stay covered. It
    // and the release of abandoned work have connections of their own: a dead peer's work
    // comes back even while every delivery connection is busy.
    let (stop_heartbeat, heartbeat_stopped) = watch::channel(false);
    let upkeep = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(liveness::LIVENESS)
        .connect_lazy_with((*pool.connect_options()).clone());
    let liveness = liveness::start(upkeep.clone(), id, heartbeat_stopped.clone()).await;
    let caps = Caps::for_concurrency(config.delivery.concurrency);
    let single_records = Semaphore::new(one_by_one_recordings(&config));
    let worker = Arc::new(Worker {
        id,
        pool,
        recorder,
        wake: wake.clone(),
        api_url: config.api_url(),
        slots: Slots::new(config.delivery.concurrency),
        config,
        caller,
        telemetry,
        load: Load::new(caps),
        liveness,
        stopped_claims: std::sync::Mutex::default(),
        single_records,
    });
    tokio::spawn(warm_up(worker.clone(), caps, lease_of(&worker)));
    let listener = tokio::spawn(listen(worker.pool.clone(), wake.clone()));
    let releaser = tokio::spawn(release_abandoned(worker.clone(), upkeep, heartbeat_stopped));
    let slots = worker.slots.clone();
    let backlog = Arc::new(Semaphore::new(worker.config.delivery.concurrency * RECORDING_BACKLOG));
    let mut in_flight: JoinSet<()> = JoinSet::new();
    let lease = lease_of(&worker);
    let mut claim_failures: u32 = 0;
    let mut window = CLAIM_WINDOW;
    let concurrency = worker.config.delivery.concurrency;
    // Whether the last claim took as many calls as it asked for (more work is likely waiting).
    let mut saturated = false;
    let claim_batch = (concurrency as i64 / 2).clamp(1, CLAIM_BATCH);
    tracing::info!(
        worker = worker.id,
        concurrency = worker.config.delivery.concurrency,
        "delivery task started"
    );

    loop {
        if *stopped.borrow() {
            break;
        }
        while in_flight.try_join_next().is_some() {}
        if !worker.liveness.is_current() {
            // Others may be taking this process's work over: claim nothing until it is alive again.
            tokio::select! {
                _ = tokio::time::sleep(HEARTBEAT) => {},
                _ = stopped.changed() => break,
            }
            continue;
        }
        // Wait until a call may be claimed (a slot is free, or calls have finished since the
        // last claim: as many are claimed ahead, while no call is slow) and the recording
        // backlog has room.
        let ahead_now = || slots.ahead(worker.load.any_slow());
        let ahead = ahead_now();
        if slots.wanted(ahead) == 0 {
            tokio::select! {
                _ = slots.changed() => continue,
                // A safety net: the slots wake the task whenever one frees.
                _ = tokio::time::sleep(Duration::from_millis(50)) => continue,
                _ = stopped.changed() => break,
            }
        }
        let first_recording = tokio::select! {
            permit = backlog.clone().acquire_owned() => match permit { Ok(p) => p, Err(_) => break },
            _ = stopped.changed() => break,
        };
        let free_now = || {
            let ahead = ahead_now();
            (slots.wanted(ahead).min(backlog.available_permits() + 1) as i64, ahead)
        };
        let (mut free, mut ahead) = free_now();
        if free < claim_batch && saturated && slots.busy() {
            // Busy (the last claim took all it asked for, and calls are running): let a few
            // more calls finish so that one claim serves several slots. A lone event is
            // claimed at once.
            tokio::time::sleep(Duration::from_millis(2)).await;
            (free, ahead) = free_now();
        }
        if free == 0 {
            drop(first_recording);
            continue;
        }
        slots.claiming();
        let load = worker.load.snapshot();
        let window_now = window.max(free * 4);
        let claim_caps = caps.with_ahead(ahead);
        let claimed = match store::claim(&worker.pool, worker.id, lease, free, window_now, claim_caps, &load).await {
            Ok(c) => c,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                // Another process claimed a trigger of the same webhook at the same moment.
                tracing::debug!(error = %e, "claim raced with another process; claiming again");
                drop(first_recording);
                continue;
            }
            Err(e) => {
                // The database is away: back off (0.25 s doubling to 5 s), then carry on.
                claim_failures += 1;
                let pause = Duration::from_millis(250 << claim_failures.min(5)).min(Duration::from_secs(5));
                tracing::error!(error = %e, failures = claim_failures, pause_ms = pause.as_millis() as u64, "claiming triggers failed");
                drop(first_recording);
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {},
                    _ = stopped.changed() => break,
                }
                continue;
            }
        };
        if claim_failures > 0 {
            tracing::info!(failures = claim_failures, "claiming triggers works again");
            claim_failures = 0;
        }
        saturated = claimed.len() as i64 >= free;
        if claimed.is_empty() {
            drop(first_recording);
        } else {
            // Fewer than asked for, out of a full window: the rest may lie beyond it.
            let looked_at = claimed.first().map_or(window_now, |c| c.looked_at);
            let beyond = (claimed.len() as i64) < free && looked_at >= window_now;
            window = next_window(window_now, looked_at, beyond);
            let mut first_recording = Some(first_recording);
            for job in claimed {
                // Cannot wait (we claimed no more than had room), but would if it had to.
                let Some(recording) = take_or_acquire(&mut first_recording, &backlog).await else {
                    break;
                };
                let counted = worker
                    .load
                    .start(job.account_id.as_str(), job.endpoint_host.as_deref().unwrap_or(""));
                slots.claimed();
                let worker = worker.clone();
                in_flight.spawn(async move {
                    worker.deliver(job, recording, counted).await;
                });
            }
            if saturated || looked_at > store::candidates_for(free) {
                // More may be claimable at once.
                continue;
            }
            // Every due call that could be made was claimed (fewer than asked for, and every
            // due trigger was a candidate): claiming again now would find nothing. A new event
            // or a finished call usually comes first, so the next retry's time is asked for
            // only after a moment, and meanwhile a lone event's call has the machine to itself.
            tokio::select! {
                _ = wake.notified() => continue,
                _ = tokio::time::sleep(SETTLE) => {},
                _ = stopped.changed() => break,
            }
        }
        match wait_for_work(&worker, caps, window_now, &mut stopped).await {
            Waited::Stopped => break,
            Waited::Beyond => window = next_window(window, window_now, true),
            Waited::Woken => {}
        }
    }

    // Graceful stop: no new claims; let calls finish, then give back what is left.
    listener.abort();
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async { while in_flight.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        in_flight.abort_all();
        while in_flight.join_next().await.is_some() {}
    }
    match store::release(&worker.pool, Release::Own { me: worker.id }).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(count = n, "released unfinished triggers for other processes"),
        Err(e) => {
            tracing::error!(error = %e, "releasing triggers at shutdown failed (they come back when this process's liveness runs out)")
        }
    }
    let _ = stop_heartbeat.send(true);
    let _ = releaser.await;
    if let Err(e) = store::forget_worker(&worker.pool, worker.id).await {
        tracing::warn!(error = %e, "could not remove this process's liveness row");
    }
    tracing::info!("delivery task stopped");
}

/// How [`wait_for_work`] ended.
enum Waited {
    /// New work may be there: claim.
    Woken,
    /// Due work lies beyond the claim's window: claim again at once, looking further.
    Beyond,
    Stopped,
}

/// After a claim that took every call it could (or none): waits until the next pending trigger
/// may be called (a retry falling due, a rate limit passing), a notification of new work or a
/// finished call, or the poll interval. When work is due now but was passed over, it is either
/// beyond the claim's window (`Beyond`) or waiting for busy webhooks, accounts or hosts (a
/// finished call wakes the task; 50 ms at most).
async fn wait_for_work(worker: &Worker, caps: Caps, window: i64, stopped: &mut watch::Receiver<bool>) -> Waited {
    let poll = worker.config.delivery.poll_interval;
    let wait = match store::next_due(&worker.pool, caps, &worker.load.snapshot()).await {
        Ok(Some(due)) => (due - Utc::now()).to_std().unwrap_or(Duration::ZERO).min(poll),
        _ => poll,
    };
    let wait = if wait.is_zero() {
        if matches!(store::due_beyond(&worker.pool, window).await, Ok(true)) {
            return Waited::Beyond;
        }
        Duration::from_millis(50)
    } else {
        wait
    };
    tokio::select! {
        _ = worker.wake.notified() => Waited::Woken,
        _ = tokio::time::sleep(wait) => Waited::Woken,
        _ = stopped.changed() => Waited::Stopped,
    }
}

/// How many calls may be recorded one by one at once: one per slot, up to
/// [`ONE_BY_ONE_RECORDINGS`].
fn one_by_one_recordings(config: &Config) -> usize {
    config.delivery.concurrency.clamp(1, ONE_BY_ONE_RECORDINGS)
}

/// How long a claim holds its trigger: the request timeout and time to record the call.
fn lease_of(worker: &Worker) -> Duration {
    worker.config.delivery.request_timeout + LEASE_GRACE
}

/// Opens [`WARM_CONNECTIONS`] connections of the delivery pool (they stay in it, idle) and
/// plans the claim, the wait and the batch record on each: the first calls after a start then
/// pay for neither (planning the claim alone takes milliseconds). Each statement runs with
/// nothing to take or record.
async fn warm_up(worker: Arc<Worker>, caps: Caps, lease: Duration) {
    let mut held = Vec::new();
    for _ in 0..WARM_CONNECTIONS {
        let Ok(mut conn) = worker.pool.acquire().await else {
            // The database is away: the calls connect when it is back.
            return;
        };
        let idle = Load::new(caps).snapshot();
        let planned = async {
            store::claim(&mut *conn, worker.id, lease, 0, 1, caps, &idle).await?;
            store::next_due(&mut *conn, caps, &idle).await?;
            store::record_successes(&mut *conn, worker.id, &[]).await
        };
        if let Err(e) = planned.await {
            tracing::debug!(error = %e, "warming the delivery connections failed");
        }
        held.push(conn);
    }
}

/// The permit already held, else one from `semaphore` (waiting if need be; `None` once closed).
async fn take_or_acquire(
    held: &mut Option<tokio::sync::OwnedSemaphorePermit>,
    semaphore: &Arc<Semaphore>,
) -> Option<tokio::sync::OwnedSemaphorePermit> {
    match held.take() {
        Some(p) => Some(p),
        None => semaphore.clone().acquire_owned().await.ok(),
    }
}

/// The window of the next claim, after one that looked at the first `looked_at` due
/// triggers: 8× further when due work may lie `beyond` them; room for twice the due queue when
/// the whole of it fitted (so that a queue of passed-over triggers is walked once a claim, not
/// widened into again and again); otherwise shrinking back towards [`CLAIM_WINDOW`].
fn next_window(window: i64, looked_at: i64, beyond: bool) -> i64 {
    if beyond {
        (looked_at * 8).min(1 << 20)
    } else if looked_at < window {
        (looked_at * 2).clamp(CLAIM_WINDOW, window)
    } else {
        (window / 2).max(CLAIM_WINDOW)
    }
}

/// The tallies of recorded batches are added up this long after the first of them (one
/// statement for every batch since, each webhook and hour written once). Reads of the
/// statistics add whatever is waiting, so this delay never shows.
const TALLY_AFTER: Duration = Duration::from_millis(1000);

/// Records successful calls in batches: whatever is waiting when a write starts goes into it,
/// so under load one statement records many calls, and when idle each is written at once. The
/// batches' tallies are added to the statistics [`TALLY_AFTER`] the first of them.
async fn record_in_batches(pool: PgPool, worker: i64, mut incoming: tokio::sync::mpsc::Receiver<(Success, Recorded)>) {
    const MAX_BATCH: usize = 128;
    // When the waiting tallies are to be added, if any are waiting.
    let mut tally_at: Option<tokio::time::Instant> = None;
    loop {
        let next = match tally_at {
            Some(at) => match tokio::time::timeout_at(at, incoming.recv()).await {
                Ok(next) => next,
                Err(_) => {
                    tally_at = add_tallies(&pool).await;
                    continue;
                }
            },
            None => incoming.recv().await,
        };
        let Some(first) = next else { break };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match incoming.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let (rows, waiters): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        match store::record_successes(&pool, worker, &rows).await {
            Ok(()) => {
                tally_at.get_or_insert_with(|| tokio::time::Instant::now() + TALLY_AFTER);
                for waiter in waiters {
                    let _ = waiter.send(Ok(()));
                }
            }
            Err(e) => {
                // Each caller then records its own call, with retries.
                tracing::warn!(error = %e, calls = rows.len(), "batch record failed; recording one by one");
                for (row, waiter) in rows.into_iter().zip(waiters) {
                    let _ = waiter.send(Err(row));
                }
            }
        }
        // Under steady load the next batch is always waiting, so the wait above never times
        // out: the time is checked here too.
        if tally_at.is_some_and(|at| tokio::time::Instant::now() >= at) {
            tally_at = add_tallies(&pool).await;
        }
    }
    if tally_at.is_some() {
        add_tallies(&pool).await;
    }
}

/// Adds the waiting tallies to the statistics; if that fails, when to try again.
async fn add_tallies(pool: &PgPool) -> Option<tokio::time::Instant> {
    match store::add_tallies(pool).await {
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "adding recorded calls to the statistics failed; trying again");
            Some(tokio::time::Instant::now() + TALLY_AFTER)
        }
    }
}

/// Every heartbeat, gives back the work of processes that stopped answering, and this
/// process's own claims whose calls it stopped; ends with `stopped`.
async fn release_abandoned(worker: Arc<Worker>, pool: PgPool, mut stopped: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(HEARTBEAT);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {},
            _ = stopped.changed() => return,
        }
        match store::release(&pool, Release::Abandoned { me: worker.id }).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(count = n, "released triggers whose process stopped answering"),
            Err(e) => tracing::error!(error = %e, "releasing abandoned triggers failed"),
        }
        let claims: Vec<_> = worker.stopped_claims.lock().map(|c| c.clone()).unwrap_or_default();
        if !claims.is_empty() && worker.liveness.is_current() {
            match store::release(
                &pool,
                Release::Claims {
                    me: worker.id,
                    claims: &claims,
                },
            )
            .await
            {
                Ok(_) => {
                    if let Ok(mut c) = worker.stopped_claims.lock() {
                        c.retain(|claim| !claims.contains(claim));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "giving back stopped calls failed; trying again"),
            }
        }
    }
}

/// Wakes the dispatcher on every notification; reconnects by itself.
async fn listen(pool: PgPool, wake: Arc<Notify>) {
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "LISTEN connection failed; polling meanwhile");
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(CHANNEL).await {
            tracing::warn!(error = %e, "LISTEN failed; polling meanwhile");
            tokio::time::sleep(Duration::from_secs(2)).await;
            continue;
        }
        // Something may have become due while we were not listening.
        wake.notify_one();
        loop {
            match listener.recv().await {
                Ok(_) => wake.notify_one(),
                Err(e) => {
                    tracing::warn!(error = %e, "LISTEN connection lost; reconnecting");
                    break;
                }
            }
        }
    }
}
