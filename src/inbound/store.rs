//! The SQL of inbound triggers: the triggers, their keys and their recent messages, each
//! scoped by account.

use sqlx::types::Json;
use sqlx::PgPool;

use super::{key_hash, key_hint, InboundTrigger, Key, Message, Settings, KEYS_MAX};
use crate::auth::CurrentUser;

const SELECT: &str = "select t.id, t.account_id, t.product_id, p.name as product_name, t.object_class, t.name,
        t.active, t.ordered, t.request_response, t.max_wait_seconds, t.query_params, t.messages,
        t.last_message_at
    from inbound_triggers t join products p on p.id = t.product_id";

pub async fn list(pool: &PgPool, account_id: &str) -> Result<Vec<InboundTrigger>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{SELECT} where t.account_id = $1 order by t.created_at desc, t.id desc"
    ))
    .bind(account_id)
    .fetch_all(pool)
    .await
}

/// A trigger of the account (`None` for another account's or a missing one).
pub async fn get(pool: &PgPool, account_id: &str, id: &str) -> Result<Option<InboundTrigger>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} where t.account_id = $1 and t.id = $2"))
        .bind(account_id)
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Any account's trigger, for the public endpoint.
pub async fn find(pool: &PgPool, id: &str) -> Result<Option<InboundTrigger>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} where t.id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub async fn create(pool: &PgPool, user: &CurrentUser, s: &Settings) -> Result<String, sqlx::Error> {
    loop {
        let id = crate::ids::random_id("IT", 3);
        let r = sqlx::query(
            "insert into inbound_triggers (id, account_id, product_id, object_class, name, ordered, request_response,
                 max_wait_seconds, query_params, created_by)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&id)
        .bind(&user.account_id)
        .bind(&s.product_id)
        .bind(&s.object_class)
        .bind(&s.name)
        .bind(s.ordered)
        .bind(s.request_response)
        .bind(s.max_wait_seconds)
        .bind(Json(&s.query_params))
        .bind(&user.id)
        .execute(pool)
        .await;
        match r {
            Ok(_) => return Ok(id),
            Err(sqlx::Error::Database(e)) if e.constraint() == Some("inbound_triggers_pkey") => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Updates the settings (the product and object class stay as created).
pub async fn update(pool: &PgPool, account_id: &str, id: &str, s: &Settings) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "update inbound_triggers set name = $3, ordered = $4, request_response = $5, max_wait_seconds = $6,
             query_params = $7, modified_at = now()
         where account_id = $1 and id = $2",
    )
    .bind(account_id)
    .bind(id)
    .bind(&s.name)
    .bind(s.ordered)
    .bind(s.request_response)
    .bind(s.max_wait_seconds)
    .bind(Json(&s.query_params))
    .execute(pool)
    .await?
    .rows_affected()
        == 1)
}

pub async fn set_active(pool: &PgPool, account_id: &str, id: &str, active: bool) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("update inbound_triggers set active = $3, modified_at = now() where account_id = $1 and id = $2")
            .bind(account_id)
            .bind(id)
            .bind(active)
            .execute(pool)
            .await?
            .rows_affected()
            == 1,
    )
}

pub async fn delete(pool: &PgPool, account_id: &str, id: &str) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("delete from inbound_triggers where account_id = $1 and id = $2")
            .bind(account_id)
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
            == 1,
    )
}

pub async fn keys(pool: &PgPool, trigger_id: &str) -> Result<Vec<Key>, sqlx::Error> {
    sqlx::query_as(
        "select id, label, key_hint, created_at, last_used_at from inbound_trigger_keys
         where trigger_id = $1 order by created_at, id",
    )
    .bind(trigger_id)
    .fetch_all(pool)
    .await
}

pub enum AddKey {
    Added,
    Duplicate,
    TooMany,
}

pub async fn add_key(pool: &PgPool, trigger_id: &str, label: &str, key: &str) -> Result<AddKey, sqlx::Error> {
    let mut tx = pool.begin().await?;
    // Serialise additions per trigger so the limit holds.
    sqlx::query("select 1 from inbound_triggers where id = $1 for update")
        .bind(trigger_id)
        .execute(&mut *tx)
        .await?;
    let count: i64 = sqlx::query_scalar("select count(*) from inbound_trigger_keys where trigger_id = $1")
        .bind(trigger_id)
        .fetch_one(&mut *tx)
        .await?;
    if count >= KEYS_MAX {
        return Ok(AddKey::TooMany);
    }
    let r = sqlx::query(
        "insert into inbound_trigger_keys (trigger_id, label, key_sha256, key_hint) values ($1, $2, $3, $4)
         on conflict (trigger_id, key_sha256) do nothing",
    )
    .bind(trigger_id)
    .bind(label)
    .bind(key_hash(key))
    .bind(key_hint(key))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(if r.rows_affected() == 1 {
        AddKey::Added
    } else {
        AddKey::Duplicate
    })
}

