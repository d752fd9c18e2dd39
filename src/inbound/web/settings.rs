//! A trigger's settings: new, edit, enable, disable and delete.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use super::find;
use crate::audit::{Action, Actor};
use crate::auth::session::{flash, FlashKind};
use crate::auth::{CurrentUser, Permission};
use crate::domain::ObjectClass;
use crate::error::AppResult;
use crate::forms::FormFields;
use crate::ids::ProductId;
use crate::inbound::{InboundTrigger, QueryParam, Settings};
use crate::layout::{page, Layout, Nav};
use crate::state::AppState;
use crate::webhooks::store::{products_for, Product};

/// The settings form as typed (raw text, shown back as it was), with its errors.
#[derive(Default)]
pub(super) struct SettingsForm {
    name: String,
    product_id: String,
    object_class: String,
    ordered: bool,
    request_response: bool,
    open: bool,
    path_name: String,
    max_wait: String,
    params: String,
    name_error: Option<String>,
    path_name_error: Option<String>,
    product_error: Option<String>,
    class_error: Option<String>,
    max_wait_error: Option<String>,
    params_error: Option<String>,
}

impl SettingsForm {
    fn has_errors(&self) -> bool {
        self.name_error.is_some()
            || self.path_name_error.is_some()
            || self.product_error.is_some()
            || self.class_error.is_some()
            || self.max_wait_error.is_some()
            || self.params_error.is_some()
    }
}

#[derive(Template)]
#[template(path = "inbound/form.html")]
pub(super) struct FormPage {
    layout: Layout,
    /// `None` when creating.
    trigger: Option<InboundTrigger>,
    form: SettingsForm,
    products: Vec<Product>,
    /// The queues to choose from: (object class, label).
    classes: Vec<(&'static str, &'static str)>,
}
page!(FormPage);

/// The new or edit form, as typed.
pub(super) async fn form_page(
    state: &AppState,
    user: &CurrentUser,
    layout: Layout,
    trigger: Option<InboundTrigger>,
    form: SettingsForm,
) -> AppResult<FormPage> {
    let title = match &trigger {
        Some(t) => format!("Edit {}", t.name),
        None => "New inbound trigger".to_string(),
    };
    Ok(FormPage {
        layout: layout.titled(title, Nav::Inbound),
        trigger,
        form,
        products: products_for(&state.pool, user).await?,
        classes: ObjectClass::ALL
            .into_iter()
            .map(|c| (c.as_str(), c.queue_label()))
            .collect(),
    })
}

pub(super) async fn new_form(State(state): State<AppState>, user: CurrentUser, layout: Layout) -> AppResult<FormPage> {
    user.require(Permission::CreateWebhooks)?;
    let form = SettingsForm {
        max_wait: "10".into(),
        object_class: ObjectClass::FulfillmentRequest.as_str().into(),
        ..SettingsForm::default()
    };
    form_page(&state, &user, layout, None, form).await
}

