//! The five-step creation wizard: General → Product → Type → HTTP settings → Additional data.
//!
//! What the user types lives in a server-side draft (in the session), so Back and Next keep
//! everything, and a step can only be reached once the steps before it were validated on the
//! server. Every step is a plain form post that answers with a redirect; htmx requests get
//! the next panel directly.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use super::model::{self, FieldErrors, ObjectClass, WebhookType};
use super::store::{self, NewWebhook, Product};
use crate::auth::session::{flash, FlashKind};
use crate::auth::{CurrentUser, Permission};
use crate::delivery::policy::EndpointCheck;
use crate::domain::PayloadFormat;
use crate::error::{AppError, AppResult};
use crate::forms::FormFields;
use crate::ids::ProductId;
use crate::layout::{page, Layout, Nav};
use crate::render::html;
use crate::state::AppState;

mod draft;

pub use self::draft::{apply_http_action, read_headers, Draft, Step};
use self::draft::{clear_draft, load_draft, save_draft, validate};
pub struct TypeOption {
    pub code: &'static str,
    pub label: &'static str,
    pub description: &'static str,
    pub object_class: ObjectClass,
    pub unavailable: Option<String>,
}

/// What the wizard panel shows; shared by the full page and the htmx fragment.
pub struct WizardView {
    pub step: Step,
    pub steps: [Step; 5],
    pub draft: Draft,
    pub errors: FieldErrors,
    pub products: Vec<Product>,
    pub types: Vec<TypeOption>,
    pub csrf_token: String,
}

impl WizardView {
    pub fn step_class(&self, s: &Step) -> &'static str {
        if *s == self.step {
            "current"
        } else if s.number() <= self.draft.completed {
            "done"
        } else {
            ""
        }
    }
    pub fn sends_body(&self) -> bool {
        self.draft.method().sends_body()
    }
    pub fn selected_product(&self) -> Option<&Product> {
        self.products.iter().find(|p| p.id == self.draft.product_id)
    }
    /// The type choice that takes the focus when the type was refused: the first one offered.
    pub fn has_error_focus_type(&self, code: &str) -> bool {
        self.errors.focus("type", false)
            && self
                .types
                .iter()
                .find(|t| t.unavailable.is_none())
                .is_some_and(|t| t.code == code)
    }
    pub fn selected_type_label(&self) -> &'static str {
        WebhookType::from_code(&self.draft.type_code)
            .map(|t| t.label())
            .unwrap_or("")
    }
}

#[derive(Template)]
#[template(path = "webhooks/wizard.html")]
struct WizardPage {
    layout: Layout,
    w: WizardView,
}
page!(WizardPage);

#[derive(Template)]
#[template(path = "webhooks/_wizard_panel.html")]
struct WizardPanel {
    w: WizardView,
}
html!(WizardPanel);

async fn view(
    state: &AppState,
    user: &CurrentUser,
    csrf_token: &str,
    step: Step,
    draft: Draft,
    errors: FieldErrors,
) -> AppResult<WizardView> {
    let products = store::products_for(&state.pool, user).await?;
    let caps = products
        .iter()
        .find(|p| p.id == draft.product_id)
        .map(|p| p.capabilities.clone())
        .unwrap_or_default();
    let types = WebhookType::ALL
        .into_iter()
        // Types a distributor may never use are not offered at all.
        .filter(|t| !(t.info().vendors_only && user.account_kind != crate::auth::AccountKind::Vendor))
        .map(|t| {
            let i = t.info();
            TypeOption {
                code: i.code,
                label: i.label,
                description: i.description,
                object_class: i.object_class,
                unavailable: t.unavailable_reason(user.account_kind, &caps),
            }
        })
        .collect();
    Ok(WizardView {
        step,
        steps: Step::ALL,
        draft,
        errors,
        products,
        types,
        csrf_token: csrf_token.to_string(),
    })
}

/// The request a wizard response is rendered for.
struct Cx<'a> {
    state: &'a AppState,
    user: &'a CurrentUser,
    session: &'a Session,
    layout: &'a Layout,
    headers: &'a HeaderMap,
}

