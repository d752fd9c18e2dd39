//! Webhook pages: the list, the creation wizard, the details tabs and the edit forms.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use tower_sessions::Session;

use super::model::{self, FieldErrors, WebhookType};
use super::store::{self, Cursor, ListFilter, Page, Product, Webhook};
use super::wizard;
use crate::auth::session::{flash, FlashKind};
use crate::auth::CurrentUser;
use crate::error::{AppError, AppResult};
use crate::forms::FormFields;
use crate::layout::Layout;
use crate::state::AppState;

pub const PAGE_SIZE: usize = 25;
const SEARCH_MAX: usize = 128;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks", get(list))
        .route("/webhooks/new", get(wizard::start))
        .route("/webhooks/new/{step}", get(wizard::show).post(wizard::submit))
        .route("/webhooks/{id}", get(tab_general))
        .route("/webhooks/{id}/statistics", get(tab_statistics))
        .route("/webhooks/{id}/http", get(tab_http))
        .route("/webhooks/{id}/data", get(tab_data))
        .route("/webhooks/{id}/deliveries", get(tab_deliveries))
        .route("/webhooks/{id}/deliveries/{attempt}", get(attempt_view))
        .route("/webhooks/{id}/trigger", post(trigger_now))
        .route("/webhooks/{id}/enable", post(enable))
        .route("/webhooks/{id}/disable", post(disable))
        .route("/webhooks/{id}/delete", get(delete_confirm).post(delete))
        .route("/webhooks/{id}/edit", get(edit_redirect))
        .route("/webhooks/{id}/edit/{section}", get(edit_form).post(edit_submit))
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
    let filter = ListFilter {
        active: match status.as_str() {
            "enabled" => Some(true),
            "disabled" => Some(false),
            _ => None,
        },
        out_of_order: status == "out_of_order",
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
            || filter.out_of_order
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

// ---------------------------------------------------------------------------------------
// Details: header and the four tabs.

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    General,
    Statistics,
    Http,
    Data,
    Deliveries,
}

impl Tab {
    pub const ALL: [Tab; 5] = [Tab::General, Tab::Statistics, Tab::Http, Tab::Data, Tab::Deliveries];
    pub fn label(self) -> &'static str {
        match self {
            Tab::General => "General",
            Tab::Statistics => "Statistics",
            Tab::Http => "HTTP settings",
            Tab::Data => "Custom data",
            Tab::Deliveries => "Deliveries",
        }
    }
    pub fn path(self, id: &str) -> String {
        match self {
            Tab::General => format!("/webhooks/{id}"),
            Tab::Statistics => format!("/webhooks/{id}/statistics"),
            Tab::Http => format!("/webhooks/{id}/http"),
            Tab::Data => format!("/webhooks/{id}/data"),
            Tab::Deliveries => format!("/webhooks/{id}/deliveries"),
        }
    }
}

/// What the tabs partial needs; shared by the page and the htmx fragment.
pub struct DetailsView {
    pub w: Webhook,
    pub tab: Tab,
    pub tabs: [Tab; 5],
    pub is_admin: bool,
    pub reveal: bool,
    /// Rendered as an htmx fragment: the header's status chip is updated out of band.
    pub fragment: bool,
    /// `Some(soon)` while a call is pending or in flight: the statistics refresh themselves.
    pub busy: Option<bool>,
    pub deliveries: DeliveriesView,
    /// "Create test request": the request kind and starting status that make this webhook fire.
    /// Offer "Create test request" (it goes to the requests feature with the webhook's id).
    pub test_request: bool,
}

/// The Deliveries tab: a page of attempts with its filter and paging links.
#[derive(Default)]
pub struct DeliveriesView {
    pub attempts: Vec<store::Attempt>,
    pub outcome: String,
    pub next_url: Option<String>,
}

impl DetailsView {
    /// "—" until a value exists, as the Connect statistics show it.
    pub fn count_or_dash(&self, n: &i64) -> String {
        if *n == 0 {
            "—".to_string()
        } else {
            n.to_string()
        }
    }

    pub fn time_or_dash(&self, t: &Option<chrono::DateTime<chrono::Utc>>) -> String {
        t.map(|t| t.format("%m/%d/%Y %H:%M:%S UTC").to_string())
            .unwrap_or_else(|| "—".to_string())
    }
}

#[derive(Template)]
#[template(path = "webhooks/details.html")]
struct DetailsPage {
    layout: Layout,
    d: DetailsView,
}

#[derive(Template)]
#[template(path = "webhooks/_tabs.html")]
struct TabsPartial {
    d: DetailsView,
}