/// Reads and checks the settings form. Creating (no `trigger`) also reads the product and
/// object class; editing keeps the trigger's.
pub(super) async fn read_settings(
    state: &AppState,
    user: &CurrentUser,
    fields: &FormFields,
    trigger: Option<&InboundTrigger>,
) -> AppResult<(SettingsForm, Option<Settings>)> {
    let mut form = SettingsForm {
        name: fields.get("name").trim().to_string(),
        product_id: fields.get("product").chars().take(32).collect(),
        object_class: fields.get("object_class").chars().take(32).collect(),
        ordered: fields.checked("ordered"),
        request_response: fields.checked("request_response"),
        open: fields.checked("open"),
        path_name: fields.get("path_name").trim().chars().take(100).collect(),
        max_wait: fields.get("max_wait").trim().chars().take(8).collect(),
        params: fields.get("params").chars().take(32 * 1024).collect(),
        ..SettingsForm::default()
    };
    if form.name.is_empty() {
        form.name_error = Some("Enter a name that says who calls this trigger and why.".into());
    } else if form.name.chars().count() > crate::inbound::NAME_MAX {
        form.name_error = Some(crate::webhooks::model::too_long(
            crate::inbound::NAME_MAX,
            form.name.chars().count(),
        ));
    } else if form.name.chars().any(char::is_control) {
        form.name_error = Some("Control characters are not allowed.".into());
    }
    if !form.path_name.is_empty() {
        if !crate::inbound::valid_path_name(&form.path_name) {
            form.path_name_error = Some("Use 1–64 letters, digits, - and _, starting with a letter or digit.".into());
        } else if crate::inbound::store::path_name_taken(
            &state.pool,
            &user.account_id,
            &form.path_name,
            trigger.map(|t| &t.id),
        )
        .await?
        {
            form.path_name_error = Some("Another trigger of this account has this name in its URL.".into());
        }
    }
    let (product_id, object_class) = match trigger {
        Some(t) => {
            form.product_id = t.product_id.to_string();
            form.object_class = t.object_class.as_str().to_string();
            (Some(t.product_id.clone()), Some(t.object_class))
        }
        None => {
            let product_id = match ProductId::parse(&form.product_id) {
                Some(id) if products_for(&state.pool, user).await?.iter().any(|p| p.id == id) => Some(id),
                _ => None,
            };
            if product_id.is_none() {
                form.product_error = Some("Choose one of your products.".into());
            }
            let object_class = ObjectClass::parse(&form.object_class);
            if object_class.is_none() {
                form.class_error = Some("Choose the queue whose webhooks the trigger calls.".into());
            }
            (product_id, object_class)
        }
    };
    let max_wait = match form.max_wait.parse::<i32>() {
        Ok(n) if (1..=crate::inbound::MAX_WAIT_LIMIT).contains(&n) => n,
        _ if !form.request_response && form.max_wait.is_empty() => 10,
        _ => {
            form.max_wait_error = Some(format!(
                "Enter whole seconds from 1 to {}.",
                crate::inbound::MAX_WAIT_LIMIT
            ));
            0
        }
    };
    let params: Vec<QueryParam> = match crate::inbound::parse_params(&form.params) {
        Ok(p) => p,
        Err(e) => {
            form.params_error = Some(e);
            Vec::new()
        }
    };
    let (Some(product_id), Some(object_class)) = (product_id, object_class) else {
        return Ok((form, None));
    };
    if form.has_errors() {
        return Ok((form, None));
    }
    let settings = Settings {
        name: form.name.clone(),
        product_id,
        object_class,
        ordered: form.ordered,
        request_response: form.request_response,
        open: form.open,
        path_name: (!form.path_name.is_empty()).then(|| form.path_name.clone()),
        max_wait_seconds: max_wait,
        query_params: params,
    };
    Ok((form, Some(settings)))
}

