//! The webhooks list: search, filters, sort, keyset paging and each row's health.

use askama::Template;
use axum::extract::{Query, State};
use serde::Deserialize;

use super::health::HealthCell;
use super::{PAGE_SIZE, SEARCH_MAX};
use crate::auth::{AccountKind, CurrentUser};
use crate::dates::filters;
use crate::error::AppResult;
use crate::ids::ProductId;
use crate::layout::{page, Layout, Nav};
use crate::state::AppState;
use crate::webhooks::model::WebhookType;
use crate::webhooks::store::{self, ListCursor, ListFilter, Page, Product, Sort, Webhook};

#[derive(Deserialize, Default)]
pub struct ListQuery {
    status: Option<String>,
    #[serde(rename = "type")]
    type_code: Option<String>,
    product: Option<String>,
    q: Option<String>,
    /// `failing`: a failed call in the last hour.
    health: Option<String>,
    /// `health` (worst first) or `-health` (best first); newest first otherwise.
    sort: Option<String>,
    after: Option<String>,
    before: Option<String>,
}

#[derive(Template)]
#[template(path = "webhooks/list.html")]
pub(super) struct ListPageView {
    layout: Layout,
    rows: Vec<(Webhook, HealthCell)>,
    /// "30 webhooks", "2,345 webhooks", "10,000+ webhooks".
    total: String,
    products: Vec<Product>,
    types: Vec<(&'static str, &'static str)>,
    status: String,
    type_code: String,
    product: String,
    q: String,
    /// `failing` or "".
    health: String,
    /// The `sort` parameter in force ("" for newest first).
    sort: &'static str,
    /// Where the Health heading leads: worst first, or best first when already worst first.
    health_sort_url: String,
    filtered: bool,
    next_url: Option<String>,
    prev_url: Option<String>,
}
page!(ListPageView);

impl ListPageView {
    /// The Health heading's `aria-sort`.
    fn health_aria_sort(&self) -> &'static str {
        match Sort::parse(self.sort) {
            Sort::HealthWorst => "ascending",
            Sort::HealthBest => "descending",
            Sort::Newest => "none",
        }
    }
}

pub(super) async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Query(query): Query<ListQuery>,
) -> AppResult<ListPageView> {
    let status = query.status.unwrap_or_default();
    let type_code = query.type_code.unwrap_or_default();
    let product: String = query
        .product
        .unwrap_or_default()
        .chars()
        .filter(|c| *c != '\0')
        .take(32)
        .collect();
    let q: String = query
        .q
        .unwrap_or_default()
        .trim()
        .chars()
        .filter(|c| *c != '\0')
        .take(SEARCH_MAX)
        .collect();
    let health = if query.health.as_deref() == Some("failing") {
        "failing".to_string()
    } else {
        String::new()
    };
    let sort = Sort::parse(query.sort.as_deref().unwrap_or_default());
    let filter = ListFilter {
        active: match status.as_str() {
            "enabled" => Some(true),
            "disabled" => Some(false),
            _ => None,
        },
        out_of_order: status == "out_of_order",
        webhook_type: WebhookType::from_code(&type_code),
        product_id: ProductId::parse(&product),
        search: (!q.is_empty()).then(|| q.clone()),
        failing: !health.is_empty(),
    };
    let page = match (
        query.after.as_deref().and_then(|c| ListCursor::decode(c, sort)),
        query.before.as_deref().and_then(|c| ListCursor::decode(c, sort)),
    ) {
        (Some(c), _) => Page::After(c),
        (None, Some(c)) => Page::Before(c),
        _ => Page::First,
    };
    let result = store::list(&state.pool, &user.account_id, &filter, sort, page, PAGE_SIZE).await?;
    // The page's health: one query for its webhooks' last 24 hours.
    let now = chrono::Utc::now();
    let ids: Vec<_> = result.rows.iter().map(|w| w.id.clone()).collect();
    let mut days = store::health::last_day(&state.pool, &user.account_id, &ids, now).await?;
    let query_with = |sort: &str, extra: Option<(&str, String)>| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("status", status.as_str()),
            ("type", &type_code),
            ("product", &product),
            ("q", &q),
            ("health", &health),
            ("sort", sort),
        ] {
            if !v.is_empty() {
                s.append_pair(k, v);
            }
        }
        if let Some((k, v)) = extra {
            s.append_pair(k, &v);
        }
        format!("/webhooks?{}", s.finish())
    };
    let base_query = |extra: (&str, String)| query_with(sort.param(), Some(extra));
    let health_sort = if sort == Sort::HealthWorst {
        Sort::HealthBest
    } else {
        Sort::HealthWorst
    };
    Ok(ListPageView {
        layout: layout.titled("Webhooks", Nav::Webhooks),
        total: count_label(result.total, result.total_capped),
        next_url: result.next.map(|c| base_query(("after", c.encode()))),
        prev_url: result.prev.map(|c| base_query(("before", c.encode()))),
        health_sort_url: query_with(health_sort.param(), None),
        rows: result
            .rows
            .into_iter()
            .map(|w| {
                let cell = HealthCell::new(&days.remove(&w.id).unwrap_or_default(), now);
                (w, cell)
            })
            .collect(),
        products: store::products_for(&state.pool, &user).await?,
        // A distributor is offered only the types it can have (no vendor-only validators).
        types: WebhookType::ALL
            .iter()
            .filter(|t| user.account_kind == AccountKind::Vendor || !t.info().vendors_only)
            .map(|t| (t.code(), t.label()))
            .collect(),
        filtered: filter.active.is_some()
            || filter.out_of_order
            || filter.webhook_type.is_some()
            || filter.product_id.is_some()
            || filter.search.is_some()
            || filter.failing,
        sort: sort.param(),
        health,
        status,
        type_code,
        product,
        q,
    })
}

/// How many webhooks match, as the list's foot says it: "1 webhook", "10,000+ webhooks".
fn count_label(total: i64, capped: bool) -> String {
    let n = if capped { total + 1 } else { total };
    let noun = if n == 1 { "webhook" } else { "webhooks" };
    format!("{} {noun}", crate::render::count(n))
}

#[cfg(test)]
mod tests {
    use super::count_label;

    #[test]
    fn the_foot_says_how_many() {
        assert_eq!(count_label(1, false), "1 webhook");
        assert_eq!(count_label(30, false), "30 webhooks");
        assert_eq!(count_label(10_000, true), "10,000+ webhooks");
    }
}
