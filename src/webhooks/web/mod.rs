//! Webhook pages, a module each: the list (with its Health column, [`health`]), the details
//! tabs (with the Statistics tab's [`charts`]), the actions and the edit forms (the creation
//! wizard is [`super::wizard`]).

mod actions;
mod charts;
mod details;
mod diagnose;
mod edit;
mod health;
mod list;
mod panels;
mod ping;
mod replay;
mod secret;

use self::actions::{delete, delete_confirm, disable, enable, trigger_now};
use self::details::{attempt_view, tab_data, tab_deliveries, tab_general, tab_history, tab_http, tab_statistics};
use self::diagnose::{preview, signed_curl, token_check_form, token_check_submit};
use self::edit::{edit_form, edit_redirect, edit_submit};
use self::list::list;

use axum::routing::{get, post};
use axum::Router;

use super::store::{self, Webhook};
use super::wizard;
use crate::auth::CurrentUser;
use crate::error::{AppError, AppResult};
use crate::ids::WebhookId;
use crate::state::AppState;

pub const PAGE_SIZE: usize = 25;
pub(super) const SEARCH_MAX: usize = 128;

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
        .route("/webhooks/{id}/history", get(tab_history))
        .route("/webhooks/{id}/secret/prepare", post(secret::prepare))
        .route("/webhooks/{id}/secret/switch", post(secret::switch))
        .route("/webhooks/{id}/secret/switch-back", post(secret::switch_back))
        .route("/webhooks/{id}/secret/discard", post(secret::discard))
        .route("/webhooks/{id}/deliveries/{attempt}", get(attempt_view))
        .route("/webhooks/{id}/deliveries/{attempt}/redeliver", post(ping::redeliver))
        .route("/webhooks/{id}/deliveries/{attempt}/curl", post(signed_curl))
        .route("/webhooks/{id}/preview", get(preview))
        .route(
            "/webhooks/{id}/token-check",
            get(token_check_form).post(token_check_submit),
        )
        .route(
            "/webhooks/{id}/replay",
            get(replay::show_deliveries).post(replay::replay),
        )
        .route("/webhooks/{id}/trigger", post(trigger_now))
        .route("/webhooks/{id}/ping", get(ping::ping_panel).post(ping::send_ping))
        .route("/webhooks/{id}/enable", post(enable))
        .route("/webhooks/{id}/disable", post(disable))
        .route("/webhooks/{id}/delete", get(delete_confirm).post(delete))
        .route("/webhooks/{id}/edit", get(edit_redirect))
        .route("/webhooks/{id}/edit/{section}", get(edit_form).post(edit_submit))
}

pub(super) async fn find(state: &AppState, user: &CurrentUser, id: &str) -> AppResult<Webhook> {
    let id = WebhookId::parse(id).ok_or(AppError::NotFound)?;
    store::get(&state.pool, &user.account_id, &id)
        .await?
        .ok_or(AppError::NotFound)
}

/// A call's id from a path (`WHA-12` or `12`); anything else is not found.
pub(super) fn attempt_id(raw: &str) -> AppResult<i64> {
    raw.trim_start_matches("WHA-").parse().map_err(|_| AppError::NotFound)
}
