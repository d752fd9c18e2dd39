//! The notices' SQL: finding what changed (each kind one statement that updates the webhook's
//! `alert_state` and inserts the notice together), the pages' reads, and the e-mail outbox.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::ids::{AccountId, UserId, WebhookId};

/// The most webhooks one statement reports on (the rest wait for the next round).
const ROUND: i64 = 500;

/// Reports webhooks that went out of order, started failing or recovered since the last round.
/// `email` is the new notices' e-mail state: `pending` with an SMTP server, else `skipped`.
/// Returns how many notices were made.
pub async fn check(pool: &PgPool, warn_after: i32, out_of_order_after: i32, email: &str) -> Result<u64, sqlx::Error> {
    let out_of_order = sqlx::query!(
        r#"with changed as (
               update webhooks w set alert_state = 'out_of_order', alerted_at = now()
               from (select id from webhooks
                     where failures_since_reset > 0 and out_of_order and alert_state <> 'out_of_order'
                     limit $1 for update skip locked) c
               where w.id = c.id
               returning w.account_id, w.id, w.label, w.failures_since_reset)
           insert into notifications (account_id, webhook_id, kind, title, body, email_state)
           select account_id, id, 'out_of_order', format('“%s” is out of order', label),
                  format('The last %s calls of “%s” failed, so automatic calls have stopped. Find the cause on its '
                         'Deliveries tab (each failed call says its likely cause), fix the handler, then press '
                         'Trigger now — a success resumes delivery — or enable the webhook again.',
                         failures_since_reset, label),
                  $2
           from changed"#,
        ROUND,
        email,
    )
    .execute(pool)
    .await?
    .rows_affected();
    let failing = sqlx::query!(
        r#"with changed as (
               update webhooks w set alert_state = 'failing', alerted_at = now()
               from (select id from webhooks
                     where failures_since_reset >= $1 and not out_of_order and alert_state = 'ok'
                     limit $2 for update skip locked) c
               where w.id = c.id and w.failures_since_reset > 0
               returning w.account_id, w.id, w.label, w.failures_since_reset)
           insert into notifications (account_id, webhook_id, kind, title, body, email_state)
           select account_id, id, 'failing', format('“%s” is failing', label),
                  format('The last %s calls of “%s” failed. Open its Deliveries tab to see why (each failed call '
                         'says its likely cause). The portal keeps retrying; after %s failures in a row it stops '
                         'calling (out of order).', failures_since_reset, label, $3::int),
                  $4
           from changed"#,
        warn_after,
        ROUND,
        out_of_order_after,
        email,
    )
    .execute(pool)
    .await?
    .rows_affected();
    let recovered = sqlx::query!(
        r#"with changed as (
               update webhooks w set alert_state = 'ok', alerted_at = now()
               from (select id from webhooks
                     where alert_state <> 'ok' and last_success_at > alerted_at
                     limit $1 for update skip locked) c
               where w.id = c.id
               returning w.account_id, w.id, w.label)
           insert into notifications (account_id, webhook_id, kind, title, body, email_state)
           select account_id, id, 'recovered', format('“%s” has recovered', label),
                  format('“%s” answered successfully again: calls are being delivered. Nothing more to do.', label),
                  $2
           from changed"#,
        ROUND,
        email,
    )
    .execute(pool)
    .await?
    .rows_affected();
    Ok(out_of_order + failing + recovered)
}

#[derive(Debug, Clone)]
pub struct Notice {
    pub id: i64,
    pub webhook_id: Option<WebhookId>,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub read: bool,
}

impl Notice {
    /// Where the notice sends the reader: the failing webhook's calls, or its statistics.
    pub fn href(&self) -> Option<String> {
        self.webhook_id.as_ref().map(|id| match self.kind.as_str() {
            "recovered" => format!("/webhooks/{id}/statistics"),
            _ => format!("/webhooks/{id}/deliveries"),
        })
    }
    pub fn chip(&self) -> (&'static str, &'static str) {
        match self.kind.as_str() {
            "recovered" => ("chip-on", "Recovered"),
            "out_of_order" => ("chip-bad", "Out of order"),
            _ => ("chip-warn", "Failing"),
        }
    }
}

