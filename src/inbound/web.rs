//! Inbound trigger pages: `/inbound` (list), `/inbound/new`, `/inbound/{id}` (endpoint,
//! keys, recent messages), edit, enable/disable, delete, and key add/relabel/delete.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use tower_sessions::Session;

use super::{InboundTrigger, Key, Message, QueryParam, Settings};
use crate::auth::session::{flash, FlashKind};
use crate::auth::CurrentUser;
use crate::error::{AppError, AppResult};
use crate::forms::FormFields;
use crate::layout::Layout;
use crate::state::AppState;
use crate::webhooks::model::OBJECT_CLASSES;
use crate::webhooks::store::{products_for, watching_counts, Product};

const RECENT_MESSAGES: i64 = 20;
/// Session key of a generated inbound key waiting to be shown once.
const NEW_KEY: &str = "inbound_new_key";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/inbound", get(list))
        .route("/inbound/new", get(new_form).post(create))
        .route("/inbound/{id}", get(details))
        .route("/inbound/{id}/edit", get(edit_form).post(edit))
        .route("/inbound/{id}/enable", post(enable))
        .route("/inbound/{id}/disable", post(disable))
        .route("/inbound/{id}/delete", get(delete_confirm).post(delete))
        .route("/inbound/{id}/keys", post(add_key))
        .route("/inbound/{id}/keys/{key}", post(relabel_key))
        .route("/inbound/{id}/keys/{key}/delete", post(delete_key))
}

#[derive(Template)]
#[template(path = "inbound/list.html")]
struct ListPage {
    layout: Layout,
    triggers: Vec<InboundTrigger>,
    public_url: String,
}

async fn list(State(state): State<AppState>, user: CurrentUser, session: Session) -> AppResult<Response> {
    let triggers = super::list(&state.pool, &user.account_id).await?;
    let layout = Layout::new(&user, &session, "Inbound triggers", "inbound").await?;
    Ok(Html(
        ListPage {
            layout,
            triggers,
            public_url: public_base(&state),
        }
        .render()?,
    )
    .into_response())
}

fn public_base(state: &AppState) -> String {
    state.config.public_url.as_str().trim_end_matches('/').to_string()
}

/// The settings form as typed, with its errors.
#[derive(Default)]
struct SettingsForm {
    name: String,
    product_id: String,
    object_class: String,
    ordered: bool,
    request_response: bool,
    max_wait: String,
    params: String,
    name_error: Option<String>,
    product_error: Option<String>,
    class_error: Option<String>,
    max_wait_error: Option<String>,
    params_error: Option<String>,
}

impl SettingsForm {
    fn has_errors(&self) -> bool {
        self.name_error.is_some()
            || self.product_error.is_some()
            || self.class_error.is_some()
            || self.max_wait_error.is_some()
            || self.params_error.is_some()
    }
}

#[derive(Template)]
#[template(path = "inbound/form.html")]
struct FormPage {
    layout: Layout,
    /// `None` when creating.
    trigger: Option<InboundTrigger>,
    form: SettingsForm,
    products: Vec<Product>,
    classes: Vec<(&'static str, &'static str)>,
}

async fn render_form(
    state: &AppState,
    user: &CurrentUser,
    session: &Session,
    trigger: Option<InboundTrigger>,
    form: SettingsForm,
    status: StatusCode,
) -> AppResult<Response> {
    let title = match &trigger {
        Some(t) => format!("Edit {}", t.name),
        None => "New inbound trigger".to_string(),
    };
    let view = FormPage {
        layout: Layout::new(user, session, title, "inbound").await?,
        trigger,
        form,
        products: products_for(&state.pool, user).await?,
        classes: OBJECT_CLASSES
            .iter()
            .map(|c| (*c, crate::requests::queue_label(c)))
            .collect(),
    };
    Ok((status, Html(view.render()?)).into_response())
}

async fn new_form(State(state): State<AppState>, user: CurrentUser, session: Session) -> AppResult<Response> {
    user.require_admin()?;
    let form = SettingsForm {
        max_wait: "10".into(),
        object_class: "fulfillment_request".into(),
        ..SettingsForm::default()
    };
    render_form(&state, &user, &session, None, form, StatusCode::OK).await
}

