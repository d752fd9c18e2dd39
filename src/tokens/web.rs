//! `/tokens`: list, create (the key is shown once), revoke.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use tower_sessions::Session;

use super::Token;
use crate::auth::session::{flash, FlashKind};
use crate::auth::CurrentUser;
use crate::dates::filters;
use crate::error::{AppError, AppResult};
use crate::forms::FormFields;
use crate::ids::TokenId;
use crate::layout::{page, Layout, Nav};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tokens", get(list).post(create))
        .route("/tokens/{id}/revoke", post(revoke))
}

#[derive(Template)]
#[template(path = "tokens/list.html")]
struct TokensPage {
    layout: Layout,
    tokens: Vec<Token>,
    name: String,
    error: Option<String>,
    /// The key just created, shown this once.
    new_key: Option<String>,
}
page!(TokensPage);

impl TokensPage {
    async fn new(state: &AppState, user: &CurrentUser, layout: Layout) -> AppResult<Self> {
        Ok(TokensPage {
            layout: layout.titled("API tokens", Nav::Tokens),
            tokens: super::list(&state.pool, &user.account_id).await?,
            name: String::new(),
            error: None,
            new_key: None,
        })
    }
}

async fn list(State(state): State<AppState>, user: CurrentUser, layout: Layout) -> AppResult<TokensPage> {
    TokensPage::new(&state, &user, layout).await
}

async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    form: FormFields,
) -> AppResult<Response> {
    user.require_admin()?;
    let name: String = form.get("name").trim().to_string();
    let error = if name.contains('\0') {
        Some("NUL characters are not allowed.".to_string())
    } else if name.is_empty() {
        Some("Enter a name that says who uses the token.".to_string())
    } else if name.chars().count() > super::NAME_MAX {
        Some(crate::webhooks::model::too_long(super::NAME_MAX, name.chars().count()))
    } else {
        None
    };
    if error.is_some() {
        let page = TokensPage {
            name,
            error,
            ..TokensPage::new(&state, &user, layout).await?
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let (id, key) = super::create(&state.pool, &user, &name).await?;
    tracing::info!(token = %id, user = %user.id, "API token created");
    // Rendered directly (not redirected) so the key exists only in this one response.
    let page = TokensPage {
        new_key: Some(key),
        ..TokensPage::new(&state, &user, layout).await?
    };
    Ok((StatusCode::CREATED, [(header::CACHE_CONTROL, "no-store")], page).into_response())
}

async fn revoke(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    Path(id): Path<String>,
) -> AppResult<Response> {
    user.require_admin()?;
    let id = TokenId::parse(&id).ok_or(AppError::NotFound)?;
    let name = super::revoke(&state.pool, &user.account_id, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    tracing::info!(token = %id, user = %user.id, "API token revoked");
    flash(
        &session,
        FlashKind::Success,
        format!("Token “{name}” ({id}) revoked: requests with it are refused from now on."),
    )
    .await?;
    Ok(Redirect::to("/tokens").into_response())
}
