//! The SQL of product queues: creating requests and changing their status (each a queue
//! change recorded in the same transaction), and the product and queue pages' questions.

use serde_json::Value;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};

use super::Request;
use crate::events::{self, Source};

/// A product row with its open requests and watching webhooks.
#[derive(sqlx::FromRow)]
pub struct ProductRow {
    pub id: String,
    pub name: String,
    pub short_description: String,
    pub open_requests: i64,
    pub webhooks: i64,
}

/// The products `ids` (those the account may see) with the account's open requests and
/// webhooks on each.
pub async fn product_rows(pool: &PgPool, account_id: &str, ids: &[String]) -> Result<Vec<ProductRow>, sqlx::Error> {
    sqlx::query_as(
        "select p.id, p.name, p.short_description,
                (select count(*) from requests r where r.product_id = p.id and r.account_id = $2
                    and r.status in ('draft', 'pending', 'inquiring')) as open_requests,
                (select count(*) from webhooks w where w.product_id = p.id and w.account_id = $2) as webhooks
         from products p where p.id = any($1) order by p.name, p.id",
    )
    .bind(ids)
    .bind(account_id)
    .fetch_all(pool)
    .await
}

/// Which requests of a product's queue to show: `class` and `status` empty for all.
pub struct QueueFilter<'a> {
    pub account_id: &'a str,
    pub product_id: &'a str,
    pub class: &'a str,
    pub status: &'a str,
}

/// How many requests match, and the `page`th page of `page_size` of them, newest first.
pub async fn queue_page(
    pool: &PgPool,
    filter: &QueueFilter<'_>,
    page: i64,
    page_size: i64,
) -> Result<(i64, Vec<Request>), sqlx::Error> {
    const WHERE: &str =
        "where account_id = $1 and product_id = $2 and ($3 = '' or object_class = $3) and ($4 = '' or status = $4)";
    let total: i64 = sqlx::query_scalar(&format!("select count(*) from requests {WHERE}"))
        .bind(filter.account_id)
        .bind(filter.product_id)
        .bind(filter.class)
        .bind(filter.status)
        .fetch_one(pool)
        .await?;
    let requests = sqlx::query_as(&format!(
        "select {COLUMNS} from requests {WHERE} order by created_at desc, id desc limit $5 offset $6"
    ))
    .bind(filter.account_id)
    .bind(filter.product_id)
    .bind(filter.class)
    .bind(filter.status)
    .bind(page_size)
    .bind((page - 1) * page_size)
    .fetch_all(pool)
    .await?;
    Ok((total, requests))
}

/// A product's name.
pub async fn product_name(pool: &PgPool, product_id: &str) -> Result<String, sqlx::Error> {
    sqlx::query_scalar("select name from products where id = $1")
        .bind(product_id)
        .fetch_one(pool)
        .await
}

/// Records a queue change for every event webhook of the request's account on the product and
/// class (another account's webhooks never hear of this account's requests).
async fn queue_change(conn: &mut PgConnection, r: &Request) -> Result<(), sqlx::Error> {
    for hook in events::webhooks_watching(conn, &r.account_id, &r.product_id, &r.object_class).await? {
        events::record(conn, &hook, Source::QueueChange, Some(&r.id)).await?;
    }
    Ok(())
}

pub const COLUMNS: &str =
    "id, account_id, product_id, object_class, kind, status, params, test, created_at, updated_at, tier_level, validation";

/// Creates a test request in the product's queue (a queue change).
pub async fn create(
    pool: &PgPool,
    account_id: &str,
    product_id: &str,
    object_class: &str,
    kind: &str,
    status: &str,
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
    pub account_id: &'a str,
    pub product_id: &'a str,
    pub object_class: &'a str,
    pub kind: &'a str,
    pub tier_level: Option<i16>,
    pub status: &'a str,
    pub params: Value,
}

/// Creates a request (a queue change, unless it is a draft: drafts are not in the queue yet).
pub async fn create_request(pool: &PgPool, new: &NewRequest<'_>) -> Result<Request, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let request: Request = loop {
        let id = crate::ids::random_id("PR", 3);
        let r = sqlx::query_as(&format!(
            "insert into requests (id, account_id, product_id, object_class, kind, tier_level, status, params)
             values ($1, $2, $3, $4, $5, $6, $7, $8) returning {COLUMNS}"
        ))
        .bind(&id)
        .bind(new.account_id)
        .bind(new.product_id)
        .bind(new.object_class)
        .bind(new.kind)
        .bind(new.tier_level)
        .bind(new.status)
        .bind(Json(&new.params))
        .fetch_one(&mut *tx)
        .await;
        match r {
            Ok(r) => break r,
            Err(sqlx::Error::Database(e)) if e.constraint() == Some("requests_pkey") => continue,
            Err(e) => return Err(e),
        }
    };
    if request.status != "draft" {
        queue_change(&mut tx, &request).await?;
    }
    tx.commit().await?;
    Ok(request)
}

/// Moves a request of the account from status `from` to `status` (a queue change); `None` if
/// there is no such request or its status is no longer `from`.
pub async fn set_status(
    pool: &PgPool,
    account_id: &str,
    id: &str,
    from: &str,
    status: &str,
) -> Result<Option<Request>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    // Only from the status the caller saw: of two racing changes, the second finds nothing.
    let request: Option<Request> = sqlx::query_as(&format!(
        "update requests set status = $4, updated_at = now() where account_id = $1 and id = $2 and status = $3
         returning {COLUMNS}"
    ))
    .bind(account_id)
    .bind(id)
    .bind(from)
    .bind(status)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(r) = &request {
        queue_change(&mut tx, r).await?;
    }
    tx.commit().await?;
    Ok(request)
}

pub async fn get(pool: &PgPool, account_id: &str, id: &str) -> Result<Option<Request>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from requests where account_id = $1 and id = $2"
    ))
    .bind(account_id)
    .bind(id)
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
    sqlx::query_as(&format!(
        "update requests set params = coalesce($2, params), validation = $3, updated_at = now()
         where id = $1 and status = $4 returning {COLUMNS}"
    ))
    .bind(&request.id)
    .bind(params)
    .bind(Json(verdict))
    .bind(&request.status)
    .fetch_optional(conn)
    .await
}
