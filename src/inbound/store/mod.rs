//! The SQL of inbound triggers: the triggers and their keys, each scoped by account; the
//! messages' SQL is in [`messages`].

mod messages;

pub use self::messages::*;

use sqlx::types::Json;
use sqlx::PgPool;

use super::{key_hash, key_hint, InboundTrigger, Key, QueryParam, Settings, KEYS_MAX};
use crate::auth::CurrentUser;
use crate::domain::ObjectClass;
use crate::ids::{AccountId, ProductId, TriggerId};

pub async fn list(pool: &PgPool, account_id: &AccountId) -> Result<Vec<InboundTrigger>, sqlx::Error> {
    sqlx::query_as!(
        InboundTrigger,
        r#"select t.id as "id: TriggerId", t.account_id as "account_id: AccountId",
                  t.product_id as "product_id: ProductId", p.name as product_name,
                  t.object_class as "object_class: ObjectClass", t.name, t.path_name, t.active, t.open, t.ordered,
                  t.request_response,
                  t.max_wait_seconds, t.query_params as "query_params: Json<Vec<QueryParam>>", t.messages,
                  t.last_message_at
           from inbound_triggers t join products p on p.id = t.product_id
           where t.account_id = $1 order by t.created_at desc, t.id desc"#,
        account_id.as_str()
    )
    .fetch_all(pool)
    .await
}

/// A trigger of the account (`None` for another account's or a missing one).
pub async fn get(
    db: impl sqlx::PgExecutor<'_>,
    account_id: &AccountId,
    id: &TriggerId,
) -> Result<Option<InboundTrigger>, sqlx::Error> {
    sqlx::query_as!(
        InboundTrigger,
        r#"select t.id as "id: TriggerId", t.account_id as "account_id: AccountId",
                  t.product_id as "product_id: ProductId", p.name as product_name,
                  t.object_class as "object_class: ObjectClass", t.name, t.path_name, t.active, t.open, t.ordered,
                  t.request_response,
                  t.max_wait_seconds, t.query_params as "query_params: Json<Vec<QueryParam>>", t.messages,
                  t.last_message_at
           from inbound_triggers t join products p on p.id = t.product_id
           where t.account_id = $1 and t.id = $2"#,
        account_id.as_str(),
        id.as_str()
    )
    .fetch_optional(db)
    .await
}

/// A trigger by its readable URL (`/hooks/in/<account>/<path name>`), for the public endpoint.
pub async fn find_named(
    pool: &PgPool,
    account_id: &AccountId,
    path_name: &str,
) -> Result<Option<InboundTrigger>, sqlx::Error> {
    let id = sqlx::query_scalar!(
        r#"select id as "id: TriggerId" from inbound_triggers where account_id = $1 and path_name = $2"#,
        account_id.as_str(),
        path_name,
    )
    .fetch_optional(pool)
    .await?;
    match id {
        Some(id) => find(pool, &id).await,
        None => Ok(None),
    }
}

/// Whether another trigger of the account has this path name.
pub async fn path_name_taken(
    pool: &PgPool,
    account_id: &AccountId,
    path_name: &str,
    except: Option<&TriggerId>,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select exists (select 1 from inbound_triggers where account_id = $1 and path_name = $2
                          and id is distinct from $3) as "taken!""#,
        account_id.as_str(),
        path_name,
        except.map(TriggerId::as_str),
    )
    .fetch_one(pool)
    .await
}

/// Any account's trigger, for the public endpoint.
pub async fn find(pool: &PgPool, id: &TriggerId) -> Result<Option<InboundTrigger>, sqlx::Error> {
    sqlx::query_as!(
        InboundTrigger,
        r#"select t.id as "id: TriggerId", t.account_id as "account_id: AccountId",
                  t.product_id as "product_id: ProductId", p.name as product_name,
                  t.object_class as "object_class: ObjectClass", t.name, t.path_name, t.active, t.open, t.ordered,
                  t.request_response,
                  t.max_wait_seconds, t.query_params as "query_params: Json<Vec<QueryParam>>", t.messages,
                  t.last_message_at
           from inbound_triggers t join products p on p.id = t.product_id
           where t.id = $1"#,
        id.as_str()
    )
    .fetch_optional(pool)
    .await
}

