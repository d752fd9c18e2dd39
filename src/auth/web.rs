//! `/login` and `/logout`.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use tower_sessions::Session;

use super::session::{self, Flash, FlashKind};
use super::{password, throttle, users};
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
    let user_id = credentials.as_ref().map(|(id, _)| id.clone());
    let ok = password::verify(password_plain, credentials.map(|(_, hash)| hash)).await?;
    throttle::settle(&state.pool, attempt_id, ok).await?;

    match (ok, user_id) {
        (true, Some(user_id)) => {
            session::sign_in(&session, &user_id).await?;
            tracing::info!(user = %user_id, "signed in");
            Ok(Redirect::to(&next).into_response())
        }
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
