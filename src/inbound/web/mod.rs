//! Inbound trigger pages, a module each: the list, the settings forms (new, edit, enable,
//! disable, delete), the details page and the keys.

mod details;
mod keys;
mod list;
mod settings;

use self::details::details;
use self::keys::{add_key, delete_key, relabel_key};
use self::list::list;
use self::settings::{create, delete, delete_confirm, disable, edit, edit_form, enable, new_form};

use axum::routing::{get, post};
use axum::Router;

use crate::auth::CurrentUser;
use crate::error::{AppError, AppResult};
use crate::ids::TriggerId;
use crate::inbound::InboundTrigger;
use crate::state::AppState;

pub(super) const RECENT_MESSAGES: i64 = 20;
/// Session key of a generated inbound key waiting to be shown once.
pub(super) const NEW_KEY: &str = "inbound_new_key";

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

pub(super) fn public_base(state: &AppState) -> String {
    state.config.public_url.as_str().trim_end_matches('/').to_string()
}

/// The account's trigger with this id from the path; a malformed id is not found either.
pub(super) async fn find(state: &AppState, user: &CurrentUser, id: &str) -> AppResult<InboundTrigger> {
    let id = TriggerId::parse(id).ok_or(AppError::NotFound)?;
    crate::inbound::get(&state.pool, &user.account_id, &id)
        .await?
        .ok_or(AppError::NotFound)
}
