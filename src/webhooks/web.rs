//! Webhook pages: the list, the creation wizard, the details tabs and the edit forms.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use tower_sessions::Session;

use super::model::WebhookType;
use super::store::{self, Cursor, ListFilter, Page, Product, Webhook};
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::error::AppResult;
use crate::layout::Layout;

pub const PAGE_SIZE: usize = 25;
const SEARCH_MAX: usize = 128;

pub fn router() -> Router<AppState> {
    Router::new().route("/webhooks", get(list))
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    status: Option<String>,
    #[serde(rename = "type")]
    type_code: Option<String>,
    product: Option<String>,
    q: Option<String>,
    after: Option<String>,
    before: Option<String>,
}

#[derive(Template)]
#[template(path = "webhooks/list.html")]
struct ListPageView {
    layout: Layout,
    rows: Vec<Webhook>,
    total: i64,
    products: Vec<Product>,
    types: Vec<(&'static str, &'static str)>,
    status: String,
    type_code: String,
    product: String,
    q: String,
    filtered: bool,
    next_url: Option<String>,
    prev_url: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    Query(query): Query<ListQuery>,
) -> AppResult<Response> {
    let status = query.status.unwrap_or_default();
    let type_code = query.type_code.unwrap_or_default();
    let product = query.product.unwrap_or_default();
    let q: String = query.q.unwrap_or_default().trim().chars().take(SEARCH_MAX).collect();
    let filter = ListFilter {
        active: match status.as_str() {
            "enabled" => Some(true),
            "disabled" => Some(false),
            _ => None,
        },
        webhook_type: WebhookType::from_code(&type_code),
        product_id: (!product.is_empty()).then(|| product.clone()),
        search: (!q.is_empty()).then(|| q.clone()),
    };
    let page = match (
        query.after.as_deref().and_then(Cursor::decode),
        query.before.as_deref().and_then(Cursor::decode),
    ) {
        (Some(c), _) => Page::After(c),
        (None, Some(c)) => Page::Before(c),
        _ => Page::First,
    };
    let result = store::list(&state.pool, &user.account_id, &filter, page, PAGE_SIZE).await?;
    let base_query = |extra: (&str, String)| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("status", &status),
            ("type", &type_code),
            ("product", &product),
            ("q", &q),
        ] {
            if !v.is_empty() {
                s.append_pair(k, v);
            }
        }
        s.append_pair(extra.0, &extra.1);
        format!("/webhooks?{}", s.finish())
    };
    let view = ListPageView {
        layout: Layout::new(&user, &session, "Webhooks", "webhooks").await?,
        total: result.total,
        next_url: result.next.map(|c| base_query(("after", c.encode()))),
        prev_url: result.prev.map(|c| base_query(("before", c.encode()))),
        rows: result.rows,
        products: store::products_for(&state.pool, &user).await?,
        types: WebhookType::ALL.iter().map(|t| (t.code(), t.label())).collect(),
        filtered: filter.active.is_some()
            || filter.webhook_type.is_some()
            || filter.product_id.is_some()
            || filter.search.is_some(),
        status,
        type_code,
        product,
        q,
    };
    Ok(Html(view.render()?).into_response())
}
