//! The platform API's list of webhooks: RQL filters over whitelisted fields, search,
//! ordering, limit and offset. The filters are dynamic, so the page's ids are found with a
//! `QueryBuilder`; the webhooks themselves are read by [`get_many`].

use sqlx::{PgPool, Postgres, QueryBuilder};

use super::list::{in_order_of, Cursor};
use super::{get_many, Webhook};
use crate::ids::{AccountId, WebhookId};
use crate::rql::{self, Field, Node};

/// What the API's list asks for.
pub struct ApiQuery<'a> {
    pub filters: &'a [Node],
    pub search: Option<&'a str>,
    /// Field names, `-` in front for descending.
    pub ordering: &'a [String],
    pub limit: i64,
    pub offset: i64,
    /// Rows after this one in the default order (newest first), instead of an offset.
    pub after: Option<&'a Cursor>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiQueryError {
    /// The query cannot be expressed over webhooks (unknown field, bad value): a 400.
    #[error("{0}")]
    Query(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

fn field(name: &str) -> Option<Field> {
    let (sql, boolean) = match name {
        "id" => ("w.id", false),
        "label" => ("w.label", false),
        "description" => ("w.description", false),
        "active" => ("w.active", true),
        "type" => ("w.type", false),
        "object_class" => ("w.object_class", false),
        "product.id" => ("w.product_id", false),
        // A subquery, not a join: the list's plan stays a walk of the account's index.
        "product.name" => ("(select p.name from products p where p.id = w.product_id)", false),
        "external_url" => ("w.external_url", false),
        "http_method" => ("w.http_method", false),
        _ => return None,
    };
    Some(Field { sql, boolean })
}

fn order_field(name: &str) -> Option<&'static str> {
    match name {
        "created_at" => Some("w.created_at"),
        "modified_at" => Some("w.modified_at"),
        "label" => Some("w.label"),
        "active" => Some("w.active"),
        "type" => Some("w.type"),
        "id" => Some("w.id"),
        _ => None,
    }
}

fn push_where(q: &mut QueryBuilder<'_, Postgres>, account_id: &AccountId, query: &ApiQuery<'_>) -> Result<(), String> {
    q.push(" where w.account_id = ").push_bind(account_id.clone());
    for f in query.filters {
        q.push(" and ");
        rql::push_filter(q, f, field)?;
    }
    if let Some(s) = query.search {
        let pattern = format!("%{}%", crate::db::escape_like(s));
        q.push(" and (w.label ilike ")
            .push_bind(pattern.clone())
            .push(" or w.id ilike ")
            .push_bind(pattern)
            .push(")");
    }
    Ok(())
}

/// One page of the account's webhooks as the API lists them, and how many match in all
/// (`None` for a cursor page, which states no offset and so no `Content-Range`).
pub async fn api_list(
    pool: &PgPool,
    account_id: &AccountId,
    query: &ApiQuery<'_>,
) -> Result<(Vec<Webhook>, Option<i64>), ApiQueryError> {
    const FROM: &str = "from webhooks w";
    let total = if query.after.is_none() {
        let mut count: QueryBuilder<Postgres> = QueryBuilder::new(format!("select count(*) {FROM}"));
        push_where(&mut count, account_id, query).map_err(ApiQueryError::Query)?;
        Some(count.build_query_scalar().fetch_one(pool).await?)
    } else {
        None
    };
    if query.limit <= 0 {
        return Ok((Vec::new(), total));
    }

    let mut page: QueryBuilder<Postgres> = QueryBuilder::new(format!("select w.id {FROM}"));
    push_where(&mut page, account_id, query).map_err(ApiQueryError::Query)?;
    if let Some(c) = query.after {
        page.push(" and (w.created_at, w.id) < (")
            .push_bind(c.created_at)
            .push(", ")
            .push_bind(c.id.clone())
            .push(")");
    }
    page.push(" order by ");
    for o in query.ordering {
        let (desc, name) = match o.strip_prefix('-') {
            Some(n) => (true, n),
            None => (false, o.trim_start_matches('+')),
        };
        let column = order_field(name).ok_or_else(|| ApiQueryError::Query(format!("cannot order by {name}")))?;
        page.push(column).push(if desc { " desc, " } else { " asc, " });
    }
    page.push("w.created_at desc, w.id desc limit ")
        .push_bind(query.limit)
        .push(" offset ")
        .push_bind(if query.after.is_some() { 0 } else { query.offset });
    let ids: Vec<WebhookId> = page.build_query_scalar().fetch_all(pool).await?;
    let rows = in_order_of(&ids, get_many(pool, account_id, &ids).await?);
    Ok((rows, total))
}