async fn find(state: &AppState, user: &CurrentUser, id: &str) -> AppResult<Webhook> {
    if !crate::ids::has_shape(id, "WH", 3) {
        return Err(AppError::NotFound);
    }
    store::get(&state.pool, &user.account_id, id)
        .await?
        .ok_or(AppError::NotFound)
}

#[derive(Deserialize, Default)]
pub struct TabQuery {
    reveal: Option<String>,
    outcome: Option<String>,
    before: Option<String>,
}

const DELIVERIES_PAGE: i64 = 25;

async fn deliveries_view(state: &AppState, id: &str, query: &TabQuery) -> AppResult<DeliveriesView> {
    let outcome = query.outcome.clone().unwrap_or_default();
    let success = match outcome.as_str() {
        "success" => Some(true),
        "failure" => Some(false),
        _ => None,
    };
    let before = query.before.as_deref().and_then(|b| b.parse::<i64>().ok());
    let mut attempts = store::attempts(&state.pool, id, success, before, DELIVERIES_PAGE + 1).await?;
    let more = attempts.len() as i64 > DELIVERIES_PAGE;
    attempts.truncate(DELIVERIES_PAGE as usize);
    let next_url = match (more, attempts.last()) {
        (true, Some(last)) => Some(format!(
            "/webhooks/{id}/deliveries?{}before={}",
            if success.is_some() {
                format!("outcome={outcome}&")
            } else {
                String::new()
            },
            last.id
        )),
        _ => None,
    };
    Ok(DeliveriesView {
        attempts,
        outcome,
        next_url,
    })
}

async fn details_tab(
    state: AppState,
    user: CurrentUser,
    session: Session,
    headers: HeaderMap,
    id: String,
    tab: Tab,
    query: TabQuery,
) -> AppResult<Response> {
    let w = find(&state, &user, &id).await?;
    let reveal = tab == Tab::Http && query.reveal.as_deref() == Some("1");
    if reveal {
        // Only admins may see the secret in clear.
        user.require_admin()?;
    }
    let busy = match tab {
        Tab::Statistics | Tab::Deliveries => store::delivery_busy(&state.pool, &id).await?,
        _ => None,
    };
    let deliveries = match tab {
        Tab::Deliveries => deliveries_view(&state, &id, &query).await?,
        _ => DeliveriesView::default(),
    };
    let wants_fragment = wizard::is_htmx(&headers) && headers.get("hx-target").is_some_and(|t| t == "tabs");
    // Every webhook type has a test request that makes it fire (the requests feature knows
    // which); vendors create test requests in their products' queues.
    let test_request = user.account_kind == crate::auth::AccountKind::Vendor && w.webhook_type().is_some();
    let d = DetailsView {
        w,
        tab,
        tabs: Tab::ALL,
        is_admin: user.is_admin(),
        reveal,
        fragment: wants_fragment,
        busy,
        deliveries,
        test_request,
    };
    let mut response = if wants_fragment {
        Html(TabsPartial { d }.render()?).into_response()
    } else {
        let layout = Layout::new(&user, &session, d.w.label.clone(), "webhooks").await?;
        Html(DetailsPage { layout, d }.render()?).into_response()
    };
    response.headers_mut().insert(
        axum::http::header::VARY,
        HeaderValue::from_static("HX-Request, HX-Target"),
    );
    Ok(response)
}

macro_rules! tab_handler {
    ($name:ident, $tab:expr) => {
        async fn $name(
            State(s): State<AppState>,
            u: CurrentUser,
            se: Session,
            h: HeaderMap,
            Path(id): Path<String>,
            Query(q): Query<TabQuery>,
        ) -> AppResult<Response> {
            details_tab(s, u, se, h, id, $tab, q).await
        }
    };
}
tab_handler!(tab_general, Tab::General);
tab_handler!(tab_statistics, Tab::Statistics);
tab_handler!(tab_http, Tab::Http);
tab_handler!(tab_data, Tab::Data);
tab_handler!(tab_deliveries, Tab::Deliveries);

#[derive(Template)]
#[template(path = "webhooks/attempt.html")]
struct AttemptPage {
    layout: Layout,
    w: Webhook,
    a: store::Attempt,
}

