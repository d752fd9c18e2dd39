//! `/tokens`: list, create (the key is shown once), revoke.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use tower_sessions::Session;

use super::Token;
use crate::audit::{Action, Actor, Change, Entry, Object, ObjectKind};
use crate::auth::session::{flash, FlashKind};
use crate::auth::{CurrentUser, Permission, Permissions};
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
    /// The webhook permissions ticked in the form.
    access: Permissions,
}
page!(TokensPage);

/// A checkbox of the form: a webhook permission, ticked or not, and whether the user has it
/// (a token gets at most its creator's).
struct AccessChoice {
    permission: Permission,
    ticked: bool,
    allowed: bool,
}

impl TokensPage {
    fn access_choices(&self) -> Vec<AccessChoice> {
        Permission::WEBHOOKS
            .into_iter()
            .map(|permission| AccessChoice {
                permission,
                ticked: self.access.has(permission),
                allowed: self.layout.user.can(permission),
            })
            .collect()
    }
}

/// The user's own webhook permissions: what a new token gets unless the form says less.
fn own_webhook_access(user: &CurrentUser) -> Permissions {
    let mut access = Permissions::VIEW;
    for p in Permission::WEBHOOKS {
        access.set(p, user.can(p));
    }
    access
}

impl TokensPage {
    async fn new(state: &AppState, user: &CurrentUser, layout: Layout) -> AppResult<Self> {
        Ok(TokensPage {
            layout: layout.titled("API tokens", Nav::Tokens),
            tokens: super::list(&state.pool, &user.account_id).await?,
            name: String::new(),
            error: None,
            new_key: None,
            access: own_webhook_access(user),
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
    user.require(Permission::ManageTokens)?;
    let name: String = form.get("name").trim().to_string();
    // The page's form says which permissions it ticked; a bare `name` (a script) gets the user's own.
    let access = if form.has("access_given") {
        Permissions::from_form(&form, &Permission::WEBHOOKS)
    } else {
        own_webhook_access(&user)
    };
    let beyond_own: Vec<&str> = Permission::WEBHOOKS
        .iter()
        .filter(|p| access.has(**p) && !user.can(**p))
        .map(|p| p.label())
        .collect();
    let error = if !beyond_own.is_empty() {
        Some(format!(
            "A token gets at most your own permissions; you may not give it “{}”.",
            beyond_own.join("”, “")
        ))
    } else if name.contains('\0') {
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
            access,
            ..TokensPage::new(&state, &user, layout).await?
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let mut tx = state.pool.begin().await?;
    let (id, key) = super::create(&mut tx, &user, &name, access).await?;
    let may: Vec<&str> = Permission::WEBHOOKS
        .iter()
        .filter(|p| access.has(**p))
        .map(|p| p.short())
        .collect();
    let entry = Entry::new(Action::TokenCreated, Object::new(ObjectKind::ApiToken, &id, &name)).with_changes(vec![
        Change {
            field: "Name".into(),
            before: None,
            after: Some(name.clone()),
        },
        Change {
            field: "May".into(),
            before: None,
            after: Some(if may.is_empty() {
                "read only".to_string()
            } else {
                format!("read, {} webhooks", may.join(", ").to_lowercase())
            }),
        },
    ]);
    crate::audit::store::record(&mut *tx, &user.account_id, &Actor::from(&user), &entry).await?;
    tx.commit().await?;
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
    user.require(Permission::ManageTokens)?;
    let id = TokenId::parse(&id).ok_or(AppError::NotFound)?;
    let mut tx = state.pool.begin().await?;
    let name = super::revoke(&mut *tx, &user.account_id, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    let entry = Entry::new(Action::TokenRevoked, Object::new(ObjectKind::ApiToken, &id, &name));
    crate::audit::store::record(&mut *tx, &user.account_id, &Actor::from(&user), &entry).await?;
    tx.commit().await?;
    tracing::info!(token = %id, user = %user.id, "API token revoked");
    flash(
        &session,
        FlashKind::Success,
        format!("Token “{name}” ({id}) revoked: requests with it are refused from now on."),
    )
    .await?;
    Ok(Redirect::to("/tokens").into_response())
}
