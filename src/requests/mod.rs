//! Product queues: requests per product and object class (fulfillment, listing, billing,
//! usage files, tier config, tier accounts). Creating a request or changing its status is a
//! queue change: in the same transaction it records an event for every webhook watching
//! that product and class, which the delivery task then announces to their handlers.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};

use crate::events::{self, Source};

/// The statuses a request may move to by a vendor action.
pub const ACTIONS: [(&str, &str); 3] = [("approve", "approved"), ("fail", "failed"), ("inquire", "inquiring")];

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Request {
    pub id: String,
    pub account_id: String,
    pub product_id: String,
    pub object_class: String,
    pub kind: String,
    pub status: String,
    pub params: Json<Value>,
    pub test: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The kind a new test request of `object_class` gets, and the status it starts in.
pub fn default_kind_and_status(object_class: &str) -> Option<(&'static str, &'static str)> {
    Some(match object_class {
        "fulfillment_request" => ("purchase", "pending"),
        "listing_request" => ("new", "pending"),
        "billing_request" => ("provider", "pending"),
        "usage_file" => ("usage", "pending"),
        "tier_config_request" => ("setup", "pending"),
        "tier_account_request" => ("update", "pending"),
        _ => return None,
    })
}

/// Records a queue change for every event webhook on the product and class.
async fn queue_change(conn: &mut PgConnection, r: &Request) -> Result<(), sqlx::Error> {
    let hooks: Vec<String> = sqlx::query_scalar(
        "select id from webhooks where product_id = $1 and object_class = $2 and type = 'event' order by id",
    )
    .bind(&r.product_id)
    .bind(&r.object_class)
    .fetch_all(&mut *conn)
    .await?;
    for hook in hooks {
        events::record(conn, &hook, Source::QueueChange, Some(&r.id)).await?;
    }
    Ok(())
}

const COLUMNS: &str = "id, account_id, product_id, object_class, kind, status, params, test, created_at, updated_at";

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
    let mut tx = pool.begin().await?;
    let request: Request = loop {
        let id = crate::ids::random_id("PR", 3);
        let r = sqlx::query_as(&format!(
            "insert into requests (id, account_id, product_id, object_class, kind, status, params)
             values ($1, $2, $3, $4, $5, $6, $7) returning {COLUMNS}"
        ))
        .bind(&id)
        .bind(account_id)
        .bind(product_id)
        .bind(object_class)
        .bind(kind)
        .bind(status)
        .bind(Json(&params))
        .fetch_one(&mut *tx)
        .await;
        match r {
            Ok(r) => break r,
            Err(sqlx::Error::Database(e)) if e.constraint() == Some("requests_pkey") => continue,
            Err(e) => return Err(e),
        }
    };
    queue_change(&mut tx, &request).await?;
    tx.commit().await?;
    Ok(request)
}

/// Moves a request of the account to `status` (a queue change); `None` if there is no such request.
pub async fn set_status(
    pool: &PgPool,
    account_id: &str,
    id: &str,
    status: &str,
) -> Result<Option<Request>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let request: Option<Request> = sqlx::query_as(&format!(
        "update requests set status = $3, updated_at = now() where account_id = $1 and id = $2 returning {COLUMNS}"
    ))
    .bind(account_id)
    .bind(id)
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
