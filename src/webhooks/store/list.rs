//! The webhooks list: filters, search, sort and keyset pages.

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
    /// Only webhooks with a failed call in the last hour.
    pub failing: bool,
}

/// The list's order. Health is the 24 h success rate as last refreshed (`health_bp`);
/// webhooks without calls come last either way.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Newest first (by creation).
    #[default]
    Newest,
    /// Lowest success rate first.
    HealthWorst,
    /// Highest success rate first.
    HealthBest,
}

impl Sort {
    /// From the `sort` query parameter: `health`, `-health`, anything else the default.
    pub fn parse(raw: &str) -> Sort {
        match raw {
            "health" => Sort::HealthWorst,
            "-health" => Sort::HealthBest,
            _ => Sort::Newest,
        }
    }

    /// The `sort` query parameter ("" for the default).
    pub fn param(self) -> &'static str {
        match self {
            Sort::Newest => "",
            Sort::HealthWorst => "health",
            Sort::HealthBest => "-health",
        }
    }

    /// The key expression (as the indexes have it) and whether the list runs down it.
    fn key(self) -> (&'static str, bool) {
        match self {
            Sort::Newest => ("w.created_at", true),
            Sort::HealthWorst => ("coalesce(w.health_bp, 10001)", false),
            Sort::HealthBest => ("coalesce(w.health_bp, -1)", true),
        }
    }

    /// A row's position in this order.
    fn cursor(self, w: &Webhook) -> ListCursor {
        let id = w.id.clone();
        match self {
            Sort::Newest => ListCursor::Created(Cursor {
                created_at: w.created_at,
                id,
            }),
            Sort::HealthWorst => ListCursor::Health(w.health_bp.unwrap_or(10_001), id),
            Sort::HealthBest => ListCursor::Health(w.health_bp.unwrap_or(-1), id),
        }
    }
}

/// A position in the list, in its order: by creation, or by the health sort key.
#[derive(Debug, Clone, PartialEq)]
pub enum ListCursor {
    Created(Cursor),
    Health(i32, WebhookId),
}

impl ListCursor {
    pub fn encode(&self) -> String {
        match self {
            ListCursor::Created(c) => c.encode(),
            ListCursor::Health(key, id) => format!("h{key}_{id}"),
        }
    }

    /// A cursor of `sort`'s kind; another kind or nonsense is `None` (the first page).
    pub fn decode(raw: &str, sort: Sort) -> Option<ListCursor> {
        match (sort, raw.strip_prefix('h')) {
            (Sort::Newest, None) => Cursor::decode(raw).map(ListCursor::Created),
            (Sort::HealthWorst | Sort::HealthBest, Some(rest)) => {
                let (key, id) = rest.split_once('_')?;
                let key: i32 = key.parse().ok().filter(|k| (-1..=10_001).contains(k))?;
                Some(ListCursor::Health(key, WebhookId::parse(id)?))
            }
            _ => None,
        }
    }
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
    After(ListCursor),
    Before(ListCursor),
}

pub struct ListPage {
    pub rows: Vec<Webhook>,
    pub next: Option<ListCursor>,
    pub prev: Option<ListCursor>,
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
    if filter.failing {
        q.push(" and w.last_failure_at >= now() - interval '1 hour'");
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

/// One page of the account's webhooks in `sort` order, with keyset paging.
pub async fn list(
    pool: &PgPool,
    account_id: &AccountId,
    filter: &ListFilter,
    sort: Sort,
    page: Page,
    limit: usize,
) -> Result<ListPage, sqlx::Error> {
    // The page's ids first (the filters are dynamic), then the webhooks themselves. The order
    // is (key, id), down or up the key as the sort has it; a page before a cursor is read the
    // other way and turned round.
    let (key, descending) = sort.key();
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new("select w.id from webhooks w");
    push_filters(&mut q, account_id, filter);
    let backwards = matches!(page, Page::Before(_));
    let reads_down = descending != backwards;
    let cursor = match &page {
        Page::First => None,
        Page::After(c) | Page::Before(c) => Some(c),
    };
    if let Some(c) = cursor {
        q.push(format_args!(
            " and ({key}, w.id) {} (",
            if reads_down { "<" } else { ">" }
        ));
        match c {
            ListCursor::Created(c) => q.push_bind(c.created_at),
            ListCursor::Health(k, _) => q.push_bind(*k),
        };
        let id = match c {
            ListCursor::Created(c) => c.id.clone(),
            ListCursor::Health(_, id) => id.clone(),
        };
        q.push(", ").push_bind(id).push(")");
    }
    let direction = if reads_down { "desc" } else { "asc" };
    q.push(format_args!(" order by {key} {direction}, w.id {direction}"));
    q.push(" limit ").push_bind((limit + 1) as i64);
    let ids: Vec<WebhookId> = q.build_query_scalar().fetch_all(pool).await?;
    let mut rows = in_order_of(&ids, get_many(pool, account_id, &ids).await?);
    let more = rows.len() > limit;
    rows.truncate(limit);
    if backwards {
        rows.reverse();
    }
    let cursor = |w: &Webhook| sort.cursor(w);
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
    fn a_list_cursor_belongs_to_its_sort() {
        let id = WebhookId::parse("WH-123-456-789").unwrap();
        let health = ListCursor::Health(9870, id.clone());
        assert_eq!(health.encode(), "h9870_WH-123-456-789");
        assert_eq!(
            ListCursor::decode(&health.encode(), Sort::HealthWorst),
            Some(health.clone())
        );
        assert_eq!(ListCursor::decode(&health.encode(), Sort::Newest), None);
        assert_eq!(
            ListCursor::decode("h-1_WH-123-456-789", Sort::HealthBest),
            Some(ListCursor::Health(-1, id.clone()))
        );
        assert_eq!(ListCursor::decode("h99999_WH-123-456-789", Sort::HealthBest), None);
        assert_eq!(ListCursor::decode("hx_WH-123-456-789", Sort::HealthBest), None);
        let created = ListCursor::Created(Cursor {
            created_at: DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            id,
        });
        assert_eq!(
            ListCursor::decode(&created.encode(), Sort::Newest),
            Some(created.clone())
        );
        assert_eq!(ListCursor::decode(&created.encode(), Sort::HealthWorst), None);
        assert_eq!(Sort::parse("-health"), Sort::HealthBest);
        assert_eq!(Sort::parse("name"), Sort::Newest);
    }

    #[test]
    fn secrets_are_masked_like_connect() {
        assert_eq!(mask_secret("JWT-f8416c0e-6a3f-33da"), "JWT-f841*****33da");
        assert_eq!(mask_secret("short"), "*****");
    }
}
