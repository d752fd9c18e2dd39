//! Send test ping: the button starts it in the background; the details page shows the
//! answer when it comes (htmx polls the panel; without JavaScript, a reload shows it).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use super::find;
use crate::auth::{CurrentUser, Permission};
use crate::dates::filters;
use crate::error::{AppError, AppResult};
use crate::forms::FormFields;
use crate::ids::WebhookId;
use crate::render::html;
use crate::state::AppState;
use crate::webhooks::store::ping::{ping_status, request_ping, PingStatus};
use crate::webhooks::wizard;

/// The latest ping's panel on the details page.
#[derive(Template)]
#[template(path = "webhooks/_ping.html")]
pub(super) struct PingPanel {
    pub webhook_id: WebhookId,
    pub p: PingStatus,
}
html!(PingPanel);

pub(super) async fn send_ping(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    _form: FormFields,
) -> AppResult<Response> {
    user.require(Permission::EditWebhooks)?;
    let w = find(&state, &user, &id).await?;
    if !request_ping(&state.pool, &user.account_id, &w.id, Utc::now()).await? {
        return Err(AppError::NotFound);
    }
    let actor = crate::audit::Actor::from(&user);
    let ping = crate::audit::Action::WebhookTestPing;
    crate::webhooks::store::audited::record_action(&state.pool, &user.account_id, &actor, &w.id, &w.label, ping, "")
        .await?;
    tracing::info!(webhook = %w.id, user = %user.id, "test ping");
    let back = format!("/webhooks/{}", w.id);
    tokio::spawn(crate::webhooks::ping::send(state.clone(), w, user.id.clone()));
    Ok(wizard::redirect(&headers, &back))
}

/// `POST /webhooks/{id}/deliveries/{attempt}/redeliver`: the call made again in the background;
/// the Deliveries tab shows it when it is answered.
pub(super) async fn redeliver(
    State(state): State<AppState>,
    user: CurrentUser,
    session: tower_sessions::Session,
    headers: HeaderMap,
    Path((id, attempt)): Path<(String, String)>,
    _form: FormFields,
) -> AppResult<Response> {
    user.require(Permission::EditWebhooks)?;
    let w = find(&state, &user, &id).await?;
    let attempt_id = super::attempt_id(&attempt)?;
    let original = crate::webhooks::store::attempt(&state.pool, &w.id, attempt_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !original.can_redeliver() {
        return Err(AppError::NotAllowed(
            "Test pings and inbound messages are not redelivered from here: send a new test ping, or let the caller send the message again.".into(),
        ));
    }
    crate::webhooks::store::audited::record_action(
        &state.pool,
        &user.account_id,
        &crate::audit::Actor::from(&user),
        &w.id,
        &w.label,
        crate::audit::Action::WebhookRedelivered,
        &format!("Call WHA-{attempt_id} made again."),
    )
    .await?;
    tracing::info!(webhook = %w.id, user = %user.id, original = attempt_id, "redeliver");
    let note = if w.active { "" } else { " The webhook stays disabled." };
    crate::auth::session::flash(
        &session,
        crate::auth::session::FlashKind::Success,
        format!("WHA-{attempt_id} is being delivered again, with a fresh token: the new call appears here when it is answered.{note}"),
    )
    .await?;
    tokio::spawn(crate::webhooks::redeliver::send(state.clone(), w.clone(), attempt_id));
    Ok(wizard::redirect(&headers, &format!("/webhooks/{}/deliveries", w.id)))
}

pub(super) async fn ping_panel(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let w = find(&state, &user, &id).await?;
    let p = ping_status(&state.pool, &w.id).await?.ok_or(AppError::NotFound)?;
    // A failed ping disabled the webhook: the whole page reloads, so that its status says so.
    let refresh = wizard::is_htmx(&headers) && !p.pending && !p.success;
    let mut response = PingPanel { webhook_id: w.id, p }.into_response();
    if refresh {
        response
            .headers_mut()
            .insert("hx-refresh", axum::http::HeaderValue::from_static("true"));
    }
    Ok(response)
}