/// One call: the request as sent (token redacted) and the response or error.
async fn attempt_view(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    Path((id, attempt)): Path<(String, String)>,
) -> AppResult<Response> {
    let w = find(&state, &user, &id).await?;
    let attempt_id: i64 = attempt
        .trim_start_matches("WHA-")
        .parse()
        .map_err(|_| AppError::NotFound)?;
    let a = store::attempt(&state.pool, &id, attempt_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let layout = Layout::new(&user, &session, format!("Call WHA-{} of {}", a.id, w.label), "webhooks").await?;
    Ok(Html(AttemptPage { layout, w, a }.render()?).into_response())
}

// ---------------------------------------------------------------------------------------
// Trigger now.

async fn trigger_now(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: FormFields,
) -> AppResult<Response> {
    user.require_admin()?;
    let w = find(&state, &user, &id).await?;
    let mut tx = state.pool.begin().await?;
    let outcome = crate::events::record(&mut tx, &id, crate::events::Source::TriggerNow, None).await?;
    tx.commit().await?;
    tracing::info!(webhook = %id, user = %user.id, ?outcome, "trigger now");
    let (kind, message) = match outcome {
        crate::events::Outcome::Scheduled => (
            FlashKind::Success,
            format!(
                "“{}” triggered: the call is on its way. Statistics update when it completes.",
                w.label
            ),
        ),
        crate::events::Outcome::RecordedDisabled => (
            FlashKind::Error,
            format!(
                "“{}” is disabled: the event was recorded, but no call is made. Enable the webhook to deliver.",
                w.label
            ),
        ),
        crate::events::Outcome::RecordedOutOfOrder => (
            FlashKind::Error,
            format!("“{}” is out of order: the event was recorded.", w.label),
        ),
    };
    flash(&session, kind, message).await?;
    let back = if form.get("back") == "list" {
        "/webhooks".to_string()
    } else {
        Tab::Statistics.path(&id)
    };
    Ok(wizard::redirect(&headers, &back))
}

// ---------------------------------------------------------------------------------------
// Enable / disable / delete.

async fn set_status(
    state: &AppState,
    user: &CurrentUser,
    session: &Session,
    headers: &HeaderMap,
    id: &str,
    active: bool,
    form: &FormFields,
) -> AppResult<Response> {
    user.require_admin()?;
    let w = find(state, user, id).await?;
    store::set_active(&state.pool, user, id, active).await?;
    tracing::info!(webhook = %id, user = %user.id, active, "webhook status changed");
    let verb = if active { "enabled" } else { "disabled" };
    flash(session, FlashKind::Success, format!("Webhook “{}” {verb}.", w.label)).await?;
    let back = if form.get("back") == "list" {
        "/webhooks".to_string()
    } else {
        format!("/webhooks/{id}")
    };
    Ok(wizard::redirect(headers, &back))
}

async fn enable(
    State(s): State<AppState>,
    u: CurrentUser,
    se: Session,
    h: HeaderMap,
    Path(id): Path<String>,
    f: FormFields,
) -> AppResult<Response> {
    set_status(&s, &u, &se, &h, &id, true, &f).await
}
async fn disable(
    State(s): State<AppState>,
    u: CurrentUser,
    se: Session,
    h: HeaderMap,
    Path(id): Path<String>,
    f: FormFields,
) -> AppResult<Response> {
    set_status(&s, &u, &se, &h, &id, false, &f).await
}

#[derive(Template)]
#[template(path = "webhooks/delete.html")]
struct DeletePage {
    layout: Layout,
    w: Webhook,
}

async fn delete_confirm(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let w = find(&state, &user, &id).await?;
    user.require_admin()?;
    let layout = Layout::new(&user, &session, format!("Delete {}", w.label), "webhooks").await?;
    Ok(Html(DeletePage { layout, w }.render()?).into_response())
}

async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> AppResult<Response> {
    user.require_admin()?;
    let w = find(&state, &user, &id).await?;
    store::delete(&state.pool, &user.account_id, &id).await?;
    tracing::info!(webhook = %id, user = %user.id, "webhook deleted");
    flash(
        &session,
        FlashKind::Success,
        format!("Webhook “{}” ({id}) deleted.", w.label),
    )
    .await?;
    Ok(wizard::redirect(&headers, "/webhooks"))
}

// ---------------------------------------------------------------------------------------
// Edit: General, HTTP settings and Custom data, each its own form. Never product or type.

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum EditSection {
    General,
    Http,
    Data,
}

impl EditSection {
    pub const ALL: [EditSection; 3] = [EditSection::General, EditSection::Http, EditSection::Data];
    fn from_slug(slug: &str) -> Option<EditSection> {
        match slug {
            "general" => Some(EditSection::General),
            "http" => Some(EditSection::Http),
            "data" => Some(EditSection::Data),
            _ => None,
        }
    }
    pub fn slug(self) -> &'static str {
        match self {
            EditSection::General => "general",
            EditSection::Http => "http",
            EditSection::Data => "data",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            EditSection::General => "General",
            EditSection::Http => "HTTP settings",
            EditSection::Data => "Custom data",
        }
    }
    fn tab(self) -> Tab {
        match self {
            EditSection::General => Tab::General,
            EditSection::Http => Tab::Http,
            EditSection::Data => Tab::Data,
        }
    }
}