pub const PAGE: i64 = 50;

/// The account's notices, newest first, with whether `user` read each; keyset paged.
pub async fn page(
    pool: &PgPool,
    account_id: &AccountId,
    user: &UserId,
    before: Option<i64>,
) -> Result<(Vec<Notice>, bool), sqlx::Error> {
    let mut rows = sqlx::query_as!(
        Notice,
        r#"select n.id, n.webhook_id as "webhook_id: WebhookId", n.kind, n.title, n.body, n.created_at,
                  exists (select 1 from notification_reads r where r.user_id = $2 and r.notification_id = n.id)
                      as "read!"
           from notifications n
           where n.account_id = $1 and n.id < coalesce($3, 9223372036854775807)
           order by n.id desc limit $4"#,
        account_id.as_str(),
        user.as_str(),
        before,
        PAGE + 1,
    )
    .fetch_all(pool)
    .await?;
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    Ok((rows, more))
}

/// Marks one notice of the account read by `user`; false if it is not the account's.
pub async fn mark_read(pool: &PgPool, account_id: &AccountId, user: &UserId, id: i64) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "insert into notification_reads (user_id, notification_id)
         select $2, id from notifications where account_id = $1 and id = $3
         on conflict do nothing",
        account_id.as_str(),
        user.as_str(),
        id,
    )
    .execute(pool)
    .await?;
    let exists = r.rows_affected() == 1
        || sqlx::query_scalar!(
            r#"select exists(select 1 from notifications where account_id = $1 and id = $2) as "e!""#,
            account_id.as_str(),
            id
        )
        .fetch_one(pool)
        .await?;
    Ok(exists)
}

/// Marks every notice of the last 30 days read by `user`.
pub async fn mark_all_read(pool: &PgPool, account_id: &AccountId, user: &UserId) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "insert into notification_reads (user_id, notification_id)
         select $2, id from notifications
         where account_id = $1 and created_at > now() - interval '30 days'
         on conflict do nothing",
        account_id.as_str(),
        user.as_str(),
    )
    .execute(pool)
    .await?
    .rows_affected())
}

/// A notice waiting for its e-mail, with who gets it.
pub struct Outgoing {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub webhook_id: Option<WebhookId>,
    pub kind: String,
    pub account_name: String,
    pub recipients: Vec<String>,
    pub tries: i32,
}

/// The oldest notices waiting for their e-mail (at most `limit`), locked for this sender
/// until `tx` ends: several processes never send one twice at once.
pub async fn pending_emails(tx: &mut sqlx::PgConnection, limit: i64) -> Result<Vec<Outgoing>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select n.id, n.title, n.body, n.webhook_id as "webhook_id: WebhookId", n.kind, n.email_tries,
                  a.name as account_name,
                  array(select u.email from users u
                        where u.account_id = n.account_id and u.can_edit_webhooks and u.deactivated_at is null
                          and u.password_hash is not null
                        order by u.email) as "recipients!"
           from notifications n join accounts a on a.id = n.account_id
           where n.email_state = 'pending'
           order by n.id limit $1
           for update of n skip locked"#,
        limit
    )
    .fetch_all(tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Outgoing {
            id: r.id,
            title: r.title,
            body: r.body,
            webhook_id: r.webhook_id,
            kind: r.kind,
            account_name: r.account_name,
            recipients: r.recipients,
            tries: r.email_tries,
        })
        .collect())
}

/// What became of a notice's e-mail.
pub async fn email_done(
    tx: &mut sqlx::PgConnection,
    id: i64,
    state: &str,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update notifications set email_state = $2, email_tries = email_tries + 1, email_error = $3 where id = $1",
        id,
        state,
        error,
    )
    .execute(tx)
    .await?;
    Ok(())
}
