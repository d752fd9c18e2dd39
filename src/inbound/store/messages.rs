//! The SQL of inbound messages: storing an accepted call with its body, the pages' recent
//! messages, the backlog, the answer a waiting caller gets, and the body the API serves.

use sqlx::types::Json;
use sqlx::PgPool;

use crate::domain::ErrorKind;
use crate::ids::{AccountId, TriggerId, WebhookId};
use crate::inbound::{BodyFacts, Message, PREVIEW_BYTES};

/// The trigger's latest messages, for its page: each body's size, digest and kind and, for
/// a text body, its first [`PREVIEW_BYTES`] bytes (never the rest).
pub async fn messages(pool: &PgPool, trigger_id: &TriggerId, limit: i64) -> Result<Vec<Message>, sqlx::Error> {
    sqlx::query_as!(
        Message,
        r#"select m.id, m.method, m.query, m.content_type, m.body_size, m.body_sha256, m.body_is_text,
                  case when m.body_is_text then substring(m.body_bytes from 1 for $3) end as body_head,
                  m.webhooks, m.received_at,
                  k.label as "key_label?", a.calls as "calls!", a.successes as "successes!"
           from inbound_messages m left join inbound_trigger_keys k on k.id = m.key_id,
                lateral (select count(*) as calls, count(*) filter (where success) as successes
                         from webhook_attempts where message_id = m.id) a
           where m.trigger_id = $1 order by m.id desc limit $2"#,
        trigger_id.as_str(),
        limit,
        PREVIEW_BYTES,
    )
    .fetch_all(pool)
    .await
}

/// How many of the trigger's messages still wait for delivery, counting up to `max`
/// (messages, not message × webhook deliveries). A replay of old messages is bounded on its
/// own and does not hold up new calls.
pub async fn backlog(pool: &PgPool, trigger_id: &TriggerId, max: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select count(*) as "count!" from (select distinct t.message_id from webhook_triggers t
                                            join inbound_messages m on m.id = t.message_id
                                            where m.trigger_id = $1 and t.replay_of is null
                                            limit $2) backlog"#,
        trigger_id.as_str(),
        max
    )
    .fetch_one(pool)
    .await
}

/// An accepted call, to store as a message.
pub struct NewMessage<'a> {
    pub trigger_id: &'a TriggerId,
    pub account_id: &'a AccountId,
    /// `None` for a call of an open trigger made without a key.
    pub key_id: Option<i64>,
    /// The call's HTTP method, as sent.
    pub method: &'a str,
    pub query: serde_json::Value,
    pub content_type: Option<String>,
    /// The body as received (empty: none) and what it is.
    pub body: &'a [u8],
    pub facts: &'a BodyFacts,
    /// The text the call carries inline, if any.
    pub inline: Option<String>,
}

/// Stores a message in the caller's transaction. The trigger's row is locked first: concurrent
/// calls are numbered, recorded and committed one after the other, so message order (and the
/// order of their triggers) is arrival order.
pub async fn insert_message(conn: &mut sqlx::PgConnection, m: &NewMessage<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query!(
        "update inbound_triggers set messages = messages + 1, last_message_at = now() where id = $1",
        m.trigger_id.as_str()
    )
    .execute(&mut *conn)
    .await?;
    let has_body = !m.body.is_empty();
    sqlx::query_scalar!(
        "insert into inbound_messages (trigger_id, account_id, key_id, method, query, content_type, body,
                                       body_bytes, body_size, body_sha256, body_is_text)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning id",
        m.trigger_id.as_str(),
        m.account_id.as_str(),
        m.key_id,
        m.method,
        m.query,
        m.content_type.as_deref(),
        m.inline.as_deref(),
        has_body.then_some(m.body),
        i32::try_from(m.body.len()).unwrap_or(i32::MAX),
        has_body.then_some(m.facts.sha256.as_str()),
        has_body && m.facts.is_text,
    )
    .fetch_one(conn)
    .await
}

