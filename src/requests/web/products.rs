//! `/products` and a product's page: its queues, its webhooks and Create test request.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use tower_sessions::Session;

use super::{find_product, PAGE_SIZE, PARAMS_MAX, PARAM_ID_MAX, PARAM_VALUE_MAX};
use crate::auth::session::{flash, FlashKind};
use crate::auth::{AccountKind, CurrentUser, Permission};
use crate::dates::filters;
use crate::domain::ObjectClass;
use crate::error::{AppError, AppResult};
use crate::forms::FormFields;
use crate::ids::{ProductId, WebhookId};
use crate::layout::{page, Layout, Nav};
use crate::requests::store::{ProductRow, QueueFilter};
use crate::requests::validation::{self, Outcome, Stage};
use crate::requests::{NewRequest, Param, Request, RequestKind, RequestStatus, KINDS};
use crate::state::AppState;
use crate::webhooks::store::{self as webhook_store, Product};

#[derive(Template)]
#[template(path = "products/list.html")]
pub(super) struct ProductsPage {
    layout: Layout,
    rows: Vec<ProductRow>,
}
page!(ProductsPage);

pub(super) async fn products(
    State(state): State<AppState>,
    user: CurrentUser,
    layout: Layout,
) -> AppResult<ProductsPage> {
    let ids: Vec<ProductId> = webhook_store::products_for(&state.pool, &user)
        .await?
        .into_iter()
        .map(|p| p.id)
        .collect();
    let rows = crate::requests::store::product_rows(&state.pool, &user.account_id, &ids).await?;
    let layout = layout.titled("Products", Nav::Products);
    Ok(ProductsPage { layout, rows })
}

#[derive(Deserialize, Default)]
pub(super) struct QueueQuery {
    class: Option<String>,
    status: Option<String>,
    page: Option<String>,
}

/// The create form as typed, with its errors.
#[derive(Default)]
pub(super) struct CreateForm {
    kind: String,
    status: String,
    params: String,
    kind_error: Option<String>,
    status_error: Option<String>,
    params_error: Option<String>,
}

#[derive(Template)]
#[template(path = "products/product.html")]
pub(super) struct ProductPage {
    layout: Layout,
    product: Product,
    /// Vendors create test requests in their own products' queues.
    can_create: bool,
    kinds: &'static [RequestKind],
    form: CreateForm,
    /// The queue filter's choices, by their names in the query string (`class`, `status`).
    classes: Vec<(&'static str, &'static str)>,
    statuses: [&'static str; 5],
    class: String,
    status: String,
    requests: Vec<Request>,
    total: i64,
    page: i64,
    pages: i64,
    /// The newest few; the list filtered by product has them all.
    webhooks: Vec<webhook_store::Webhook>,
    webhook_count: i64,
}

/// How many of its webhooks the product page lists.
const PRODUCT_WEBHOOKS_SHOWN: i64 = 10;
page!(ProductPage);

impl ProductPage {
    fn prev_url(&self) -> Option<String> {
        (self.page > 1).then(|| self.page_url(self.page - 1))
    }
    fn next_url(&self) -> Option<String> {
        (self.page < self.pages).then(|| self.page_url(self.page + 1))
    }
    fn page_url(&self, page: i64) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        if !self.class.is_empty() {
            s.append_pair("class", &self.class);
        }
        if !self.status.is_empty() {
            s.append_pair("status", &self.status);
        }
        s.append_pair("page", &page.to_string());
        format!("/products/{}?{}#queue", self.product.id, s.finish())
    }
}

/// The product's page: a page of its queue and the create form as typed.
pub(super) async fn product_view(
    state: &AppState,
    user: &CurrentUser,
    layout: Layout,
    product: Product,
    query: QueueQuery,
    form: CreateForm,
) -> AppResult<ProductPage> {
    // An unknown class or status is no filter.
    let class = query.class.as_deref().and_then(ObjectClass::parse);
    let status = query.status.as_deref().and_then(RequestStatus::parse);
    let page = query
        .page
        .and_then(|p| p.parse::<i64>().ok())
        .unwrap_or(1)
        .clamp(1, 100_000);
    let filter = QueueFilter {
        account_id: &user.account_id,
        product_id: &product.id,
        class,
        status,
    };
    let (total, requests) = crate::requests::store::queue_page(&state.pool, &filter, page, PAGE_SIZE).await?;
    let (webhooks, webhook_count) =
        webhook_store::newest_on_product(&state.pool, &user.account_id, &product.id, PRODUCT_WEBHOOKS_SHOWN).await?;
    Ok(ProductPage {
        layout: layout.titled(product.name.clone(), Nav::Products),
        can_create: user.account_kind == AccountKind::Vendor,
        product,
        kinds: &KINDS,
        form,
        classes: ObjectClass::ALL.iter().map(|c| (c.as_str(), c.queue_label())).collect(),
        statuses: RequestStatus::ALL.map(RequestStatus::as_str),
        class: class.map(|c| c.as_str().to_string()).unwrap_or_default(),
        status: status.map(|s| s.as_str().to_string()).unwrap_or_default(),
        requests,
        total,
        page,
        pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
        webhooks,
        webhook_count,
    })
}

