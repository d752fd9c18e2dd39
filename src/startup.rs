//! Building and running the portal: database, seed, router, listener, shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::app::router;
use crate::config::Config;
use crate::db::{self, EmbeddedPostgres};
use crate::state::AppState;

pub struct Application {
    listener: TcpListener,
    /// `PORTAL_METRICS_ADDR`'s listener, serving only `/metrics`.
    metrics_listener: Option<TcpListener>,
    state: AppState,
    embedded: Option<EmbeddedPostgres>,
    session_cleanup: tokio::task::JoinHandle<()>,
    health_refresh: tokio::task::JoinHandle<()>,
}

impl Application {
    /// Opens the database (creating and migrating it), seeds an empty one and binds the
    /// listener, so that a port of 0 can be read back with [`Application::local_addr`].
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let database = db::open(&config).await?;
        if let Some(report) = crate::seed::seed_if_empty(&database.pool, &config).await? {
            println!("{}", report.banner(config.public_url.as_str()));
        }
        let listener = TcpListener::bind(config.bind_addr)
            .await
            .with_context(|| format!("binding BIND_ADDR {}", config.bind_addr))?;
        let metrics_listener = match config.metrics_addr {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("binding PORTAL_METRICS_ADDR {addr}"))?,
            ),
            None => None,
        };
        let mut config = config;
        if config.public_url.port_or_known_default() == Some(0) {
            // Tests bind port 0: make links and PUBLIC_URL point at the real port.
            let port = listener.local_addr()?.port();
            let _ = config.public_url.set_port(Some(port));
        }
        let state = AppState {
            caller: Arc::new(crate::delivery::http::HttpCaller::new(&config.delivery)?),
            pool: database.pool.clone(),
            config: Arc::new(config),
            telemetry: Arc::new(crate::telemetry::Telemetry::new()),
        };
        let health_refresh = tokio::spawn(refresh_health(database.pool.clone(), state.config.health_refresh));
        // Housekeeping and the notices' watcher run beside the server, and stop with it.
        let background = {
            let (pool, config) = (database.pool.clone(), state.config.clone());
            async move {
                tokio::join!(
                    housekeeping(pool.clone(), config.retention_days),
                    crate::notify::watch::run(pool, config)
                );
            }
        };
        let session_cleanup = tokio::spawn(background);
        Ok(Application {
            listener,
            metrics_listener,
            state,
            embedded: database.embedded,
            session_cleanup,
            health_refresh,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The address of the metrics listener, if `PORTAL_METRICS_ADDR` asked for one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    pub fn pool(&self) -> &PgPool {
        &self.state.pool
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Application {
            listener,
            metrics_listener,
            state,
            embedded,
            session_cleanup,
            health_refresh,
        } = self;
        tracing::info!(address = %listener.local_addr()?, public_url = %state.config.public_url, "webhook portal listening");
        let metrics_server = metrics_listener.map(|metrics_listener| {
            if let Ok(addr) = metrics_listener.local_addr() {
                tracing::info!(address = %addr, "metrics listening");
            }
            let app = crate::metrics::own_router(state.clone());
            tokio::spawn(async move {
                if let Err(e) = axum::serve(metrics_listener, app).await {
                    tracing::error!(error = %e, "the metrics listener stopped");
                }
            })
        });
        let delivery = if state.config.delivery.enabled {
            Some(crate::delivery::DeliveryTask::spawn(
                state.pool.clone(),
                state.config.clone(),
                state.caller.clone(),
                state.telemetry.clone(),
            ))
        } else {
            tracing::warn!("PORTAL_DELIVERY_ENABLED=false: this process makes no calls");
            None
        };
        let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
        if let Some(delivery) = delivery {
            delivery.shutdown().await;
        }
        session_cleanup.abort();
        health_refresh.abort();
        if let Some(server) = metrics_server {
            server.abort();
        }
        drop(embedded); // stops a private cluster, if one was started
        served.context("serving HTTP")
    }
}

/// Every minute: previous secrets whose grace period ended are destroyed. Every 5 minutes:
/// expired sessions, sign-in attempts older than a day, and calls, events and inbound messages
/// older than the retention period go.
async fn housekeeping(pool: PgPool, retention_days: u32) {
    use tower_sessions::ExpiredDeletion;
    let sessions = crate::auth::store::sessions::PostgresSessions::new(pool.clone());
    let mut ticks = tokio::time::interval(std::time::Duration::from_secs(60));
    let mut minute: u64 = 0;
    loop {
        ticks.tick().await;
        match crate::webhooks::store::secrets::destroy_expired(&pool, 1_000).await {
            Ok(0) => {}
            Ok(secrets) => tracing::info!(secrets, "previous secrets destroyed after their grace period"),
            Err(e) => tracing::warn!(error = %e, "destroying expired secrets failed"),
        }
        minute += 1;
        if minute % 5 != 1 {
            continue;
        }
        if let Err(e) = sessions.delete_expired().await {
            tracing::warn!(error = %e, "removing expired sessions failed");
        }
        if let Err(e) = crate::auth::throttle::forget_old(&pool).await {
            tracing::warn!(error = %e, "removing old sign-in attempts failed");
        }
        let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::from(retention_days));
        match crate::webhooks::store::retention::forget_before(&pool, cutoff).await {
            Ok(f) if f.attempts + f.events + f.hours > 0 => {
                tracing::info!(
                    attempts = f.attempts,
                    events = f.events,
                    hours = f.hours,
                    retention_days,
                    "old history removed"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "removing old history failed"),
        }
        match crate::inbound::store::forget_messages_before(&pool, cutoff).await {
            Ok(0) => {}
            Ok(messages) => tracing::info!(messages, retention_days, "old inbound messages removed"),
            Err(e) => tracing::warn!(error = %e, "removing old inbound messages failed"),
        }
    }
}

/// Every `interval`: each webhook's 24 h success rate, which the list sorts by, from the hourly
/// figures (one process at a time does it).
async fn refresh_health(pool: PgPool, interval: std::time::Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match crate::webhooks::store::health::refresh_rates(&pool, chrono::Utc::now()).await {
            Ok(Some(changed)) if changed > 0 => tracing::debug!(changed, "health rates refreshed"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "refreshing the health rates failed"),
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