/// Notes how many webhooks a message is delivered to.
pub async fn set_message_webhooks(
    conn: &mut sqlx::PgConnection,
    message_id: i64,
    webhooks: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update inbound_messages set webhooks = $2 where id = $1",
        message_id,
        webhooks
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The answer of the first call made for a message, for a caller waiting for it.
pub struct Answer {
    pub webhook_id: WebhookId,
    pub success: bool,
    pub status_code: Option<i32>,
    /// Only the kind (timeout, refused…): the detail may name internal addresses.
    pub error_kind: Option<ErrorKind>,
    pub response_headers: Json<Vec<(String, String)>>,
    pub response_body: Option<String>,
}

pub async fn first_answer(pool: &PgPool, message_id: i64) -> Result<Option<Answer>, sqlx::Error> {
    sqlx::query_as!(
        Answer,
        r#"select webhook_id as "webhook_id: WebhookId", success, status_code,
                  error_kind as "error_kind: ErrorKind",
                  response_headers as "response_headers: Json<Vec<(String, String)>>", response_body
           from webhook_attempts where message_id = $1 order by id limit 1"#,
        message_id
    )
    .fetch_optional(pool)
    .await
}

/// A message's body as the API serves it.
pub struct StoredBody {
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
    pub sha256: Option<String>,
}

/// The body of a message of the account (`None` for another account's or a missing one).
pub async fn message_body(
    pool: &PgPool,
    account_id: &AccountId,
    message_id: i64,
) -> Result<Option<StoredBody>, sqlx::Error> {
    sqlx::query_as!(
        StoredBody,
        r#"select content_type, coalesce(body_bytes, '') as "bytes!", body_sha256 as sha256
           from inbound_messages where id = $1 and account_id = $2"#,
        message_id,
        account_id.as_str(),
    )
    .fetch_optional(pool)
    .await
}

/// The body of a message delivered to the webhook: its trigger (pending or in flight) or one
/// of its calls names the message. For a handler presenting the call's own token.
pub async fn delivered_body(
    pool: &PgPool,
    webhook_id: &WebhookId,
    message_id: i64,
) -> Result<Option<StoredBody>, sqlx::Error> {
    sqlx::query_as!(
        StoredBody,
        r#"select m.content_type, coalesce(m.body_bytes, '') as "bytes!", m.body_sha256 as sha256
           from inbound_messages m
           where m.id = $2
             and (exists (select 1 from webhook_triggers t where t.message_id = m.id and t.webhook_id = $1)
                  or exists (select 1 from webhook_attempts a where a.message_id = m.id and a.webhook_id = $1))"#,
        webhook_id.as_str(),
        message_id,
    )
    .fetch_optional(pool)
    .await
}

/// The secrets (key id, secret) that verify a webhook's tokens now, to check a token a
/// handler presents: the current one and, during a rotation's grace period, the previous.
pub async fn webhook_keys(pool: &PgPool, webhook_id: &WebhookId) -> Result<Vec<(String, String)>, sqlx::Error> {
    let row = sqlx::query!(
        r#"select jwt_kid, jwt_secret,
                  case when previous_secret_until > now() then previous_jwt_kid end as previous_kid,
                  case when previous_secret_until > now() then previous_jwt_secret end as previous_secret
           from webhooks where id = $1"#,
        webhook_id.as_str()
    )
    .fetch_optional(pool)
    .await?;
    Ok(row
        .map(|r| {
            let mut keys = vec![(r.jwt_kid, r.jwt_secret)];
            if let (Some(kid), Some(secret)) = (r.previous_kid, r.previous_secret) {
                keys.push((kid, secret));
            }
            keys
        })
        .unwrap_or_default())
}

/// Removes the messages received before `cutoff` (with their bodies) that no call is pending
/// for any more, in batches; returns how many went.
pub async fn forget_messages_before(pool: &PgPool, cutoff: chrono::DateTime<chrono::Utc>) -> Result<u64, sqlx::Error> {
    crate::db::in_batches(|| async {
        sqlx::query!(
            "delete from inbound_messages where id in (
                 select m.id from inbound_messages m
                 where m.received_at < $1
                   and not exists (select 1 from webhook_triggers t where t.message_id = m.id)
                 order by m.received_at
                 limit $2)",
            cutoff,
            crate::db::BATCH,
        )
        .execute(pool)
        .await
        .map(|done| done.rows_affected())
    })
    .await
}
