//! The webhooks list: filters, search and keyset pages.

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, QueryBuilder};

use super::{get_many, Webhook};
use crate::db::COUNT_CAP;
use crate::ids::{AccountId, ProductId, WebhookId};
use crate::webhooks::model::WebhookType;

#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    pub active: Option<bool>,
    pub out_of_order: bool,
    pub webhook_type: Option<WebhookType>,
    pub product_id: Option<ProductId>,
    /// Case-insensitive part of the name, or an exact ID.
    pub search: Option<String>,
}

/// A position in the list: the (created_at, id) of a row.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: WebhookId,
}

impl Cursor {
    pub fn encode(&self) -> String {
        format!("{}_{}", self.created_at.timestamp_micros(), self.id)
    }
    pub fn decode(raw: &str) -> Option<Cursor> {
        let (micros, id) = raw.split_once('_')?;
        let created_at = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
        Some(Cursor {
            created_at,
            id: WebhookId::parse(id)?,
        })
    }
}

pub enum Page {
    First,
    After(Cursor),
    Before(Cursor),
}

pub struct ListPage {
    pub rows: Vec<Webhook>,
    pub next: Option<Cursor>,
    pub prev: Option<Cursor>,
    /// How many webhooks match, counted up to [`COUNT_CAP`] (more: `total_capped`).
    pub total: i64,
    pub total_capped: bool,
}

fn push_filters(q: &mut QueryBuilder<'_, Postgres>, account_id: &AccountId, filter: &ListFilter) {
    q.push(" where w.account_id = ").push_bind(account_id.clone());
    if let Some(active) = filter.active {
        q.push(" and w.active = ").push_bind(active);
    }
    if filter.out_of_order {
        q.push(" and w.out_of_order");
    }
    if let Some(t) = filter.webhook_type {
        let i = t.info();
        q.push(" and w.object_class = ").push_bind(i.object_class);
        q.push(" and w.type = ").push_bind(i.api_type);
    }
    if let Some(product) = &filter.product_id {
        q.push(" and w.product_id = ").push_bind(product.clone());
    }
    if let Some(search) = &filter.search {
        // A name part (from the trigram index), or a webhook's exact id (from its key).
        let pattern = format!("%{}%", crate::db::escape_like(search));
        q.push(" and (w.label ilike ").push_bind(pattern);
        if let Some(id) = WebhookId::parse(&search.trim().to_uppercase()) {
            q.push(" or w.id = ").push_bind(id);
        }
        q.push(")");
    }
}

/// One page of the account's webhooks, newest first, with keyset paging.
pub async fn list(
    pool: &PgPool,
    account_id: &AccountId,
    filter: &ListFilter,
    page: Page,
    limit: usize,
) -> Result<ListPage, sqlx::Error> {
    // The page's ids first (the filters are dynamic), then the webhooks themselves.
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new("select w.id from webhooks w");
    push_filters(&mut q, account_id, filter);
    let backwards = matches!(page, Page::Before(_));
    match &page {
        Page::First => {}
        Page::After(c) => {
            q.push(" and (w.created_at, w.id) < (")
                .push_bind(c.created_at)
                .push(", ")
                .push_bind(c.id.clone())
                .push(")");
        }
        Page::Before(c) => {
            q.push(" and (w.created_at, w.id) > (")
                .push_bind(c.created_at)
                .push(", ")
                .push_bind(c.id.clone())
                .push(")");
        }
    }
    q.push(if backwards {
        " order by w.created_at asc, w.id asc"
    } else {
        " order by w.created_at desc, w.id desc"
    });
    q.push(" limit ").push_bind((limit + 1) as i64);
    let ids: Vec<WebhookId> = q.build_query_scalar().fetch_all(pool).await?;
    let mut rows = in_order_of(&ids, get_many(pool, account_id, &ids).await?);
    let more = rows.len() > limit;
    rows.truncate(limit);
    if backwards {
        rows.reverse();
    }
    let cursor = |w: &Webhook| Cursor {
        created_at: w.created_at,
        id: w.id.clone(),
    };
    let (next, prev) = match page {
        Page::First => (if more { rows.last().map(cursor) } else { None }, None),
        Page::After(_) => (
            if more { rows.last().map(cursor) } else { None },
            rows.first().map(cursor),
        ),
        Page::Before(_) => (
            rows.last().map(cursor),
            if more { rows.first().map(cursor) } else { None },
        ),
    };

    let mut count: QueryBuilder<Postgres> = QueryBuilder::new("select count(*) from (select 1 from webhooks w");
    push_filters(&mut count, account_id, filter);
    count.push(" limit ").push_bind(COUNT_CAP + 1).push(") capped");
    let counted: i64 = count.build_query_scalar().fetch_one(pool).await?;
    Ok(ListPage {
        rows,
        next,
        prev,
        total: counted.min(COUNT_CAP),
        total_capped: counted > COUNT_CAP,
    })
}

/// `webhooks` in the order of `ids` (a query's page order).
pub(crate) fn in_order_of(ids: &[WebhookId], mut webhooks: Vec<Webhook>) -> Vec<Webhook> {
    let position: std::collections::HashMap<&WebhookId, usize> = ids.iter().zip(0..).collect();
    webhooks.sort_by_key(|w| position.get(&w.id).copied().unwrap_or(usize::MAX));
    webhooks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::store::mask_secret;

    #[test]
    fn cursor_round_trips() {
        let c = Cursor {
            created_at: DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            id: WebhookId::parse("WH-123-456-789").unwrap(),
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("nonsense"), None);
        assert_eq!(Cursor::decode("12_WH-1"), None);
    }

    #[test]
    fn secrets_are_masked_like_connect() {
        assert_eq!(mask_secret("JWT-f8416c0e-6a3f-33da"), "JWT-f841*****33da");
        assert_eq!(mask_secret("short"), "*****");
    }
}