pub async fn create(conn: &mut sqlx::PgConnection, user: &CurrentUser, s: &Settings) -> Result<TriggerId, sqlx::Error> {
    loop {
        let id = TriggerId::generate();
        let r = sqlx::query!(
            "insert into inbound_triggers (id, account_id, product_id, object_class, name, ordered, request_response,
                 max_wait_seconds, query_params, created_by, open, path_name)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             on conflict (id) do nothing",
            id.as_str(),
            user.account_id.as_str(),
            s.product_id.as_str(),
            s.object_class as ObjectClass,
            s.name,
            s.ordered,
            s.request_response,
            s.max_wait_seconds,
            Json(&s.query_params) as _,
            user.id.as_str(),
            s.open,
            s.path_name.as_deref(),
        )
        .execute(&mut *conn)
        .await?;
        // A random id collided: draw another (no error, which would end the transaction).
        if r.rows_affected() == 1 {
            return Ok(id);
        }
    }
}

/// Updates the settings (the product and object class stay as created).
pub async fn update(
    db: impl sqlx::PgExecutor<'_>,
    account_id: &AccountId,
    id: &TriggerId,
    s: &Settings,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "update inbound_triggers set name = $3, ordered = $4, request_response = $5, max_wait_seconds = $6,
             query_params = $7, open = $8, path_name = $9, modified_at = now()
         where account_id = $1 and id = $2",
        account_id.as_str(),
        id.as_str(),
        s.name,
        s.ordered,
        s.request_response,
        s.max_wait_seconds,
        Json(&s.query_params) as _,
        s.open,
        s.path_name.as_deref(),
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn set_active(
    db: impl sqlx::PgExecutor<'_>,
    account_id: &AccountId,
    id: &TriggerId,
    active: bool,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "update inbound_triggers set active = $3, modified_at = now() where account_id = $1 and id = $2",
        account_id.as_str(),
        id.as_str(),
        active
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn delete(
    db: impl sqlx::PgExecutor<'_>,
    account_id: &AccountId,
    id: &TriggerId,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "delete from inbound_triggers where account_id = $1 and id = $2",
        account_id.as_str(),
        id.as_str()
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn keys(pool: &PgPool, trigger_id: &TriggerId) -> Result<Vec<Key>, sqlx::Error> {
    sqlx::query_as!(
        Key,
        "select id, label, key_hint, created_at, last_used_at from inbound_trigger_keys
         where trigger_id = $1 order by created_at, id",
        trigger_id.as_str()
    )
    .fetch_all(pool)
    .await
}

pub enum AddKey {
    Added,
    Duplicate,
    TooMany,
}

/// Adds a key; run in a transaction (the trigger row stays locked until it ends).
pub async fn add_key(
    tx: &mut sqlx::PgConnection,
    trigger_id: &TriggerId,
    label: &str,
    key: &str,
) -> Result<AddKey, sqlx::Error> {
    // Serialise additions per trigger so the limit holds.
    sqlx::query!(
        "select 1 as locked from inbound_triggers where id = $1 for update",
        trigger_id.as_str()
    )
    .fetch_optional(&mut *tx)
    .await?;
    let count = sqlx::query_scalar!(
        r#"select count(*) as "count!" from inbound_trigger_keys where trigger_id = $1"#,
        trigger_id.as_str()
    )
    .fetch_one(&mut *tx)
    .await?;
    if count >= KEYS_MAX {
        return Ok(AddKey::TooMany);
    }
    let r = sqlx::query!(
        "insert into inbound_trigger_keys (trigger_id, label, key_sha256, key_hint) values ($1, $2, $3, $4)
         on conflict (trigger_id, key_sha256) do nothing",
        trigger_id.as_str(),
        label,
        key_hash(key),
        key_hint(key),
    )
    .execute(&mut *tx)
    .await?;
    Ok(if r.rows_affected() == 1 {
        AddKey::Added
    } else {
        AddKey::Duplicate
    })
}

pub async fn relabel_key(
    db: impl sqlx::PgExecutor<'_>,
    trigger_id: &TriggerId,
    key_id: i64,
    label: &str,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "update inbound_trigger_keys set label = $3 where trigger_id = $1 and id = $2",
        trigger_id.as_str(),
        key_id,
        label
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn delete_key(
    db: impl sqlx::PgExecutor<'_>,
    trigger_id: &TriggerId,
    key_id: i64,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "delete from inbound_trigger_keys where trigger_id = $1 and id = $2 returning label",
        trigger_id.as_str(),
        key_id
    )
    .fetch_optional(db)
    .await
}

/// Marks the key with this hash as used for the trigger; its id, if it is one of the trigger's.
pub async fn use_key(pool: &PgPool, trigger_id: &TriggerId, key_sha256: &[u8]) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "update inbound_trigger_keys set last_used_at = now() where trigger_id = $1 and key_sha256 = $2 returning id",
        trigger_id.as_str(),
        key_sha256
    )
    .fetch_optional(pool)
    .await
}
