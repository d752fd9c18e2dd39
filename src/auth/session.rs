//! What the portal keeps in a session, behind typed accessors: who is signed in and
//! since when, the CSRF token, and flash messages for the next page.

use axum::extract::{FromRequestParts, OriginalUri, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use super::users::{load_current_user, CurrentUser};
use crate::error::AppError;
use crate::ids::UserId;
use crate::state::AppState;

const AUTH_KEY: &str = "auth";
const CSRF_KEY: &str = "csrf";
const FLASH_KEY: &str = "flash";

#[derive(Serialize, Deserialize)]
struct AuthState {
    user_id: UserId,
    /// Unix seconds; the absolute session lifetime counts from here.
    authenticated_at: i64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum FlashKind {
    Success,
    Error,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Flash {
    pub kind: FlashKind,
    pub text: String,
}

impl Flash {
    pub fn css_class(&self) -> &'static str {
        match self.kind {
            FlashKind::Success => "flash-success",
            FlashKind::Error => "flash-error",
        }
    }
}

/// Sessions live in the database: a store that cannot answer means the database is down.
fn session_error(e: tower_sessions::session::Error) -> AppError {
    match e {
        tower_sessions::session::Error::Store(tower_sessions::session_store::Error::Backend(cause)) => {
            AppError::Unavailable(format!("session store: {cause}"))
        }
        other => AppError::Internal(anyhow::anyhow!("session store: {other}")),
    }
}

/// Marks the session as signed in, with a fresh id and a fresh CSRF token.
pub async fn sign_in(session: &Session, user_id: &UserId) -> Result<(), AppError> {
    session.cycle_id().await.map_err(session_error)?;
    let state = AuthState {
        user_id: user_id.clone(),
        authenticated_at: chrono::Utc::now().timestamp(),
    };
    session.insert(AUTH_KEY, state).await.map_err(session_error)?;
    session
        .insert(CSRF_KEY, crate::ids::random_token(32))
        .await
        .map_err(session_error)?;
    Ok(())
}

pub async fn sign_out(session: &Session) -> Result<(), AppError> {
    session.flush().await.map_err(session_error)
}

/// The session's CSRF token, created on first use.
pub async fn csrf_token(session: &Session) -> Result<String, AppError> {
    if let Some(token) = session.get::<String>(CSRF_KEY).await.map_err(session_error)? {
        return Ok(token);
    }
    let token = crate::ids::random_token(32);
    session.insert(CSRF_KEY, &token).await.map_err(session_error)?;
    Ok(token)
}

pub async fn stored_csrf_token(session: &Session) -> Result<Option<String>, AppError> {
    session.get::<String>(CSRF_KEY).await.map_err(session_error)
}

pub async fn flash(session: &Session, kind: FlashKind, text: impl Into<String>) -> Result<(), AppError> {
    let mut list: Vec<Flash> = session.get(FLASH_KEY).await.map_err(session_error)?.unwrap_or_default();
    list.push(Flash {
        kind,
        text: text.into(),
    });
    session.insert(FLASH_KEY, list).await.map_err(session_error)
}

pub async fn take_flashes(session: &Session) -> Result<Vec<Flash>, AppError> {
    Ok(session
        .remove::<Vec<Flash>>(FLASH_KEY)
        .await
        .map_err(session_error)?
        .unwrap_or_default())
}

/// The flash messages waiting for the next page, left in the session.
pub async fn peek_flashes(session: &Session) -> Result<Vec<Flash>, AppError> {
    Ok(session
        .get::<Vec<Flash>>(FLASH_KEY)
        .await
        .map_err(session_error)?
        .unwrap_or_default())
}

/// Removes the first `shown` flash messages (a page showed them); any added since stay.
pub async fn forget_flashes(session: &Session, shown: usize) -> Result<(), AppError> {
    let mut list = peek_flashes(session).await?;
    if shown >= list.len() {
        session.remove::<Vec<Flash>>(FLASH_KEY).await.map_err(session_error)?;
        return Ok(());
    }
    list.drain(..shown);
    session.insert(FLASH_KEY, list).await.map_err(session_error)
}

/// The signed-in user's id, if the session has one.
pub async fn signed_in_user_id(session: &Session) -> Result<Option<UserId>, AppError> {
    Ok(session
        .get::<AuthState>(AUTH_KEY)
        .await
        .map_err(session_error)?
        .map(|a| a.user_id))
}

/// Guards every page but the public ones: loads the signed-in user into the request, or
/// sends the browser to `/login` with a way back.
pub async fn require_login(
    State(state): State<AppState>,
    session: Session,
    mut request: Request,
    next: Next,
) -> Result<Response, AppError> {
    let auth: Option<AuthState> = session.get(AUTH_KEY).await.map_err(session_error)?;
    let max_age = state.config.session_max_age.as_secs() as i64;
    let user = match auth {
        Some(a) if chrono::Utc::now().timestamp() - a.authenticated_at <= max_age => {
            load_current_user(&state.pool, &a.user_id).await?
        }
        Some(_) => {
            // Past the absolute lifetime: forget everything, sign in again.
            sign_out(&session).await?;
            None
        }
        None => None,
    };
    match user {
        Some(mut user) => {
            user.client_ip = request
                .extensions()
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip());
            request.extensions_mut().insert(user);
            Ok(next.run(request).await)
        }
        None => Ok(redirect_to_login(&request)),
    }
}

pub fn redirect_to_login(request: &Request) -> Response {
    let original = request
        .extensions()
        .get::<OriginalUri>()
        .map(|u| u.0.clone())
        .unwrap_or_else(|| request.uri().clone());
    let location = if request.method() == Method::GET {
        let path = original.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let next: String = form_urlencoded::byte_serialize(path.as_bytes()).collect();
        format!("/login?next={next}")
    } else {
        "/login".to_string()
    };
    if request.headers().contains_key("hx-request") {
        // htmx follows this header with a full page load.
        let mut response = axum::http::StatusCode::OK.into_response();
        if let Ok(v) = HeaderValue::from_str(&location) {
            response.headers_mut().insert("hx-redirect", v);
        }
        return response;
    }
    Redirect::to(&location).into_response()
}

/// Only local paths are followed after sign-in (never `//host`, `\\host` or absolute URLs).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.chars().any(|c| c.is_control()) =>
        {
            n.to_string()
        }
        _ => "/webhooks".to_string(),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<CurrentUser>()
            .cloned()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("route is missing the require_login layer")))
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(safe_next(Some("/webhooks/WH-1")), "/webhooks/WH-1");
        assert_eq!(safe_next(Some("//evil.example")), "/webhooks");
        assert_eq!(safe_next(Some("/\\evil.example")), "/webhooks");
        assert_eq!(safe_next(Some("https://evil.example")), "/webhooks");
        // Browsers drop tabs and newlines: "/\t/evil" would become "//evil".
        assert_eq!(safe_next(Some("/\t/evil.example")), "/webhooks");
        assert_eq!(safe_next(Some("/\u{1}x")), "/webhooks");
        assert_eq!(safe_next(None), "/webhooks");
    }
}
