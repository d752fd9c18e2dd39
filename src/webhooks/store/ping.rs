//! Test pings: asking for one, recording its answer (a test call: no statistics, no retry),
//! and what the details page shows of the latest.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::PgPool;

use crate::delivery::http::CallResult;
use crate::domain::{ErrorKind, HttpMethod};
use crate::ids::{AccountId, UserId, WebhookId};

/// Notes that a ping was asked for `at`; false when the webhook is not the account's.
pub async fn request_ping(
    pool: &PgPool,
    account_id: &AccountId,
    id: &WebhookId,
    at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "update webhooks set ping_requested_at = $3 where account_id = $1 and id = $2",
        account_id.as_str(),
        id.as_str(),
        at,
    )
    .execute(pool)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// What was sent, for the record.
pub struct SentPing<'a> {
    pub method: HttpMethod,
    pub url: &'a str,
    pub body: Option<&'a str>,
    pub started_at: DateTime<Utc>,
}

/// Records the ping's answer as a test call; a failed ping disables the webhook (by `user`).
/// Returns whether this ping disabled it.
pub async fn record_ping(
    pool: &PgPool,
    id: &WebhookId,
    user: &UserId,
    sent: &SentPing<'_>,
    result: &CallResult,
    refusal: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let success = refusal.is_none();
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "insert into webhook_attempts (webhook_id, manual, test, started_at, duration_ms, success, status_code,
             error_kind, error, request_method, request_url, request_headers, request_body, response_headers,
             response_body, response_truncated)
         values ($1, true, true, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        id.as_str(),
        sent.started_at,
        result.duration.as_millis().min(i32::MAX as u128) as i32,
        success,
        result.status_code.map(i32::from),
        result.error_kind.or((!success).then_some(ErrorKind::Http)) as Option<ErrorKind>,
        refusal,
        sent.method as HttpMethod,
        sent.url,
        Json(&result.request_headers) as _,
        sent.body,
        Json(&result.response_headers) as _,
        result.response_body.as_deref(),
        result.response_truncated,
    )
    .execute(&mut *tx)
    .await?;
    let disabled = if success {
        false
    } else {
        sqlx::query!(
            "update webhooks set active = false, modified_at = now(), modified_by = $2 where id = $1 and active",
            id.as_str(),
            user.as_str(),
        )
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1
    };
    tx.commit().await?;
    Ok(disabled)
}

/// The latest test ping of a webhook, as the details page shows it.
pub struct PingStatus {
    /// Asked for and not answered yet.
    pub pending: bool,
    pub attempt_id: Option<i64>,
    pub started_at: Option<DateTime<Utc>>,
    pub success: bool,
    pub status_code: Option<i32>,
    pub duration_ms: i32,
    pub error: Option<String>,
    pub response_body: Option<String>,
}

/// `None` when no ping was ever asked for.
pub async fn ping_status(pool: &PgPool, id: &WebhookId) -> Result<Option<PingStatus>, sqlx::Error> {
    let row = sqlx::query!(
        r#"select w.ping_requested_at, a.id as "attempt_id?", a.started_at as "started_at?",
                  a.success as "success?", a.status_code, a.duration_ms as "duration_ms?", a.error,
                  left(a.response_body, 300) as response_body
           from webhooks w
           left join lateral (select * from webhook_attempts t where t.webhook_id = w.id and t.test
                              order by t.id desc limit 1) a on true
           where w.id = $1"#,
        id.as_str(),
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|r| {
        let requested = r.ping_requested_at?;
        Some(PingStatus {
            pending: r.started_at.is_none_or(|at| at < requested),
            attempt_id: r.attempt_id,
            started_at: r.started_at,
            success: r.success.unwrap_or(false),
            status_code: r.status_code,
            duration_ms: r.duration_ms.unwrap_or(0),
            error: r.error,
            response_body: r.response_body,
        })
    }))
}
