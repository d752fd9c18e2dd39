//! What the details page and the list's menu do: Trigger now, enable, disable, delete.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use tower_sessions::Session;

use super::details::Tab;
use super::find;
use crate::audit::{Action, Actor};
use crate::auth::session::{flash, FlashKind};
use crate::auth::{CurrentUser, Permission};
use crate::error::AppResult;
use crate::forms::FormFields;
use crate::layout::{page, Layout, Nav};
use crate::state::AppState;
use crate::webhooks::store::audited::AuditedChange;
use crate::webhooks::store::{self, Webhook};
use crate::webhooks::wizard;

pub(super) async fn trigger_now(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: FormFields,
) -> AppResult<Response> {
    user.require(Permission::EditWebhooks)?;
    let w = find(&state, &user, &id).await?;
    // A disabled webhook offers "Enable and trigger" instead of Trigger now.
    let enabling = !w.active && form.checked("enable");
    let actor = Actor::from(&user);
    if enabling {
        let mut change = AuditedChange::begin(&state.pool, &user.account_id, &w.id).await?;
        store::set_active(change.conn(), &user, &w.id, true).await?;
        change
            .commit(&actor, Action::WebhookEnabled, "Enabled to trigger it.")
            .await?;
        tracing::info!(webhook = %id, user = %user.id, "webhook enabled to trigger it");
    }
    let mut tx = state.pool.begin().await?;
    let outcome = crate::events::record(&mut tx, &w.id, crate::events::Source::TriggerNow, None).await?;
    store::audited::record_action(
        &mut *tx,
        &user.account_id,
        &actor,
        &w.id,
        &w.label,
        Action::WebhookTriggered,
        "",
    )
    .await?;
    tx.commit().await?;
    tracing::info!(webhook = %id, user = %user.id, ?outcome, "trigger now");
    let (kind, message) = match outcome {
        crate::events::Outcome::Scheduled if enabling => (
            FlashKind::Success,
            format!(
                "“{}” enabled and triggered: the call is on its way. Statistics update when it completes.",
                w.label
            ),
        ),
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
                "“{}” is disabled, so nothing was sent. Use “Enable and trigger” to call the handler now.",
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
        Tab::Statistics.path(&w.id)
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
    user.require(Permission::EditWebhooks)?;
    let w = find(state, user, id).await?;
    let mut change = AuditedChange::begin(&state.pool, &user.account_id, &w.id).await?;
    store::set_active(change.conn(), user, &w.id, active).await?;
    let action = if active {
        Action::WebhookEnabled
    } else {
        Action::WebhookDisabled
    };
    change.commit(&Actor::from(user), action, "").await?;
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

pub(super) async fn enable(
    State(s): State<AppState>,
    u: CurrentUser,
    se: Session,
    h: HeaderMap,
    Path(id): Path<String>,
    f: FormFields,
) -> AppResult<Response> {
    set_status(&s, &u, &se, &h, &id, true, &f).await
}
pub(super) async fn disable(
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
pub(super) struct DeletePage {
    layout: Layout,
    w: Webhook,
}
page!(DeletePage);

pub(super) async fn delete_confirm(
    State(state): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Path(id): Path<String>,
) -> AppResult<DeletePage> {
    let w = find(&state, &user, &id).await?;
    user.require(Permission::DeleteWebhooks)?;
    let layout = layout.titled(format!("Delete {}", w.label), Nav::Webhooks);
    Ok(DeletePage { layout, w })
}

pub(super) async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> AppResult<Response> {
    user.require(Permission::DeleteWebhooks)?;
    let w = find(&state, &user, &id).await?;
    let mut change = AuditedChange::begin(&state.pool, &user.account_id, &w.id).await?;
    store::delete(change.conn(), &user.account_id, &w.id).await?;
    change.commit(&Actor::from(&user), Action::WebhookDeleted, "").await?;
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