/// The values shown in an edit form: the stored ones, or what was just typed.
pub struct EditValues {
    pub label: String,
    pub description: String,
    pub active: bool,
    pub external_url: String,
    pub jwt_secret: String,
    pub http_method: String,
    pub headers: Vec<(String, String)>,
    pub data: String,
    pub rate_limit: String,
    pub secret_regenerated: bool,
}

impl EditValues {
    fn from_webhook(w: &Webhook) -> Self {
        EditValues {
            label: w.label.clone(),
            description: w.description.clone(),
            active: w.active,
            external_url: w.external_url.clone(),
            jwt_secret: w.jwt_secret.clone(),
            http_method: w.http_method.clone(),
            headers: w.headers.0.clone(),
            data: w.data_pretty(),
            rate_limit: w.rate_limit.map(|n| n.to_string()).unwrap_or_default(),
            secret_regenerated: false,
        }
    }
}

#[derive(Template)]
#[template(path = "webhooks/edit.html")]
struct EditPage {
    layout: Layout,
    w: Webhook,
    section: EditSection,
    sections: [EditSection; 3],
    v: EditValues,
    errors: FieldErrors,
}

async fn edit_redirect(Path(id): Path<String>) -> Redirect {
    Redirect::to(&format!("/webhooks/{id}/edit/general"))
}

async fn edit_form(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    Path((id, slug)): Path<(String, String)>,
) -> AppResult<Response> {
    let w = find(&state, &user, &id).await?;
    user.require_admin()?;
    let section = EditSection::from_slug(&slug).ok_or(AppError::NotFound)?;
    let layout = Layout::new(&user, &session, format!("Edit {}", w.label), "webhooks").await?;
    let v = EditValues::from_webhook(&w);
    let page = EditPage {
        layout,
        w,
        section,
        sections: EditSection::ALL,
        v,
        errors: FieldErrors::default(),
    };
    Ok(Html(page.render()?).into_response())
}

async fn edit_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    headers: HeaderMap,
    Path((id, slug)): Path<(String, String)>,
    form: FormFields,
) -> AppResult<Response> {
    user.require_admin()?;
    let w = find(&state, &user, &id).await?;
    let section = EditSection::from_slug(&slug).ok_or(AppError::NotFound)?;
    let mut v = EditValues::from_webhook(&w);
    let mut errors = FieldErrors::default();
    let action = form.get("action");
    let saved = match section {
        EditSection::General => {
            // As typed: an over-long value is reported with its length and shown again.
            v.label = form.get("name").to_string();
            v.description = form.get("description").to_string();
            v.active = form.checked("enabled");
            model::validate_name(&v.label, &mut errors);
            model::validate_description(&v.description, &mut errors);
            errors.is_empty()
                && store::update_general(&state.pool, &user, &id, &v.label, &v.description, v.active).await?
        }
        EditSection::Http => {
            v.external_url = form.get("external_url").to_string();
            v.jwt_secret = form.get("jwt_secret").to_string();
            v.http_method = form.get("http_method").to_string();
            v.rate_limit = form.get("rate_limit").to_string();
            v.headers = wizard::read_headers(&form);
            if wizard::apply_http_action(action, &mut v.jwt_secret, &mut v.headers) {
                v.secret_regenerated = action == "regenerate_secret";
                false
            } else {
                let method =
                    model::validate_http(&v.external_url, &v.jwt_secret, &v.http_method, &v.headers, &mut errors);
                let rate_limit = model::parse_rate_limit(&v.rate_limit, &mut errors);
                match method {
                    Some(method) if errors.is_empty() => {
                        let http = store::HttpSettings {
                            external_url: &v.external_url,
                            jwt_secret: &v.jwt_secret,
                            method,
                            headers: &v.headers,
                            rate_limit,
                        };
                        store::update_http(&state.pool, &user, &id, &http).await?
                    }
                    _ => false,
                }
            }
        }
        EditSection::Data => {
            v.data = form.get("data").to_string();
            match model::parse_data(&v.data, &mut errors) {
                Some(data) if errors.is_empty() => store::update_data(&state.pool, &user, &id, &data).await?,
                _ => false,
            }
        }
    };
    if saved {
        tracing::info!(webhook = %id, user = %user.id, section = section.slug(), "webhook edited");
        flash(
            &session,
            FlashKind::Success,
            format!("{} of “{}” saved.", section.label(), v.label),
        )
        .await?;
        return Ok(wizard::redirect(&headers, &section.tab().path(&id)));
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let layout = Layout::new(&user, &session, format!("Edit {}", w.label), "webhooks").await?;
    let page = EditPage {
        layout,
        w,
        section,
        sections: EditSection::ALL,
        v,
        errors,
    };
    Ok((status, Html(page.render()?)).into_response())
}
