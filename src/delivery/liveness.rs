//! Each delivery process renews a liveness row every [`HEARTBEAT`]; the triggers held in
//! flight by a process whose liveness has run out are given back to the queue
//! ([`super::store::release`]). So a crashed process's work is free again within
//! [`LIVENESS`] plus one heartbeat, whatever the request timeout.
//!
//! A process that cannot renew its own liveness in time (it lost the database) must assume
//! others will take its work over: [`Liveness::lost`] tells its calls in flight to stop, so the
//! same call is never made twice at once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::watch;
use tokio::time::Instant;

/// How often a process says it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// How long a process counts as alive after saying so.
pub const LIVENESS: Duration = Duration::from_secs(15);
/// A process stops its calls this long before its liveness could run out in others' eyes.
const SAFETY_MARGIN: Duration = Duration::from_secs(4);
/// How often the process checks its own liveness.
const WATCHDOG: Duration = Duration::from_millis(250);

/// Whether this process's liveness is current (`true`) or may have run out (`false`).
#[derive(Clone)]
pub struct Liveness(watch::Receiver<bool>);

impl Liveness {
    pub fn is_current(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves when the liveness may have run out.
    pub async fn lost(&mut self) {
        if self.0.wait_for(|current| !*current).await.is_err() {
            // The heartbeat stopped with the process: never resolve.
            std::future::pending::<()>().await;
        }
    }
}

/// Says "alive" once, then keeps saying it on `pool` (a pool of its own, so that busy
/// delivery connections cannot delay it) until `stopped`.
pub async fn start(pool: PgPool, worker: i64, mut stopped: watch::Receiver<bool>) -> Liveness {
    let (tx, rx) = watch::channel(false);
    // When the latest renewal was sent: the row's expiry is at least this plus LIVENESS.
    let renewed_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    let sent = Instant::now();
    if super::store::heartbeat(&pool, worker, LIVENESS).await.is_ok() {
        set(&renewed_at, sent);
        let _ = tx.send(true);
    }
    let heartbeat_renewed = renewed_at.clone();
    let mut heartbeat_stopped = stopped.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(HEARTBEAT);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {},
                _ = heartbeat_stopped.changed() => break,
            }
            let sent = Instant::now();
            // A slow renewal still counts from when it was sent; the watchdog judges meanwhile.
            match tokio::time::timeout(LIVENESS, super::store::heartbeat(&pool, worker, LIVENESS)).await {
                Ok(Ok(())) => set(&heartbeat_renewed, sent),
                Ok(Err(e)) => tracing::warn!(error = %e, "delivery heartbeat failed"),
                Err(_) => tracing::warn!("delivery heartbeat timed out"),
            }
        }
    });
    // The watchdog judges on its own clock, so a heartbeat stuck in a slow statement cannot
    // delay the verdict.
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(WATCHDOG);
        loop {
            tokio::select! {
                _ = ticks.tick() => {},
                _ = stopped.changed() => break,
            }
            let current = renewed_at
                .lock()
                .map(|at| at.is_some_and(|at| at.elapsed() < LIVENESS - SAFETY_MARGIN))
                .unwrap_or(false);
            let changed = tx.send_if_modified(|c| std::mem::replace(c, current) != current);
            if changed && !current {
                tracing::error!("delivery liveness could not be renewed: stopping calls in flight");
            } else if changed {
                tracing::info!("delivery liveness renewed: claiming again");
            }
        }
    });
    Liveness(rx)
}

fn set(renewed_at: &Mutex<Option<Instant>>, sent: Instant) {
    if let Ok(mut at) = renewed_at.lock() {
        *at = Some(sent);
    }
}
