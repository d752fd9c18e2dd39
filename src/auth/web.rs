//! `/login`, `/logout` and `/set-password` (the page behind a one-time link).

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use tower_sessions::Session;

use super::session::{self, Flash, FlashKind};
use super::{password, password_links, throttle, users};
use crate::dates::filters;
use crate::error::AppResult;
use crate::render::html;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    csrf_token: String,
    email: String,
    next: String,
    error: Option<String>,
    flashes: Vec<Flash>,
}
html!(LoginPage);

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

pub async fn login_page(session: Session, Query(q): Query<LoginQuery>) -> AppResult<LoginPage> {
    Ok(LoginPage {
        csrf_token: session::csrf_token(&session).await?,
        email: String::new(),
        next: session::safe_next(q.next.as_deref()),
        error: None,
        flashes: session::take_flashes(&session).await?,
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

pub async fn login_submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: Session,
    Form(form): Form<LoginForm>,
) -> AppResult<Response> {
    let email: String = form.email.trim().chars().filter(|c| *c != '\0').take(254).collect();
    let ip = peer.ip().to_string();
    let next = session::safe_next(form.next.as_deref());
    let limits = throttle::Limits {
        per_email: state.config.login_max_failures_per_email,
        per_ip: state.config.login_max_failures_per_ip,
    };

    let again = |status: StatusCode, error: String, csrf_token: String| -> AppResult<Response> {
        let page = LoginPage {
            csrf_token,
            email: email.clone(),
            next: next.clone(),
            error: Some(error),
            flashes: vec![],
        };
        Ok((status, page).into_response())
    };

    let attempt_id = match throttle::admit(&state.pool, &email, &ip, &limits).await? {
        throttle::Admission::Admitted { attempt_id } => attempt_id,
        throttle::Admission::Refused { until } => {
            let wait = (until - chrono::Utc::now()).num_seconds().max(1);
            let minutes = (wait + 59) / 60;
            let message = format!(
                "Too many failed sign-in attempts. Try again in {minutes} minute{} (after {}).",
                if minutes == 1 { "" } else { "s" },
                crate::dates::datetime(&until)
            );
            let mut response = again(
                StatusCode::TOO_MANY_REQUESTS,
                message,
                session::csrf_token(&session).await?,
            )?;
            if let Ok(v) = wait.to_string().parse() {
                response.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
            }
            return Ok(response);
        }
    };

    let password_plain: String = form.password.chars().take(password::MAX_LENGTH + 1).collect();
    let credentials = users::find_credentials(&state.pool, &email).await?;
    let (user_id, active) = match &credentials {
        Some(c) => (Some(c.user_id.clone()), c.active),
        None => (None, false),
    };
    let ok = password::verify(password_plain, credentials.and_then(|c| c.password_hash)).await?;
    throttle::settle(&state.pool, attempt_id, ok).await?;

    match (ok, user_id) {
        (true, Some(user_id)) if active => {
            session::sign_in(&session, &user_id).await?;
            users::note_sign_in(&state.pool, &user_id).await?;
            tracing::info!(user = %user_id, "signed in");
            Ok(Redirect::to(&next).into_response())
        }
        // Said only to someone who knows the password.
        (true, Some(_)) => again(
            StatusCode::FORBIDDEN,
            "This user is deactivated. Ask someone who manages users in your account to reactivate it.".to_string(),
            session::csrf_token(&session).await?,
        ),
        _ => again(
            StatusCode::UNAUTHORIZED,
            "Incorrect email or password.".to_string(),
            session::csrf_token(&session).await?,
        ),
    }
}

#[derive(Template)]
#[template(path = "logout.html")]
pub struct LogoutPage {
    csrf_token: String,
}
html!(LogoutPage);

/// A plain GET never signs out (it could be forged); it offers the button instead.
pub async fn logout_page(session: Session) -> AppResult<LogoutPage> {
    Ok(LogoutPage {
        csrf_token: session::csrf_token(&session).await?,
    })
}

pub async fn logout(session: Session) -> AppResult<Response> {
    session::sign_out(&session).await?;
    session::flash(&session, FlashKind::Success, "You have signed out.").await?;
    Ok(Redirect::to("/login").into_response())
}

#[derive(Template)]
#[template(path = "set_password.html")]
pub struct SetPasswordPage {
    csrf_token: String,
    token: String,
    /// `None`: the link is not usable.
    holder: Option<password_links::LinkHolder>,
    error: Option<String>,
    min_length: usize,
}
html!(SetPasswordPage);

/// `GET /set-password/{token}`: the form behind a one-time link (or why the link is dead).
pub async fn set_password_page(
    State(state): State<AppState>,
    session: Session,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let holder = password_links::find(&state.pool, &token).await?;
    let status = if holder.is_some() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    let page = SetPasswordPage {
        csrf_token: session::csrf_token(&session).await?,
        token,
        holder,
        error: None,
        min_length: password::MIN_LENGTH,
    };
    Ok((status, [(header::REFERRER_POLICY, "no-referrer")], page).into_response())
}

#[derive(Deserialize)]
pub struct SetPasswordForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_again: String,
}

/// `POST /set-password`: sets the password, ends the user's other sessions, sends to sign-in.
pub async fn set_password_submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: Session,
    Form(form): Form<SetPasswordForm>,
) -> AppResult<Response> {
    let holder = password_links::find(&state.pool, &form.token).await?;
    let problem = if holder.is_none() {
        None
    } else if form.password != form.password_again {
        Some("The two passwords differ.".to_string())
    } else {
        password::check_strength(&form.password)
            .err()
            .map(|e| format!("The password {e}."))
    };
    if holder.is_none() || problem.is_some() {
        let status = if holder.is_none() {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        let page = SetPasswordPage {
            csrf_token: session::csrf_token(&session).await?,
            token: form.token,
            holder,
            error: problem,
            min_length: password::MIN_LENGTH,
        };
        return Ok((status, page).into_response());
    }
    let hash = password::hash(form.password).await?;
    match password_links::consume(&state.pool, &form.token, &hash, peer.ip()).await? {
        Some(user_id) => {
            tracing::info!(user = %user_id, "password set through a one-time link");
            // Whoever was signed in in this browser is signed out too (their session is gone).
            session::sign_out(&session).await?;
            session::flash(&session, FlashKind::Success, "Your password is set. Sign in with it.").await?;
            Ok(Redirect::to("/login").into_response())
        }
        // Used or expired between the check and now.
        None => {
            let page = SetPasswordPage {
                csrf_token: session::csrf_token(&session).await?,
                token: String::new(),
                holder: None,
                error: None,
                min_length: password::MIN_LENGTH,
            };
            Ok((StatusCode::NOT_FOUND, page).into_response())
        }
    }
}
