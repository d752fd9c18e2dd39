//! The product and queue pages' questions: each product with its open requests and watching
//! webhooks, and one page of a product's queue.

use sqlx::PgPool;

use super::{Request, COLUMNS};

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
