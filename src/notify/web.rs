//! `/notifications`: the account's notices, newest first, unread ones marked; mark one or all
//! as read.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::store::{self, Notice};
use crate::auth::CurrentUser;
use crate::dates::filters;
use crate::error::{AppError, AppResult};
use crate::forms::FormFields;
use crate::layout::{page, Layout, Nav};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/notifications", get(list))
        .route("/notifications/read-all", post(read_all))
        .route("/notifications/{id}/read", post(read_one))
}

#[derive(Template)]
#[template(path = "notify/list.html")]
struct NotificationsPage {
    layout: Layout,
    notices: Vec<Notice>,
    older_url: Option<String>,
    newest_url: Option<String>,
    warn_after: i32,
    email: bool,
}
page!(NotificationsPage);

#[derive(Deserialize)]
struct ListQuery {
    before: Option<i64>,
}

async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Query(q): Query<ListQuery>,
) -> AppResult<NotificationsPage> {
    if q.before.is_some_and(|b| b < 1) {
        return Err(AppError::BadRequest("That page does not exist.".into()));
    }
    let (notices, more) = store::page(&state.pool, &user.account_id, &user.id, q.before).await?;
    let older_url = match (more, notices.last()) {
        (true, Some(last)) => Some(format!("/notifications?before={}", last.id)),
        _ => None,
    };
    Ok(NotificationsPage {
        layout: layout.titled("Notifications", Nav::Webhooks),
        notices,
        older_url,
        newest_url: q.before.map(|_| "/notifications".to_string()),
        warn_after: state.config.notify.warn_after,
        email: state.config.notify.smtp_url.is_some(),
    })
}

/// Marks a notice read and follows it (`go`), or comes back to the list.
async fn read_one(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    form: FormFields,
) -> AppResult<Response> {
    if !store::mark_read(&state.pool, &user.account_id, &user.id, id).await? {
        return Err(AppError::NotFound);
    }
    // Only a path of this portal is followed.
    let go = form.get("go");
    let to = if go.starts_with("/webhooks/") && !go.contains("//") {
        go.to_string()
    } else {
        "/notifications".to_string()
    };
    Ok(Redirect::to(&to).into_response())
}

async fn read_all(State(state): State<AppState>, user: CurrentUser, _form: FormFields) -> AppResult<Response> {
    store::mark_all_read(&state.pool, &user.account_id, &user.id).await?;
    Ok(Redirect::to("/notifications").into_response())
}
