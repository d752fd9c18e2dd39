//! What the Statistics and Deliveries tabs show: whether a call is pending, the calls made,
//! and how many webhooks watch a queue.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::PgPool;

use crate::delivery::http::CallResult;
use crate::domain::{ErrorKind, HttpMethod, ObjectClass};
use crate::ids::{AccountId, ProductId, WebhookId};

/// How many queue-change webhooks of the account watch the product's queue: (enabled, all).
pub async fn watching_counts(
    pool: &PgPool,
    account_id: &AccountId,
    product_id: &ProductId,
    object_class: ObjectClass,
) -> Result<(i64, i64), sqlx::Error> {
    let counts = sqlx::query!(
        r#"select count(*) filter (where active) as "enabled!", count(*) as "all!" from webhooks
           where account_id = $1 and product_id = $2 and object_class = $3 and type = 'event'"#,
        account_id.as_str(),
        product_id.as_str(),
        object_class as ObjectClass,
    )
    .fetch_one(pool)
    .await?;
    Ok((counts.enabled, counts.all))
}

/// Whether a call is pending or in flight (or queued in a replay), and whether that is soon
/// (for the auto-refresh).
pub async fn delivery_busy(pool: &PgPool, webhook_id: &WebhookId) -> Result<Option<bool>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select bool_or(t.state = 'in_flight' or (t.state = 'pending' and t.due_at <= now() + interval '60 seconds'))
                  as "soon!"
           from webhook_triggers t join webhooks w on w.id = t.webhook_id
           where t.webhook_id = $1 and (t.state = 'in_flight' or (w.active and (t.manual or not w.out_of_order)))
           having count(*) > 0"#,
        webhook_id.as_str()
    )
    .fetch_optional(pool)
    .await
}

#[derive(Debug, Clone)]
pub struct Attempt {
    pub id: i64,
    pub manual: bool,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i32,
    pub success: bool,
    pub status_code: Option<i32>,
    pub error_kind: Option<ErrorKind>,
    pub error: Option<String>,
    pub request_method: String,
    pub request_url: String,
    pub request_headers: Json<Vec<(String, String)>>,
    pub request_body: Option<String>,
    pub response_headers: Json<Vec<(String, String)>>,
    pub response_body: Option<String>,
    pub response_truncated: bool,
    /// None for a validation call (made while someone waited, not from the queue).
    pub trigger_id: Option<i64>,
    pub message_id: Option<i64>,
    /// A test ping: listed, but counted in no statistics.
    pub test: bool,
    /// 0 for a trigger's first call; n for its n-th retry (see [`label_retries`]).
    pub retry: i32,
    /// The call this one repeats (Redeliver).
    pub redelivery_of: Option<i64>,
    /// The delivery this call replays: its first call's id (Replay).
    pub replay_of: Option<i64>,
}

impl Attempt {
    /// Why the call was made, when it was not an ordinary queue-change trigger.
    pub fn cause(&self) -> Option<String> {
        if self.test {
            Some("Test ping".to_string())
        } else if let Some(original) = self.redelivery_of {
            Some(format!("Redelivery of WHA-{original}"))
        } else if let Some(original) = self.replay_of {
            Some(format!("Replay of WHA-{original}"))
        } else if self.retry > 0 {
            Some(format!("Retry {}", self.retry))
        } else if self.trigger_id.is_none() {
            Some("Validation".to_string())
        } else if let Some(m) = self.message_id {
            Some(format!("Inbound message #{m}"))
        } else if self.manual {
            Some("Trigger now".to_string())
        } else {
            None
        }
    }

    /// The call this one makes again (a redelivery's or a replay's original), to link to.
    pub fn repeats(&self) -> Option<i64> {
        self.redelivery_of.or(self.replay_of)
    }