/// Reads and checks the settings form; `creating` also reads product and object class.
async fn read_settings(
    state: &AppState,
    user: &CurrentUser,
    fields: &FormFields,
    creating: bool,
) -> AppResult<(SettingsForm, Option<Settings>)> {
    let mut form = SettingsForm {
        name: fields.get("name").trim().to_string(),
        product_id: fields.get("product").chars().take(32).collect(),
        object_class: fields.get("object_class").chars().take(32).collect(),
        ordered: fields.checked("ordered"),
        request_response: fields.checked("request_response"),
        max_wait: fields.get("max_wait").trim().chars().take(8).collect(),
        params: fields.get("params").chars().take(32 * 1024).collect(),
        ..SettingsForm::default()
    };
    if form.name.is_empty() {
        form.name_error = Some("Enter a name that says who calls this trigger and why.".into());
    } else if form.name.chars().count() > super::NAME_MAX {
        form.name_error = Some(crate::webhooks::model::too_long(
            super::NAME_MAX,
            form.name.chars().count(),
        ));
    } else if form.name.chars().any(char::is_control) {
        form.name_error = Some("Control characters are not allowed.".into());
    }
    if creating {
        if crate::webhooks::store::product_for(&state.pool, user, &form.product_id)
            .await?
            .is_none()
        {
            form.product_error = Some("Choose one of your products.".into());
        }
        if !OBJECT_CLASSES.contains(&form.object_class.as_str()) {
            form.class_error = Some("Choose the queue whose webhooks the trigger calls.".into());
        }
    }
    let max_wait = match form.max_wait.parse::<i32>() {
        Ok(n) if (1..=super::MAX_WAIT_LIMIT).contains(&n) => n,
        _ if !form.request_response && form.max_wait.is_empty() => 10,
        _ => {
            form.max_wait_error = Some(format!("Enter whole seconds from 1 to {}.", super::MAX_WAIT_LIMIT));
            0
        }
    };
    let params: Vec<QueryParam> = match super::parse_params(&form.params) {
        Ok(p) => p,
        Err(e) => {
            form.params_error = Some(e);
            Vec::new()
        }
    };
    if form.has_errors() {
        return Ok((form, None));
    }
    let settings = Settings {
        name: form.name.clone(),
        product_id: form.product_id.clone(),
        object_class: form.object_class.clone(),
        ordered: form.ordered,
        request_response: form.request_response,
        max_wait_seconds: max_wait,
        query_params: params,
    };
    Ok((form, Some(settings)))
}

