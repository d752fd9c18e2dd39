//! The SQL of product queues: creating requests and changing their status (each a queue
//! change recorded in the same transaction). The pages' and the API's questions are in
//! [`pages`], the products themselves in [`products`].

mod pages;
mod products;

pub use self::pages::{api_page, product_name, product_rows, queue_page, ListError, ProductRow, QueueFilter};
pub use self::products::{grant_product, insert_product};

use serde_json::Value;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};

use super::{Request, RequestStatus};
use crate::domain::ObjectClass;
use crate::events;
use crate::ids::{AccountId, ProductId, RequestId};

/// Records a queue change for every event webhook of the request's account on the product and
/// class (another account's webhooks never hear of this account's requests).
async fn queue_change(conn: &mut PgConnection, r: &Request) -> Result<(), sqlx::Error> {
    let hooks = events::webhooks_watching(conn, &r.account_id, &r.product_id, r.object_class).await?;
    events::record_queue_changes(conn, &hooks, Some(&r.id)).await?;
    Ok(())
}

/// Creates a test request in the product's queue (a queue change).
pub async fn create(
    pool: &PgPool,
    account_id: &AccountId,
    product_id: &ProductId,
    object_class: ObjectClass,
    kind: &str,
    status: RequestStatus,
    params: Value,
) -> Result<Request, sqlx::Error> {
    let new = NewRequest {
        account_id,
        product_id,
        object_class,
        kind,
        tier_level: None,
        status,
        params,
    };
    create_request(pool, &new).await
}

pub struct NewRequest<'a> {
    pub account_id: &'a AccountId,
    pub product_id: &'a ProductId,
    pub object_class: ObjectClass,
    pub kind: &'a str,
    pub tier_level: Option<i16>,
    pub status: RequestStatus,
    pub params: Value,
}

/// Creates a request (a queue change, unless it is a draft: drafts are not in the queue yet).
pub async fn create_request(pool: &PgPool, new: &NewRequest<'_>) -> Result<Request, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let request = loop {
        let id = RequestId::generate();
        let r = sqlx::query_as!(
            Request,
            r#"insert into requests (id, account_id, product_id, object_class, kind, tier_level, status, params)
               values ($1, $2, $3, $4, $5, $6, $7, $8)
               returning id as "id: RequestId", account_id as "account_id: AccountId",
                         product_id as "product_id: ProductId", object_class as "object_class: ObjectClass",
                         kind, status as "status: RequestStatus", params as "params: Json<Value>", test,
                         created_at, updated_at, tier_level, validation as "validation: Json<Value>""#,
            id.as_str(),
            new.account_id.as_str(),
            new.product_id.as_str(),
            new.object_class as ObjectClass,
            new.kind,
            new.tier_level,
            new.status as RequestStatus,
            Json(&new.params) as _,
        )
        .fetch_one(&mut *tx)
        .await;
        match r {
            Ok(r) => break r,
            // A random id that is taken: draw another.
            Err(sqlx::Error::Database(e)) if e.constraint() == Some("requests_pkey") => continue,
            Err(e) => return Err(e),
        }
    };
    if request.status != RequestStatus::Draft {
        queue_change(&mut tx, &request).await?;
    }
    tx.commit().await?;
    Ok(request)
}

/// Moves a request of the account from status `from` to `status` (a queue change); `None` if
/// there is no such request or its status is no longer `from`.
pub async fn set_status(
    pool: &PgPool,
    account_id: &AccountId,
    id: &RequestId,
    from: RequestStatus,
    status: RequestStatus,
) -> Result<Option<Request>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    // Only from the status the caller saw: of two racing changes, the second finds nothing.
    let request = sqlx::query_as!(
        Request,
        r#"update requests set status = $4, updated_at = now() where account_id = $1 and id = $2 and status = $3
           returning id as "id: RequestId", account_id as "account_id: AccountId",
                     product_id as "product_id: ProductId", object_class as "object_class: ObjectClass",
                     kind, status as "status: RequestStatus", params as "params: Json<Value>", test,
                     created_at, updated_at, tier_level, validation as "validation: Json<Value>""#,
        account_id.as_str(),
        id.as_str(),
        from as RequestStatus,
        status as RequestStatus,
    )
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(r) = &request {
        queue_change(&mut tx, r).await?;
    }
    tx.commit().await?;
    Ok(request)
}

/// A request of the account; another account's is not found.
pub async fn get(pool: &PgPool, account_id: &AccountId, id: &RequestId) -> Result<Option<Request>, sqlx::Error> {
    sqlx::query_as!(
        Request,
        r#"select id as "id: RequestId", account_id as "account_id: AccountId",
                  product_id as "product_id: ProductId", object_class as "object_class: ObjectClass",
                  kind, status as "status: RequestStatus", params as "params: Json<Value>", test,
                  created_at, updated_at, tier_level, validation as "validation: Json<Value>"
           from requests where account_id = $1 and id = $2"#,
        account_id.as_str(),
        id.as_str(),
    )
    .fetch_optional(pool)
    .await
}

/// Saves what a validation webhook said about `request` (its values, if any, and the
/// verdict), unless the request's status changed meanwhile (then `None`: not applied).
pub async fn record_validation(
    conn: &mut PgConnection,
    request: &Request,
    params: Option<Json<Value>>,
    verdict: &Value,
) -> Result<Option<Request>, sqlx::Error> {
    sqlx::query_as!(
        Request,
        r#"update requests set params = coalesce($2, params), validation = $3, updated_at = now()
           where id = $1 and status = $4
           returning id as "id: RequestId", account_id as "account_id: AccountId",
                     product_id as "product_id: ProductId", object_class as "object_class: ObjectClass",
                     kind, status as "status: RequestStatus", params as "params: Json<Value>", test,
                     created_at, updated_at, tier_level, validation as "validation: Json<Value>""#,
        request.id.as_str(),
        params as _,
        Json(verdict) as _,
        request.status as RequestStatus,
    )
    .fetch_optional(conn)
    .await
}