pub fn is_htmx(headers: &HeaderMap) -> bool {
    headers.contains_key("hx-request")
}

/// Renders the step: the panel for htmx (and pushes its URL), the whole page otherwise.
async fn render(cx: &Cx<'_>, status: StatusCode, step: Step, draft: Draft, errors: FieldErrors) -> AppResult<Response> {
    let w = view(cx.state, cx.user, &cx.layout.csrf_token, step, draft, errors).await?;
    let mut response = if is_htmx(cx.headers) {
        let mut panel = (status, WizardPanel { w }).into_response();
        if let Ok(v) = HeaderValue::from_str(&step.url()) {
            panel.headers_mut().insert(HeaderName::from_static("hx-push-url"), v);
        }
        panel
    } else {
        let layout = cx
            .layout
            .clone()
            .titled(format!("Create webhook – Step {}", step.number()), Nav::Webhooks);
        (status, WizardPage { layout, w }).into_response()
    };
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("HX-Request"));
    Ok(response)
}

/// `GET /webhooks/new`: continue the draft where it stands (or start one).
pub async fn start(user: CurrentUser, session: Session) -> AppResult<Response> {
    user.require(Permission::CreateWebhooks)?;
    let draft = load_draft(&session).await?;
    Ok(Redirect::to(&Step::from_number((draft.completed + 1).min(5)).url()).into_response())
}

/// `GET /webhooks/new/{step}`
pub async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    layout: Layout,
    headers: HeaderMap,
    Path(slug): Path<String>,
) -> AppResult<Response> {
    user.require(Permission::CreateWebhooks)?;
    let step = Step::from_slug(&slug).ok_or(AppError::NotFound)?;
    let draft = load_draft(&session).await?;
    if step.number() > draft.completed + 1 {
        // Steps are taken in order: go to the first one not yet done.
        return Ok(Redirect::to(&Step::from_number(draft.completed + 1).url()).into_response());
    }
    save_draft(&session, &draft).await?;
    let cx = Cx {
        state: &state,
        user: &user,
        session: &session,
        layout: &layout,
        headers: &headers,
    };
    render(&cx, StatusCode::OK, step, draft, FieldErrors::default()).await
}

/// `POST /webhooks/new/{step}` with `action` = next | back | create | regenerate_secret |
/// add_header | remove_header:<i>.
pub async fn submit(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    layout: Layout,
    headers: HeaderMap,
    Path(slug): Path<String>,
    form: FormFields,
) -> AppResult<Response> {
    user.require(Permission::CreateWebhooks)?;
    let step = Step::from_slug(&slug).ok_or(AppError::NotFound)?;
    let mut draft = load_draft(&session).await?;
    if step.number() > draft.completed + 1 {
        return Ok(Redirect::to(&Step::from_number(draft.completed + 1).url()).into_response());
    }
    draft.apply(step, &form);
    let action = form.get("action").to_string();
    let products = store::products_for(&state.pool, &user).await?;

    let cx = Cx {
        state: &state,
        user: &user,
        session: &session,
        layout: &layout,
        headers: &headers,
    };
    match action.as_str() {
        "cancel" => {
            clear_draft(&session).await?;
            flash(
                &session,
                FlashKind::Success,
                "Webhook creation cancelled; nothing was saved.",
            )
            .await?;
            Ok(redirect(&headers, "/webhooks"))
        }
        "back" => {
            draft.completed = draft.completed.min(step.number().saturating_sub(1));
            save_draft(&session, &draft).await?;
            go_to(&cx, step.prev().unwrap_or(Step::General), draft).await
        }
        a if step == Step::Http && apply_http_action(a, &mut draft.jwt_secret, &mut draft.headers) => {
            save_draft(&session, &draft).await?;
            render(&cx, StatusCode::OK, step, draft, FieldErrors::default()).await
        }
        "create" if step == Step::Data => create(&cx, draft, &products).await,
        _ => {
            // Next (also the default when Enter submits the form).
            let mut errors = validate(step, &draft, &user, &products);
            if step == Step::Http && errors.is_empty() {
                // The endpoint by the calls' own rules, DNS included, before it is saved.
                draft.endpoint_note = None;
                match state.endpoint_policy().check_url(&draft.external_url).await {
                    EndpointCheck::Callable => {}
                    EndpointCheck::Forbidden(why) => errors.add("external_url", why),
                    EndpointCheck::Unresolved(why) => draft.endpoint_note = Some(why),
                }
            }
            if !errors.is_empty() {
                draft.completed = draft.completed.min(step.number() - 1);
                save_draft(&session, &draft).await?;
                return render(&cx, StatusCode::UNPROCESSABLE_ENTITY, step, draft, errors).await;
            }
            draft.completed = draft.completed.max(step.number());
            save_draft(&session, &draft).await?;
            let Some(target) = step.next() else {
                return render(&cx, StatusCode::OK, step, draft, FieldErrors::default()).await;
            };
            go_to(&cx, target, draft).await
        }
    }
}