pub(super) async fn product_page(
    State(state): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Path(id): Path<String>,
    Query(query): Query<QueueQuery>,
) -> AppResult<ProductPage> {
    let product = find_product(&state, &user, &id).await?;
    let form = CreateForm {
        status: "pending".into(),
        ..CreateForm::default()
    };
    product_view(&state, &user, layout, product, query, form).await
}

/// Parses `id = value` lines; blank lines are skipped.
pub fn parse_params(raw: &str) -> Result<Vec<Param>, String> {
    let mut params: Vec<Param> = Vec::new();
    for (n, line) in raw.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (id, value) = line
            .split_once('=')
            .ok_or_else(|| format!("Line {}: write each parameter as id = value.", n + 1))?;
        let (id, value) = (id.trim(), value.trim());
        if id.is_empty()
            || id.len() > PARAM_ID_MAX
            || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(format!(
                "Line {}: a parameter id is 1–{PARAM_ID_MAX} letters, digits, “_” or “-”.",
                n + 1
            ));
        }
        if value.chars().count() > PARAM_VALUE_MAX || value.contains('\0') {
            return Err(format!(
                "Line {}: a value is at most {PARAM_VALUE_MAX} characters, without NUL characters.",
                n + 1
            ));
        }
        if params.iter().any(|p| p.id == id) {
            return Err(format!("Line {}: “{id}” is given twice.", n + 1));
        }
        if params.len() == PARAMS_MAX {
            return Err(format!("At most {PARAMS_MAX} parameters."));
        }
        params.push(Param {
            id: id.to_string(),
            title: id.to_string(),
            value: value.to_string(),
            value_error: None,
        });
    }
    Ok(params)
}