async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    fields: FormFields,
) -> AppResult<Response> {
    user.require_admin()?;
    let (form, settings) = read_settings(&state, &user, &fields, true).await?;
    let Some(settings) = settings else {
        return render_form(&state, &user, &session, None, form, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let id = super::create(&state.pool, &user, &settings).await?;
    tracing::info!(trigger = %id, user = %user.id, "inbound trigger created");
    flash(
        &session,
        FlashKind::Success,
        format!(
            "Inbound trigger “{}” created. Add an API key so callers can use it.",
            settings.name
        ),
    )
    .await?;
    Ok(Redirect::to(&format!("/inbound/{id}")).into_response())
}

async fn find(state: &AppState, user: &CurrentUser, id: &str) -> AppResult<InboundTrigger> {
    if !crate::ids::has_shape(id, "IT", 3) {
        return Err(AppError::NotFound);
    }
    super::get(&state.pool, &user.account_id, id)
        .await?
        .ok_or(AppError::NotFound)
}

#[derive(Template)]
#[template(path = "inbound/details.html")]
struct DetailsPage {
    layout: Layout,
    t: InboundTrigger,
    endpoint: String,
    keys: Vec<Key>,
    messages: Vec<Message>,
    /// Webhooks of the product and class: (enabled, total).
    webhooks: (i64, i64),
    key_form: KeyForm,
}

/// The add-key form: what was typed and why it was refused, or the generated key to show once.
#[derive(Default)]
struct KeyForm {
    new_key: Option<String>,
    label: String,
    error: Option<String>,
}

impl DetailsPage {
    /// A curl call with the configured parameters, for the "Call it" box.
    fn curl_example(&self) -> String {
        let query: Vec<String> = self
            .t
            .query_params
            .0
            .iter()
            .map(|p| format!("{}={}", p.name, p.default.as_deref().unwrap_or("…")))
            .collect();
        let url = if query.is_empty() {
            self.endpoint.clone()
        } else {
            format!("{}?{}", self.endpoint, query.join("&"))
        };
        format!(
            "curl -X POST '{url}' \\\n  -H 'X-Api-Key: <key>' \\\n  -H 'Content-Type: application/json' \\\n  -d '{{\"order\": \"WO-1001\"}}'"
        )
    }
}

async fn render_details(
    state: &AppState,
    user: &CurrentUser,
    session: &Session,
    t: InboundTrigger,
    status: StatusCode,
    key_form: KeyForm,
) -> AppResult<Response> {
    let keys = super::keys(&state.pool, &t.id).await?;
    let messages = super::messages(&state.pool, &t.id, RECENT_MESSAGES).await?;
    let webhooks = watching_counts(&state.pool, &t.account_id, &t.product_id, &t.object_class).await?;
    let view = DetailsPage {
        layout: Layout::new(user, session, t.name.clone(), "inbound").await?,
        endpoint: format!("{}/hooks/in/{}", public_base(state), t.id),
        t,
        keys,
        messages,
        webhooks,
        key_form,
    };
    let mut response = (status, Html(view.render()?)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

async fn details(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let t = find(&state, &user, &id).await?;
    // A key generated just before (add_key redirects here): shown this once.
    let new_key = match session
        .remove::<(String, String)>(NEW_KEY)
        .await
        .map_err(|e| AppError::Internal(e.into()))?
    {
        Some((trigger, key)) if trigger == t.id => Some(key),
        _ => None,
    };
    let key_form = KeyForm {
        new_key,
        ..KeyForm::default()
    };
    render_details(&state, &user, &session, t, StatusCode::OK, key_form).await
}

async fn edit_form(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let t = find(&state, &user, &id).await?;
    user.require_admin()?;
    let form = SettingsForm {
        name: t.name.clone(),
        product_id: t.product_id.clone(),
        object_class: t.object_class.clone(),
        ordered: t.ordered,
        request_response: t.request_response,
        max_wait: t.max_wait_seconds.to_string(),
        params: t.params_text(),
        ..SettingsForm::default()
    };
    render_form(&state, &user, &session, Some(t), form, StatusCode::OK).await
}

async fn edit(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    Path(id): Path<String>,
    fields: FormFields,
) -> AppResult<Response> {
    let t = find(&state, &user, &id).await?;
    user.require_admin()?;
    let (mut form, settings) = read_settings(&state, &user, &fields, false).await?;
    let Some(settings) = settings else {
        form.product_id = t.product_id.clone();
        form.object_class = t.object_class.clone();
        return render_form(&state, &user, &session, Some(t), form, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    super::update(&state.pool, &user.account_id, &t.id, &settings).await?;
    flash(&session, FlashKind::Success, "Settings saved.").await?;
    Ok(Redirect::to(&format!("/inbound/{}", t.id)).into_response())
}

async fn set_active(
    state: AppState,
    user: CurrentUser,
    session: Session,
    id: String,
    active: bool,
) -> AppResult<Response> {
    let t = find(&state, &user, &id).await?;
    user.require_admin()?;
    super::set_active(&state.pool, &user.account_id, &t.id, active).await?;
    let text = if active {
        format!("“{}” is enabled: calls with a valid key are accepted.", t.name)
    } else {
        format!("“{}” is disabled: every call gets 404 until you enable it.", t.name)
    };
    flash(&session, FlashKind::Success, text).await?;
    Ok(Redirect::to(&format!("/inbound/{}", t.id)).into_response())
}

async fn enable(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    Path(id): Path<String>,
) -> AppResult<Response> {
    set_active(state, user, session, id, true).await
}

async fn disable(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    Path(id): Path<String>,
) -> AppResult<Response> {
    set_active(state, user, session, id, false).await
}

#[derive(Template)]
#[template(path = "inbound/delete.html")]
struct DeletePage {
    layout: Layout,
    t: InboundTrigger,
}

async fn delete_confirm(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let t = find(&state, &user, &id).await?;
    user.require_admin()?;
    let layout = Layout::new(&user, &session, format!("Delete {}", t.name), "inbound").await?;
    Ok(Html(DeletePage { layout, t }.render()?).into_response())
}

async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let t = find(&state, &user, &id).await?;
    user.require_admin()?;
    super::delete(&state.pool, &user.account_id, &t.id).await?;
    tracing::info!(trigger = %t.id, user = %user.id, "inbound trigger deleted");
    flash(
        &session,
        FlashKind::Success,
        format!(
            "Inbound trigger “{}” ({}) deleted: its URL answers 404 from now on.",
            t.name, t.id
        ),
    )
    .await?;
    Ok(Redirect::to("/inbound").into_response())
}

fn read_label(fields: &FormFields) -> Result<String, (String, String)> {
    let label: String = fields.get("label").trim().to_string();
    if label.is_empty() {
        return Err((label, "Enter a label that names the caller of this key.".into()));
    }
    if label.chars().count() > super::LABEL_MAX {
        let n = label.chars().count();
        return Err((label, crate::webhooks::model::too_long(super::LABEL_MAX, n)));
    }
    if label.chars().any(char::is_control) {
        return Err((label, "Control characters are not allowed.".into()));
    }
    Ok(label)
}

async fn add_key(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    Path(id): Path<String>,
    fields: FormFields,
) -> AppResult<Response> {
    let t = find(&state, &user, &id).await?;
    user.require_admin()?;
    let refused = |label: String, message: String| KeyForm {
        new_key: None,
        label,
        error: Some(message),
    };
    let label = match read_label(&fields) {
        Ok(l) => l,
        Err((label, message)) => {
            return render_details(
                &state,
                &user,
                &session,
                t,
                StatusCode::UNPROCESSABLE_ENTITY,
                refused(label, message),
            )
            .await;
        }
    };
    let pasted = fields.get("key").trim().to_string();
    let (key, generated) = if pasted.is_empty() {
        (super::generate_key(), true)
    } else {
        if let Err(message) = super::check_pasted_key(&pasted) {
            return render_details(
                &state,
                &user,
                &session,
                t,
                StatusCode::UNPROCESSABLE_ENTITY,
                refused(label, message),
            )
            .await;
        }
        (pasted, false)
    };
    let refusal = match super::add_key(&state.pool, &t.id, &label, &key).await? {
        super::AddKey::Added => None,
        super::AddKey::Duplicate => Some("This key is already on this trigger.".to_string()),
        super::AddKey::TooMany => Some(format!(
            "A trigger has at most {} keys; delete one first.",
            super::KEYS_MAX
        )),
    };
    if let Some(message) = refusal {
        return render_details(
            &state,
            &user,
            &session,
            t,
            StatusCode::CONFLICT,
            refused(label, message),
        )
        .await;
    }
    tracing::info!(trigger = %t.id, user = %user.id, "inbound trigger key added");
    if generated {
        // Kept in the session for the next page only (so a reload cannot add another key).
        session
            .insert(NEW_KEY, (t.id.clone(), key))
            .await
            .map_err(|e| AppError::Internal(e.into()))?;
        return Ok(Redirect::to(&format!("/inbound/{}#keys", t.id)).into_response());
    }
    flash(&session, FlashKind::Success, format!("Key “{label}” added.")).await?;
    Ok(Redirect::to(&format!("/inbound/{}#keys", t.id)).into_response())
}

fn key_id(raw: &str) -> AppResult<i64> {
    raw.parse().map_err(|_| AppError::NotFound)
}

async fn relabel_key(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    Path((id, key)): Path<(String, String)>,
    fields: FormFields,
) -> AppResult<Response> {
    let t = find(&state, &user, &id).await?;
    let key = key_id(&key)?;
    user.require_admin()?;
    let label = match read_label(&fields) {
        Ok(l) => l,
        Err((_, message)) => {
            flash(
                &session,
                FlashKind::Error,
                format!("The label was not changed: {message}"),
            )
            .await?;
            return Ok(Redirect::to(&format!("/inbound/{}#keys", t.id)).into_response());
        }
    };
    if !super::relabel_key(&state.pool, &t.id, key, &label).await? {
        return Err(AppError::NotFound);
    }
    flash(&session, FlashKind::Success, format!("Key relabelled “{label}”.")).await?;
    Ok(Redirect::to(&format!("/inbound/{}#keys", t.id)).into_response())
}

async fn delete_key(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    Path((id, key)): Path<(String, String)>,
) -> AppResult<Response> {
    let t = find(&state, &user, &id).await?;
    let key = key_id(&key)?;
    user.require_admin()?;
    let label = super::delete_key(&state.pool, &t.id, key)
        .await?
        .ok_or(AppError::NotFound)?;
    tracing::info!(trigger = %t.id, user = %user.id, "inbound trigger key deleted");
    flash(
        &session,
        FlashKind::Success,
        format!("Key “{label}” deleted: calls with it get 401 from now on."),
    )
    .await?;
    Ok(Redirect::to(&format!("/inbound/{}#keys", t.id)).into_response())
}