pub async fn relabel_key(pool: &PgPool, trigger_id: &str, key_id: i64, label: &str) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("update inbound_trigger_keys set label = $3 where trigger_id = $1 and id = $2")
            .bind(trigger_id)
            .bind(key_id)
            .bind(label)
            .execute(pool)
            .await?
            .rows_affected()
            == 1,
    )
}

pub async fn delete_key(pool: &PgPool, trigger_id: &str, key_id: i64) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("delete from inbound_trigger_keys where trigger_id = $1 and id = $2 returning label")
        .bind(trigger_id)
        .bind(key_id)
        .fetch_optional(pool)
        .await
}

pub async fn messages(pool: &PgPool, trigger_id: &str, limit: i64) -> Result<Vec<Message>, sqlx::Error> {
    sqlx::query_as(
        "select m.id, m.method, m.query, m.content_type, m.body, m.webhooks, m.received_at, k.label as key_label,
                a.calls, a.successes
         from inbound_messages m left join inbound_trigger_keys k on k.id = m.key_id,
              lateral (select count(*) as calls, count(*) filter (where success) as successes
                       from webhook_attempts where message_id = m.id) a
         where m.trigger_id = $1 order by m.id desc limit $2",
    )
    .bind(trigger_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Marks the key with this hash as used for the trigger; its id, if it is one of the trigger's.
pub async fn use_key(pool: &PgPool, trigger_id: &str, key_sha256: &[u8]) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "update inbound_trigger_keys set last_used_at = now() where trigger_id = $1 and key_sha256 = $2 returning id",
    )
    .bind(trigger_id)
    .bind(key_sha256)
    .fetch_optional(pool)
    .await
}

/// How many of the trigger's messages still wait for delivery, counting up to `max`
/// (messages, not message × webhook deliveries).
pub async fn backlog(pool: &PgPool, trigger_id: &str, max: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select count(*) from (select distinct t.message_id from webhook_triggers t
                               join inbound_messages m on m.id = t.message_id
                               where m.trigger_id = $1 limit $2) backlog",
    )
    .bind(trigger_id)
    .bind(max)
    .fetch_one(pool)
    .await
}

/// An accepted call, to store as a message.
pub struct NewMessage<'a> {
    pub trigger_id: &'a str,
    pub key_id: i64,
    pub method: &'a str,
    pub query: serde_json::Value,
    pub content_type: Option<String>,
    pub body: Option<String>,
}

/// Stores a message in the caller's transaction. The trigger's row is locked first: concurrent
/// calls are numbered, recorded and committed one after the other, so message order (and the
/// order of their triggers) is arrival order.
pub async fn insert_message(conn: &mut sqlx::PgConnection, m: &NewMessage<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query("update inbound_triggers set messages = messages + 1, last_message_at = now() where id = $1")
        .bind(m.trigger_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query_scalar(
        "insert into inbound_messages (trigger_id, key_id, method, query, content_type, body)
         values ($1, $2, $3, $4, $5, $6) returning id",
    )
    .bind(m.trigger_id)
    .bind(m.key_id)
    .bind(m.method)
    .bind(Json(&m.query))
    .bind(&m.content_type)
    .bind(&m.body)
    .fetch_one(conn)
    .await
}

/// Notes how many webhooks a message is delivered to.
pub async fn set_message_webhooks(
    conn: &mut sqlx::PgConnection,
    message_id: i64,
    webhooks: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query("update inbound_messages set webhooks = $2 where id = $1")
        .bind(message_id)
        .bind(webhooks)
        .execute(conn)
        .await?;
    Ok(())
}

/// The answer of the first call made for a message, for a caller waiting for it.
#[derive(sqlx::FromRow)]
pub struct Answer {
    pub webhook_id: String,
    pub success: bool,
    pub status_code: Option<i32>,
    /// Only the kind (timeout, refused…): the detail may name internal addresses.
    pub error_kind: Option<String>,
    pub response_headers: Json<Vec<(String, String)>>,
    pub response_body: Option<String>,
}

pub async fn first_answer(pool: &PgPool, message_id: i64) -> Result<Option<Answer>, sqlx::Error> {
    sqlx::query_as(
        "select webhook_id, success, status_code, error_kind, response_headers, response_body
         from webhook_attempts where message_id = $1 order by id limit 1",
    )
    .bind(message_id)
    .fetch_optional(pool)
    .await
}