    pub fn error_kind_label(&self) -> &'static str {
        self.error_kind.map_or("", ErrorKind::label)
    }
    /// Whether Redeliver is offered: not for test pings (send a new one) nor for an inbound
    /// message's calls (their caller's message is theirs to send again).
    pub fn can_redeliver(&self) -> bool {
        !self.test && self.message_id.is_none()
    }
    /// The call as a curl command, to repeat it from a shell while fixing a handler. The token
    /// is not stored (it is redacted), so the command reads it from `$TOKEN`.
    pub fn curl(&self) -> String {
        crate::delivery::request::curl(
            &self.request_method,
            &self.request_url,
            &self.request_headers.0,
            self.request_body.as_deref(),
            false,
        )
    }
    pub fn pretty_request_body(&self) -> String {
        pretty(self.request_body.as_deref().unwrap_or(""))
    }
    pub fn pretty_response_body(&self) -> String {
        pretty(self.response_body.as_deref().unwrap_or(""))
    }
}

/// Pretty-prints JSON bodies; leaves anything else as it is.
fn pretty(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| body.to_string())
}

/// A page of attempts, newest first, before the attempt `before` (keyset on id). One query
/// per outcome, each walking the webhook's attempts newest first from its index (failures from
/// one of their own: a webhook that never fails has none to walk past). The plan is the generic
/// one: planned for a webhook's actual value, a busy webhook (half of all calls) looks cheaper to
/// find by walking every webhook's calls backwards, which under skew reads millions of rows.
pub async fn attempts(
    pool: &PgPool,
    webhook_id: &WebhookId,
    success: Option<bool>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Attempt>, sqlx::Error> {
    let before = before.unwrap_or(i64::MAX);
    let id = webhook_id;
    let webhook_id = webhook_id.as_str();
    let mut tx = pool.begin().await?;
    sqlx::query!("set local plan_cache_mode = force_generic_plan")
        .execute(&mut *tx)
        .await?;
    let page = match success {
        None => {
            sqlx::query_as!(
                Attempt,
                r#"select id, manual, started_at, duration_ms, success, status_code,
                      error_kind as "error_kind: ErrorKind", error, request_method, request_url,
                      request_headers as "request_headers: Json<Vec<(String, String)>>", request_body,
                      response_headers as "response_headers: Json<Vec<(String, String)>>", response_body,
                      response_truncated, trigger_id, message_id, test, 0::int4 as "retry!", redelivery_of,
                      replay_of
                   from webhook_attempts where webhook_id = $1 and id < $2
                   order by id desc limit $3"#,
                webhook_id,
                before,
                limit,
            )
            .fetch_all(&mut *tx)
            .await?
        }
        Some(true) => {
            sqlx::query_as!(
                Attempt,
                r#"select id, manual, started_at, duration_ms, success, status_code,
                      error_kind as "error_kind: ErrorKind", error, request_method, request_url,
                      request_headers as "request_headers: Json<Vec<(String, String)>>", request_body,
                      response_headers as "response_headers: Json<Vec<(String, String)>>", response_body,
                      response_truncated, trigger_id, message_id, test, 0::int4 as "retry!", redelivery_of,
                      replay_of
                   from webhook_attempts where webhook_id = $1 and id < $2 and success
                   order by id desc limit $3"#,
                webhook_id,
                before,
                limit,
            )
            .fetch_all(&mut *tx)
            .await?
        }
        Some(false) => {
            sqlx::query_as!(
                Attempt,
                r#"select id, manual, started_at, duration_ms, success, status_code,
                      error_kind as "error_kind: ErrorKind", error, request_method, request_url,
                      request_headers as "request_headers: Json<Vec<(String, String)>>", request_body,
                      response_headers as "response_headers: Json<Vec<(String, String)>>", response_body,
                      response_truncated, trigger_id, message_id, test, 0::int4 as "retry!", redelivery_of,
                      replay_of
                   from webhook_attempts where webhook_id = $1 and id < $2 and not success
                   order by id desc limit $3"#,
                webhook_id,
                before,
                limit,
            )
            .fetch_all(&mut *tx)
            .await?
        }
    };
    tx.commit().await?;
    let mut page = page;
    label_retries(pool, id, &mut page).await?;
    Ok(page)
}

/// How many of a webhook's calls before a page are read to number its retries.
const RETRY_LOOKBACK: i64 = 300;

/// Numbers the retries among `attempts` (calls of `webhook_id`): a queue call made after n
/// failed calls in a row is retry n. Test pings and validation calls stand aside; Trigger now
/// keeps its own label. Read from the webhook's calls just before (one index walk), so a call
/// whose run of failures began more than [`RETRY_LOOKBACK`] calls earlier gets no number.
pub async fn label_retries(pool: &PgPool, webhook_id: &WebhookId, attempts: &mut [Attempt]) -> Result<(), sqlx::Error> {
    let Some(newest) = attempts.iter().map(|a| a.id).max() else {
        return Ok(());
    };
    let history = sqlx::query!(
        r#"select id, success, (test or trigger_id is null) as "aside!" from webhook_attempts
           where webhook_id = $1 and id <= $2 order by id desc limit $3"#,
        webhook_id.as_str(),
        newest,
        attempts.len() as i64 + RETRY_LOOKBACK,
    )
    .fetch_all(pool)
    .await?;
    let mut failures_before = std::collections::HashMap::new();
    let mut streak = 0;
    for h in history.iter().rev().filter(|h| !h.aside) {
        failures_before.insert(h.id, streak);
        streak = if h.success { 0 } else { streak + 1 };
    }
    for a in attempts
        .iter_mut()
        .filter(|a| !a.test && !a.manual && a.trigger_id.is_some())
    {
        a.retry = failures_before.get(&a.id).copied().unwrap_or(0);
    }
    Ok(())
}

pub async fn attempt(pool: &PgPool, webhook_id: &WebhookId, attempt_id: i64) -> Result<Option<Attempt>, sqlx::Error> {
    sqlx::query_as!(
        Attempt,
        r#"select id, manual, started_at, duration_ms, success, status_code, error_kind as "error_kind: ErrorKind",
              error, request_method, request_url, request_headers as "request_headers: Json<Vec<(String, String)>>",
              request_body, response_headers as "response_headers: Json<Vec<(String, String)>>", response_body,
              response_truncated, trigger_id, message_id, test, 0::int4 as "retry!", redelivery_of, replay_of
           from webhook_attempts where webhook_id = $1 and id = $2"#,
        webhook_id.as_str(),
        attempt_id,
    )
    .fetch_optional(pool)
    .await
}

/// A summary of an attempt: its answer, for the API's `last_success` / `last_failure`.
pub struct AttemptInfo {
    pub id: i64,
    pub status_code: Option<i32>,
    pub duration_ms: i32,
    pub body: Option<String>,
    pub error: Option<String>,
}

/// The summaries of the attempts `ids` (any webhook's: the caller found the ids on its own).
pub async fn attempt_summaries(pool: &PgPool, ids: &[i64]) -> Result<Vec<AttemptInfo>, sqlx::Error> {
    sqlx::query_as!(
        AttemptInfo,
        "select id, status_code, duration_ms, response_body as body, error from webhook_attempts where id = any($1)",
        ids,
    )
    .fetch_all(pool)
    .await
}

/// A redelivery as sent, for the record.
pub struct Redelivery<'a> {
    pub original: i64,
    pub method: HttpMethod,
    pub url: &'a str,
    pub body: Option<&'a str>,
    pub started_at: DateTime<Utc>,
}

/// Records a redelivery: a call of its own, naming the one it repeats, in no statistics and
/// never retried. Returns its id.
pub async fn record_redelivery(
    pool: &PgPool,
    webhook_id: &WebhookId,
    sent: &Redelivery<'_>,
    result: &CallResult,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        "insert into webhook_attempts (webhook_id, manual, started_at, duration_ms, success, status_code, error_kind,
             error, request_method, request_url, request_headers, request_body, response_headers, response_body,
             response_truncated, redelivery_of)
         values ($1, true, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
         returning id",
        webhook_id.as_str(),
        sent.started_at,
        result.duration.as_millis().min(i32::MAX as u128) as i32,
        result.success,
        result.status_code.map(i32::from),
        result.error_kind.or((!result.success).then_some(ErrorKind::Http)) as Option<ErrorKind>,
        result.error.as_deref(),
        sent.method as HttpMethod,
        sent.url,
        Json(&result.request_headers) as _,
        sent.body,
        Json(&result.response_headers) as _,
        result.response_body.as_deref(),
        result.response_truncated,
        sent.original,
    )
    .fetch_one(pool)
    .await
}
