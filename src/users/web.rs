//! `/users`: list, add, edit, deactivate and reactivate users, reset passwords. Every route
//! requires "Manage users"; a link to set a password is shown once, in the answer that made it.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use tower_sessions::Session;

use super::form::{typed_password, UserForm};
use super::store::{self, ChangeError, Member};
use crate::audit::Actor;
use crate::auth::session::{flash, FlashKind};
use crate::auth::users::{self as accounts_users, AddUserError, NewUser};
use crate::auth::{password, CurrentUser, Permission};
use crate::dates::filters;
use crate::error::{AppError, AppResult};
use crate::forms::FormFields;
use crate::ids::UserId;
use crate::layout::{page, Layout, Nav};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users", get(list).post(create))
        .route("/users/new", get(new_form))
        .route("/users/{id}", get(edit_form).post(update))
        .route("/users/{id}/deactivate", post(deactivate))
        .route("/users/{id}/reactivate", post(reactivate))
        .route("/users/{id}/password", post(reset_password))
}

#[derive(Template)]
#[template(path = "users/list.html")]
struct ListPage {
    layout: Layout,
    members: Vec<Member>,
}
page!(ListPage);

async fn list(State(state): State<AppState>, user: CurrentUser, layout: Layout) -> AppResult<ListPage> {
    user.require(Permission::ManageUsers)?;
    Ok(ListPage {
        layout: layout.titled("Users", Nav::Users),
        members: store::list(&state.pool, &user.account_id).await?,
    })
}

#[derive(Template)]
#[template(path = "users/form.html")]
struct FormPage {
    layout: Layout,
    /// `None` on the Add page.
    member: Option<Member>,
    form: UserForm,
    /// A problem with the whole change (the last user manager).
    error: Option<String>,
    /// A set-password link made by this answer, shown this once.
    new_link: Option<String>,
    /// What this answer did (a page rendered directly, not after a redirect with a flash).
    notice: Option<String>,
    min_length: usize,
}
page!(FormPage);

impl FormPage {
    fn is_self(&self) -> bool {
        self.member.as_ref().is_some_and(|m| m.id == self.layout.user.id)
    }

    /// The checkboxes: each permission, and whether it is ticked.
    fn choices(&self) -> Vec<(Permission, bool)> {
        Permission::ALL
            .into_iter()
            .map(|p| (p, self.form.permissions.has(p)))
            .collect()
    }
}

fn form_page(layout: Layout, member: Option<Member>, form: UserForm) -> FormPage {
    let title = match &member {
        Some(m) => m.name.clone(),
        None => "Add user".to_string(),
    };
    FormPage {
        layout: layout.titled(title, Nav::Users),
        member,
        form,
        error: None,
        new_link: None,
        notice: None,
        min_length: password::MIN_LENGTH,
    }
}

fn link_url(state: &AppState, token: &str) -> String {
    let base = state.config.public_url.as_str().trim_end_matches('/');
    format!("{base}/set-password/{token}")
}

/// A page with a fresh link: not stored by browsers or proxies.
fn shown_once(status: StatusCode, page: FormPage) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], page).into_response()
}

async fn new_form(user: CurrentUser, layout: Layout) -> AppResult<FormPage> {
    user.require(Permission::ManageUsers)?;
    let form = UserForm {
        password_mode: "link".into(),
        ..UserForm::default()
    };
    Ok(form_page(layout, None, form))
}

async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    fields: FormFields,
) -> AppResult<Response> {
    user.require(Permission::ManageUsers)?;
    let mut form = UserForm::read(&fields);
    let fields_ok = form.check();
    let password = typed_password(&fields, &form.password_mode);
    if let Err(e) = &password {
        form.password_error = Some(e.clone());
    }
    let (true, Ok(password)) = (fields_ok, password) else {
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, form_page(layout, None, form)).into_response());
    };
    let new = NewUser {
        email: &form.email,
        name: &form.name,
        permissions: form.permissions,
        password: password.as_deref(),
    };
    // The user and their first link together, or neither.
    let mut tx = state.pool.begin().await?;
    let id = match accounts_users::add_user(&mut tx, &user.account_id, &new).await {
        Ok(id) => id,
        Err(AddUserError::EmailTaken(email)) => {
            form.email_error = Some(format!("The e-mail {email} cannot be used: choose another."));
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, form_page(layout, None, form)).into_response());
        }
        Err(AddUserError::Database(e)) => return Err(e.into()),
        Err(other) => return Err(AppError::Internal(anyhow::anyhow!(other))),
    };
    let link = if password.is_none() {
        Some(crate::auth::password_links::create(&mut tx, &id, &user.id).await?)
    } else {
        None
    };
    let detail = if link.is_some() {
        "With a one-time link to set their password."
    } else {
        "With a password set by the person who added them."
    };
    store::record_added(&mut tx, &user.account_id, &Actor::from(&user), &id, detail).await?;
    tx.commit().await?;
    tracing::info!(user = %id, by = %user.id, "user added");
    let member = store::find(&state.pool, &user.account_id, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    let form = UserForm::of(&member);
    let mut page = form_page(layout, Some(member), form);
    page.new_link = link.map(|token| link_url(&state, &token));
    page.notice = Some(match &page.new_link {
        Some(_) => format!(
            "{} added. Send them the link below to set their password.",
            page.form.name
        ),
        None => format!("{} added. They can sign in with the password you set.", page.form.name),
    });
    Ok(shown_once(StatusCode::CREATED, page))
}

async fn find_member(state: &AppState, user: &CurrentUser, id: &str) -> AppResult<Member> {
    let id = UserId::parse(id).ok_or(AppError::NotFound)?;
    store::find(&state.pool, &user.account_id, &id)
        .await?
        .ok_or(AppError::NotFound)
}

