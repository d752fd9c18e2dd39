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
