//! What the products page, a product's queue and the requests API ask about requests.

use serde_json::Value;
use sqlx::types::Json;
use sqlx::{PgPool, Postgres, QueryBuilder};

use crate::db::COUNT_CAP;
use crate::domain::ObjectClass;
use crate::ids::{AccountId, ProductId, RequestId};
use crate::requests::{Request, RequestStatus};
use crate::rql::{self, Field, Node};

/// A product row with its open requests and watching webhooks.
pub struct ProductRow {
    pub id: ProductId,
    pub name: String,
    pub short_description: String,
    pub open_requests: i64,
    pub webhooks: i64,
}

/// The products `ids` (those the account may see) with the account's open requests and
/// webhooks on each, counted up to just past [`COUNT_CAP`].
pub async fn product_rows(
    pool: &PgPool,
    account_id: &AccountId,
    ids: &[ProductId],
) -> Result<Vec<ProductRow>, sqlx::Error> {
    sqlx::query_as!(
        ProductRow,
        r#"select p.id as "id: ProductId", p.name, p.short_description,
                  (select count(*) from (select from requests r where r.product_id = p.id and r.account_id = $2
                      and r.status = any($3) limit $4) open) as "open_requests!",
                  (select count(*) from (select from webhooks w where w.product_id = p.id and w.account_id = $2
                      limit $4) hooks) as "webhooks!"
           from products p where p.id = any($1) order by p.name, p.id"#,
        ids as &[ProductId],
        account_id.as_str(),
        &RequestStatus::OPEN[..] as &[RequestStatus],
        COUNT_CAP + 1,
    )
    .fetch_all(pool)
    .await
}

/// Which requests of a product's queue to show: `None` for any class or status.
pub struct QueueFilter<'a> {
    pub account_id: &'a AccountId,
    pub product_id: &'a ProductId,
    pub class: Option<ObjectClass>,
    pub status: Option<RequestStatus>,
}

/// How many requests match, and the `page`th page of `page_size` of them, newest first.
pub async fn queue_page(
    pool: &PgPool,
    filter: &QueueFilter<'_>,
    page: i64,
    page_size: i64,
) -> Result<(i64, Vec<Request>), sqlx::Error> {
    let total = sqlx::query_scalar!(
        r#"select count(*) as "count!" from requests
           where account_id = $1 and product_id = $2 and ($3::text is null or object_class = $3)
             and ($4::text is null or status = $4)"#,
        filter.account_id.as_str(),
        filter.product_id.as_str(),
        filter.class as Option<ObjectClass>,
        filter.status as Option<RequestStatus>,
    )
    .fetch_one(pool)
    .await?;
    let requests = sqlx::query_as!(
        Request,
        r#"select id as "id: RequestId", account_id as "account_id: AccountId",
                  product_id as "product_id: ProductId", object_class as "object_class: ObjectClass",
                  kind, status as "status: RequestStatus", params as "params: Json<Value>", test,
                  created_at, updated_at, tier_level, validation as "validation: Json<Value>"
           from requests
           where account_id = $1 and product_id = $2 and ($3::text is null or object_class = $3)
             and ($4::text is null or status = $4)
           order by created_at desc, id desc limit $5 offset $6"#,
        filter.account_id.as_str(),
        filter.product_id.as_str(),
        filter.class as Option<ObjectClass>,
        filter.status as Option<RequestStatus>,
        page_size,
        (page - 1) * page_size,
    )
    .fetch_all(pool)
    .await?;
    Ok((total, requests))
}

/// A product's name.
pub async fn product_name(pool: &PgPool, product_id: &ProductId) -> Result<String, sqlx::Error> {
    sqlx::query_scalar!("select name from products where id = $1", product_id.as_str())
        .fetch_one(pool)
        .await
}

/// Why a filtered list could not be read.
#[derive(Debug)]
pub enum ListError {
    /// A filter that cannot be applied; the message says why.
    Filter(String),
    Database(sqlx::Error),
}

impl From<sqlx::Error> for ListError {
    fn from(e: sqlx::Error) -> Self {
        ListError::Database(e)
    }
}

/// The fields the API filters requests by (its names), and their columns.
fn api_field(name: &str) -> Option<Field> {
    let sql = match name {
        "id" => "id",
        "status" => "status",
        "type" => "kind",
        "product_id" | "product.id" | "asset.product.id" => "product_id",
        _ => return None,
    };
    Some(Field { sql, boolean: false })
}

/// The account's requests of `object_class` matching the API's RQL `filters`: how many, and
/// `limit` of them from `offset`, oldest first.
pub async fn api_page(
    pool: &PgPool,
    account_id: &AccountId,
    object_class: ObjectClass,
    filters: &[Node],
    limit: i64,
    offset: i64,
) -> Result<(i64, Vec<Request>), ListError> {
    let push_where = |q: &mut QueryBuilder<'_, Postgres>| -> Result<(), ListError> {
        q.push(" where account_id = ").push_bind(account_id.clone());
        q.push(" and object_class = ").push_bind(object_class);
        for f in filters {
            q.push(" and ");
            rql::push_filter(q, f, api_field).map_err(ListError::Filter)?;
        }
        Ok(())
    };
    let mut count: QueryBuilder<Postgres> = QueryBuilder::new("select count(*) from requests");
    push_where(&mut count)?;
    let total: i64 = count.build_query_scalar().fetch_one(pool).await?;
    if limit == 0 {
        return Ok((total, Vec::new()));
    }
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
        "select id, account_id, product_id, object_class, kind, status, params, test, created_at, updated_at,
                tier_level, validation
         from requests",
    );
    push_where(&mut q)?;
    q.push(" order by created_at, id limit ")
        .push_bind(limit)
        .push(" offset ")
        .push_bind(offset);
    Ok((total, q.build_query_as().fetch_all(pool).await?))
}
