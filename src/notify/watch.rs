//! The watcher: every `PORTAL_NOTIFY_POLL_MS` it reports what changed and sends the e-mails
//! waiting. Several portal processes may run it at once: rows are taken with `skip locked`.

use sqlx::PgPool;

use super::mail::Mailer;
use super::store;
use crate::config::Config;

/// Tries before an e-mail is given up (one try per round).
const EMAIL_TRIES: i32 = 5;

pub async fn run(pool: PgPool, config: std::sync::Arc<Config>) {
    let mailer = match &config.notify.smtp_url {
        Some(url) => match Mailer::new(url, &config.notify.smtp_from, config.public_url.as_str()) {
            Ok(m) => Some(m),
            Err(e) => {
                tracing::error!(error = %e, "PORTAL_SMTP_URL or PORTAL_SMTP_FROM is not usable: notices are in-app only");
                None
            }
        },
        None => None,
    };
    let email = if mailer.is_some() { "pending" } else { "skipped" };
    let mut ticks = tokio::time::interval(config.notify.poll);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match store::check(
            &pool,
            config.notify.warn_after,
            config.delivery.out_of_order_after,
            email,
        )
        .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(notices = n, "webhook notices made"),
            Err(e) => tracing::warn!(error = %e, "checking webhooks for notices failed"),
        }
        if let Some(mailer) = &mailer {
            if let Err(e) = send_pending(&pool, mailer).await {
                tracing::warn!(error = %e, "sending notice e-mails failed");
            }
        }
    }
}

async fn send_pending(pool: &PgPool, mailer: &Mailer) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    for notice in store::pending_emails(&mut tx, 20).await? {
        if notice.recipients.is_empty() {
            store::email_done(&mut tx, notice.id, "skipped", Some("nobody may edit webhooks")).await?;
            continue;
        }
        match mailer.send(&notice).await {
            Ok(()) => store::email_done(&mut tx, notice.id, "sent", None).await?,
            Err(e) => {
                let state = if notice.tries + 1 >= EMAIL_TRIES {
                    "failed"
                } else {
                    "pending"
                };
                tracing::warn!(notice = notice.id, error = %e, "a notice e-mail was not sent");
                store::email_done(&mut tx, notice.id, state, Some(&e.to_string())).await?;
            }
        }
    }
    tx.commit().await
}