async fn edit_form(
    State(state): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Path(id): Path<String>,
) -> AppResult<FormPage> {
    user.require(Permission::ManageUsers)?;
    let member = find_member(&state, &user, &id).await?;
    let form = UserForm::of(&member);
    Ok(form_page(layout, Some(member), form))
}

async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    Path(id): Path<String>,
    fields: FormFields,
) -> AppResult<Response> {
    user.require(Permission::ManageUsers)?;
    let member = find_member(&state, &user, &id).await?;
    let mut form = UserForm::read(&fields);
    if !form.check() {
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, form_page(layout, Some(member), form)).into_response());
    }
    let change = store::Change {
        name: &form.name,
        email: &form.email,
        permissions: form.permissions,
    };
    match store::update(&state.pool, &user.account_id, &member.id, &change, &Actor::from(&user)).await {
        Ok(()) => {}
        Err(ChangeError::EmailTaken(email)) => {
            form.email_error = Some(format!("The e-mail {email} cannot be used: choose another."));
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, form_page(layout, Some(member), form)).into_response());
        }
        Err(e @ ChangeError::LastUserManager) => {
            let mut page = form_page(layout, Some(member), form);
            page.error = Some(e.to_string());
            return Ok((StatusCode::CONFLICT, page).into_response());
        }
        Err(ChangeError::NotFound) => return Err(AppError::NotFound),
        Err(ChangeError::Database(e)) => return Err(e.into()),
    }
    tracing::info!(user = %member.id, by = %user.id, "user changed");
    flash(&session, FlashKind::Success, format!("Changes to {} saved.", form.name)).await?;
    // Someone who gave up "Manage users" can no longer see this page.
    if member.id == user.id && !form.permissions.manage_users {
        return Ok(Redirect::to("/webhooks").into_response());
    }
    Ok(Redirect::to(&format!("/users/{}", member.id)).into_response())
}

async fn deactivate(
    State(state): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    Path(id): Path<String>,
) -> AppResult<Response> {
    user.require(Permission::ManageUsers)?;
    let member = find_member(&state, &user, &id).await?;
    if member.id == user.id {
        return Err(AppError::NotAllowed(
            "You cannot deactivate yourself. Another user who manages users can.".into(),
        ));
    }
    match store::set_active(&state.pool, &user.account_id, &member.id, false, &Actor::from(&user)).await {
        Ok(()) => {}
        Err(e @ ChangeError::LastUserManager) => {
            let form = UserForm::of(&member);
            let mut page = form_page(layout, Some(member), form);
            page.error = Some(e.to_string());
            return Ok((StatusCode::CONFLICT, page).into_response());
        }
        Err(ChangeError::NotFound | ChangeError::EmailTaken(_)) => return Err(AppError::NotFound),
        Err(ChangeError::Database(e)) => return Err(e.into()),
    }
    tracing::info!(user = %member.id, by = %user.id, "user deactivated");
    flash(
        &session,
        FlashKind::Success,
        format!(
            "{} is deactivated: signed out everywhere, and cannot sign in.",
            member.name
        ),
    )
    .await?;
    Ok(Redirect::to(&format!("/users/{}", member.id)).into_response())
}

async fn reactivate(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    Path(id): Path<String>,
) -> AppResult<Response> {
    user.require(Permission::ManageUsers)?;
    let member = find_member(&state, &user, &id).await?;
    match store::set_active(&state.pool, &user.account_id, &member.id, true, &Actor::from(&user)).await {
        Ok(()) => {}
        Err(ChangeError::Database(e)) => return Err(e.into()),
        Err(_) => return Err(AppError::NotFound),
    }
    tracing::info!(user = %member.id, by = %user.id, "user reactivated");
    flash(
        &session,
        FlashKind::Success,
        format!("{} is active again and can sign in.", member.name),
    )
    .await?;
    Ok(Redirect::to(&format!("/users/{}", member.id)).into_response())
}

async fn reset_password(
    State(state): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Path(id): Path<String>,
    fields: FormFields,
) -> AppResult<Response> {
    user.require(Permission::ManageUsers)?;
    let member = find_member(&state, &user, &id).await?;
    let mode = if fields.get("password_mode") == "set" {
        "set"
    } else {
        "link"
    };
    let mut form = UserForm {
        password_mode: mode.into(),
        ..UserForm::of(&member)
    };
    let typed = match typed_password(&fields, mode) {
        Ok(typed) => typed,
        Err(e) => {
            form.password_error = Some(e);
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, form_page(layout, Some(member), form)).into_response());
        }
    };
    let hash = match typed {
        Some(plain) => Some(password::hash(plain).await?),
        None => None,
    };
    let link = match store::reset_password(
        &state.pool,
        &user.account_id,
        &member.id,
        hash.as_deref(),
        &user.id,
        &Actor::from(&user),
    )
    .await
    {
        Ok(link) => link,
        Err(ChangeError::Database(e)) => return Err(e.into()),
        Err(_) => return Err(AppError::NotFound),
    };
    tracing::info!(user = %member.id, by = %user.id, link = link.is_some(), "password reset");
    let name = member.name.clone();
    let member = store::find(&state.pool, &user.account_id, &member.id)
        .await?
        .ok_or(AppError::NotFound)?;
    form.password_mode = "link".into();
    let mut page = form_page(layout, Some(member), form);
    page.new_link = link.map(|token| link_url(&state, &token));
    page.notice = Some(match &page.new_link {
        Some(_) => {
            format!("{name}'s password is removed and they are signed out. Send them the link below to set a new one.")
        }
        None => format!("{name}'s password is changed and they are signed out everywhere."),
    });
    Ok(shown_once(StatusCode::OK, page))
}