pub(super) async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    layout: Layout,
    fields: FormFields,
) -> AppResult<Response> {
    user.require(Permission::CreateWebhooks)?;
    let (form, settings) = read_settings(&state, &user, &fields, None).await?;
    let Some(settings) = settings else {
        let page = form_page(&state, &user, layout, None, form).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    let mut tx = state.pool.begin().await?;
    let id = crate::inbound::create(&mut tx, &user, &settings).await?;
    crate::inbound::record_change(
        &mut tx,
        &user.account_id,
        &Actor::from(&user),
        Action::TriggerCreated,
        &id,
        None,
        "",
    )
    .await?;
    tx.commit().await?;
    tracing::info!(trigger = %id, user = %user.id, "inbound trigger created");
    flash(
        &session,
        FlashKind::Success,
        if settings.open {
            format!(
                "Inbound trigger “{}” created. It is open: calls need no key.",
                settings.name
            )
        } else {
            format!(
                "Inbound trigger “{}” created. Add an API key so callers can use it.",
                settings.name
            )
        },
    )
    .await?;
    Ok(Redirect::to(&format!("/inbound/{id}")).into_response())
}

pub(super) async fn edit_form(
    State(state): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Path(id): Path<String>,
) -> AppResult<FormPage> {
    let t = find(&state, &user, &id).await?;
    user.require(Permission::EditWebhooks)?;
    let form = SettingsForm {
        name: t.name.clone(),
        product_id: t.product_id.to_string(),
        object_class: t.object_class.as_str().to_string(),
        ordered: t.ordered,
        open: t.open,
        path_name: t.path_name.clone().unwrap_or_default(),
        request_response: t.request_response,
        max_wait: t.max_wait_seconds.to_string(),
        params: t.params_text(),
        ..SettingsForm::default()
    };
    form_page(&state, &user, layout, Some(t), form).await
}

pub(super) async fn edit(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    layout: Layout,
    Path(id): Path<String>,
    fields: FormFields,
) -> AppResult<Response> {
    let t = find(&state, &user, &id).await?;
    user.require(Permission::EditWebhooks)?;
    let (form, settings) = read_settings(&state, &user, &fields, Some(&t)).await?;
    let Some(settings) = settings else {
        let page = form_page(&state, &user, layout, Some(t), form).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    let mut tx = state.pool.begin().await?;
    crate::inbound::update(&mut *tx, &user.account_id, &t.id, &settings).await?;
    let actor = Actor::from(&user);
    crate::inbound::record_change(
        &mut tx,
        &user.account_id,
        &actor,
        Action::TriggerUpdated,
        &t.id,
        Some(&t),
        "",
    )
    .await?;
    tx.commit().await?;
    flash(&session, FlashKind::Success, "Settings saved.").await?;
    Ok(Redirect::to(&format!("/inbound/{}", t.id)).into_response())
}

pub(super) async fn set_active(
    state: AppState,
    user: CurrentUser,
    session: Session,
    id: String,
    active: bool,
) -> AppResult<Response> {
    let t = find(&state, &user, &id).await?;
    user.require(Permission::EditWebhooks)?;
    let mut tx = state.pool.begin().await?;
    crate::inbound::set_active(&mut *tx, &user.account_id, &t.id, active).await?;
    let action = if active {
        Action::TriggerEnabled
    } else {
        Action::TriggerDisabled
    };
    crate::inbound::record_change(
        &mut tx,
        &user.account_id,
        &Actor::from(&user),
        action,
        &t.id,
        Some(&t),
        "",
    )
    .await?;
    tx.commit().await?;
    let text = if active {
        format!("“{}” is enabled: calls with a valid key are accepted.", t.name)
    } else {
        format!("“{}” is disabled: every call gets 404 until you enable it.", t.name)
    };
    flash(&session, FlashKind::Success, text).await?;
    Ok(Redirect::to(&format!("/inbound/{}", t.id)).into_response())
}

pub(super) async fn enable(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    Path(id): Path<String>,
) -> AppResult<Response> {
    set_active(state, user, session, id, true).await
}

pub(super) async fn disable(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    Path(id): Path<String>,
) -> AppResult<Response> {
    set_active(state, user, session, id, false).await
}

#[derive(Template)]
#[template(path = "inbound/delete.html")]
pub(super) struct DeletePage {
    layout: Layout,
    t: InboundTrigger,
}
page!(DeletePage);

pub(super) async fn delete_confirm(
    State(state): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Path(id): Path<String>,
) -> AppResult<DeletePage> {
    let t = find(&state, &user, &id).await?;
    user.require(Permission::DeleteWebhooks)?;
    let layout = layout.titled(format!("Delete {}", t.name), Nav::Inbound);
    Ok(DeletePage { layout, t })
}

pub(super) async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let t = find(&state, &user, &id).await?;
    user.require(Permission::DeleteWebhooks)?;
    let mut tx = state.pool.begin().await?;
    crate::inbound::delete(&mut *tx, &user.account_id, &t.id).await?;
    let actor = Actor::from(&user);
    crate::inbound::record_change(
        &mut tx,
        &user.account_id,
        &actor,
        Action::TriggerDeleted,
        &t.id,
        Some(&t),
        "",
    )
    .await?;
    tx.commit().await?;
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