/// Moves to another step: a redirect for plain forms, the step's panel for htmx.
async fn go_to(cx: &Cx<'_>, target: Step, draft: Draft) -> AppResult<Response> {
    if is_htmx(cx.headers) {
        render(cx, StatusCode::OK, target, draft, FieldErrors::default()).await
    } else {
        Ok(Redirect::to(&target.url()).into_response())
    }
}

/// Validates every step once more (products or roles may have changed) and creates the webhook.
async fn create(cx: &Cx<'_>, mut draft: Draft, products: &[Product]) -> AppResult<Response> {
    let Cx {
        state,
        user,
        session,
        headers,
        ..
    } = *cx;
    for step in Step::ALL {
        let errors = validate(step, &draft, user, products);
        if !errors.is_empty() {
            draft.completed = step.number() - 1;
            save_draft(session, &draft).await?;
            return render(cx, StatusCode::UNPROCESSABLE_ENTITY, step, draft, errors).await;
        }
    }
    let method = draft.method();
    let mut ignored = FieldErrors::default();
    let data = match method {
        m if m.sends_body() => model::parse_data(&draft.data, &mut ignored).unwrap_or_default(),
        _ => serde_json::Map::new(),
    };
    let webhook_type = WebhookType::from_code(&draft.type_code)
        .ok_or_else(|| AppError::BadRequest("Select a webhook type.".into()))?;
    let new = NewWebhook {
        product_id: ProductId::parse(&draft.product_id)
            .ok_or_else(|| AppError::BadRequest("Select a product.".into()))?,
        webhook_type,
        label: draft.name.trim().to_string(),
        description: draft.description.clone(),
        active: draft.enabled,
        external_url: draft.external_url.trim().to_string(),
        jwt_secret: draft.jwt_secret.clone(),
        http_method: method,
        payload_format: model::parse_payload_format(&draft.payload_format, &mut ignored).unwrap_or(PayloadFormat::Json),
        md5_wrap: draft.md5_wrap,
        headers: draft.headers.clone(),
        data,
        rate_limit: model::parse_rate_limit(&draft.rate_limit, &mut ignored),
    };
    let mut tx = state.pool.begin().await?;
    let id = store::insert(&mut tx, user, &new).await?;
    store::audited::record_created(&mut tx, &user.account_id, &crate::audit::Actor::from(user), &id).await?;
    tx.commit().await?;
    clear_draft(session).await?;
    tracing::info!(webhook = %id, user = %user.id, "webhook created");
    flash(
        session,
        FlashKind::Success,
        format!("Webhook “{}” created ({id}).", new.label),
    )
    .await?;
    Ok(redirect(headers, &format!("/webhooks/{id}")))
}

/// A full-page redirect: `HX-Redirect` for htmx, 303 otherwise.
pub fn redirect(headers: &HeaderMap, location: &str) -> Response {
    if is_htmx(headers) {
        let mut r = StatusCode::OK.into_response();
        if let Ok(v) = HeaderValue::from_str(location) {
            r.headers_mut().insert(HeaderName::from_static("hx-redirect"), v);
        }
        return r;
    }
    Redirect::to(location).into_response()
}