pub(super) async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    layout: Layout,
    Path(id): Path<String>,
    form: FormFields,
) -> AppResult<Response> {
    let product = find_product(&state, &user, &id).await?;
    user.require(Permission::EditWebhooks)?;
    if user.account_kind != AccountKind::Vendor {
        return Err(AppError::NotAllowed(
            "Test requests are created by the product's vendor.".into(),
        ));
    }
    // "Create test request" on a webhook's details page: the request that makes it fire, and
    // back to the webhook afterwards.
    let from_webhook = match WebhookId::parse(form.get("from_webhook")) {
        Some(w) => webhook_store::get(&state.pool, &user.account_id, &w)
            .await?
            .filter(|w| w.product_id == product.id),
        None => None,
    };
    let mut typed = CreateForm {
        kind: form.get("kind").chars().take(64).collect(),
        status: form.get("status").chars().take(16).collect(),
        params: form.get("params").chars().take(64 * 1024).collect(),
        ..CreateForm::default()
    };
    if let Some((kind, status)) = from_webhook
        .as_ref()
        .filter(|_| typed.kind.is_empty())
        .and_then(|w| w.webhook_type())
        .and_then(validation::test_request_for)
    {
        typed.kind = kind.code.to_string();
        typed.status = status.as_str().to_string();
    }
    let kind = RequestKind::from_code(&typed.kind);
    if kind.is_none() {
        typed.kind_error = Some("Choose the kind of request to create.".into());
    }
    let validated = kind.is_some_and(|k| k.validated);
    let status = RequestStatus::parse(&typed.status);
    match status {
        Some(RequestStatus::Pending) => {}
        Some(RequestStatus::Draft | RequestStatus::Inquiring) if validated || kind.is_none() => {}
        Some(RequestStatus::Draft | RequestStatus::Inquiring) => {
            typed.status_error = Some(
                "Only purchase, change and tier configuration requests start as drafts or inquiring (those are what validation webhooks check)."
                    .into(),
            )
        }
        _ => typed.status_error = Some("Choose Pending, Draft or Inquiring.".into()),
    }
    let params = match parse_params(&typed.params) {
        Ok(p) => Some(p),
        Err(e) => {
            typed.params_error = Some(e);
            None
        }
    };
    let (Some(kind), Some(params), Some(status), None) = (kind, params, status, typed.status_error.as_ref()) else {
        let page = product_view(&state, &user, layout, product, QueueQuery::default(), typed).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    let params = if params.is_empty() {
        kind.default_params()
    } else {
        params
    };
    let request = crate::requests::create_request(
        &state.pool,
        &NewRequest {
            account_id: &user.account_id,
            product_id: &product.id,
            object_class: kind.object_class,
            kind: kind.kind,
            tier_level: kind.tier_level,
            status,
            params: json!(params),
        },
    )
    .await?;
    tracing::info!(request = %request.id, product = %product.id, user = %user.id, "test request created");
    if let Some(stage) = request.validation_stage() {
        let done = run_validation(&state, &session, &request, stage).await?;
        if done || from_webhook.is_none() {
            return Ok(Redirect::to(&format!("/requests/{}", request.id)).into_response());
        }
    } else {
        let watching =
            webhook_store::watching_counts(&state.pool, &user.account_id, &product.id, request.object_class).await?;
        let outcome = match watching {
            (_, 0) => ". No webhook watches this queue yet.".to_string(),
            (0, _) => ". The watching webhooks are disabled: the event is recorded, no call is made.".to_string(),
            (1, _) => ": 1 webhook will be called.".to_string(),
            (n, _) => format!(": {n} webhooks will be called."),
        };
        let message = format!(
            "Test request {} created in the {} queue{outcome}",
            request.id,
            request.object_class.queue_label()
        );
        flash(&session, FlashKind::Success, message).await?;
    }
    Ok(match from_webhook {
        Some(w) => Redirect::to(&format!("/webhooks/{}/statistics", w.id)),
        None => Redirect::to(&format!("/products/{}#queue", product.id)),
    }
    .into_response())
}

/// Calls the validation webhook and flashes the outcome. `false` if there was none to call.
pub(super) async fn run_validation(
    state: &AppState,
    session: &Session,
    request: &Request,
    stage: Stage,
) -> AppResult<bool> {
    match validation::validate(state, request, stage).await? {
        Some(Outcome::Called(updated)) => {
            let v = updated.validation.as_ref().map(|v| v.0.clone()).unwrap_or_default();
            let ok = v["ok"].as_bool().unwrap_or(false);
            let message = v["message"].as_str().unwrap_or_default();
            let text = if ok {
                format!(
                    "{} answered for {}. {message}",
                    v["webhook_name"].as_str().unwrap_or("The webhook"),
                    updated.id
                )
            } else {
                format!("Validation of {} failed. {message}", updated.id)
            };
            flash(session, if ok { FlashKind::Success } else { FlashKind::Error }, text).await?;
            Ok(true)
        }
        Some(Outcome::Superseded) => {
            flash(
                session,
                FlashKind::Error,
                format!(
                    "{} changed while the validation webhook answered; the answer was not applied (the call is in the webhook's Deliveries).",
                    request.id
                ),
            )
            .await?;
            Ok(true)
        }
        Some(Outcome::NoWebhook(t)) => {
            flash(
                session,
                FlashKind::Error,
                format!(
                    "{} is a {} request, but no enabled “{}” webhook exists for this product, so nothing was validated.",
                    request.id,
                    stage.as_str(),
                    t.label()
                ),
            )
            .await?;
            Ok(false)
        }
        None => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_id_value_lines() {
        let p = parse_params("email = a@b.c\n\nseats=10\n").unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!((p[1].id.as_str(), p[1].value.as_str()), ("seats", "10"));
        assert!(parse_params("no equals sign").unwrap_err().contains("Line 1"));
        assert!(parse_params("a=1\na=2").unwrap_err().contains("twice"));
        assert!(parse_params("bad id=1").is_err());
        let many: String = (0..=PARAMS_MAX).map(|i| format!("p{i}=v\n")).collect();
        assert!(parse_params(&many).unwrap_err().contains("At most"));
    }
}
