//! The portal's shell around every signed-in page.
//!
//! Handlers extract [`Layout`] (who is signed in, the CSRF token, flash messages), name the
//! page with [`Layout::titled`], and return their page struct: `page!` makes an askama struct
//! that extends `base.html` an `IntoResponse` (other templates: [`crate::render::html!`]). A
//! template that cannot render answers with the portal's error page.

use askama::Template;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use crate::auth::session::{csrf_token, forget_flashes, peek_flashes, Flash};
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::state::AppState;

/// The entries of the side navigation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Nav {
    Webhooks,
    Products,
    Inbound,
    Tokens,
    Users,
    Audit,
}

impl Nav {
    pub const ALL: [Nav; 6] = [
        Nav::Webhooks,
        Nav::Products,
        Nav::Inbound,
        Nav::Tokens,
        Nav::Users,
        Nav::Audit,
    ];

    pub fn href(self) -> &'static str {
        match self {
            Nav::Webhooks => "/webhooks",
            Nav::Products => "/products",
            Nav::Inbound => "/inbound",
            Nav::Tokens => "/tokens",
            Nav::Users => "/users",
            Nav::Audit => "/audit",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Nav::Webhooks => "Webhooks",
            Nav::Products => "Products",
            Nav::Inbound => "Inbound triggers",
            Nav::Tokens => "Tokens",
            Nav::Users => "Users",
            Nav::Audit => "Audit log",
        }
    }
}

/// What `base.html` needs. Every page struct that extends it has a `layout: Layout` field.
#[derive(Clone)]
pub struct Layout {
    pub user: CurrentUser,
    pub csrf_token: String,
    /// Read, not yet removed: they leave the session once a page has shown them.
    pub flashes: Vec<Flash>,
    pub title: String,
    pub nav: Nav,
    pub version: &'static str,
    /// The bell's count: notices of the last 30 days the user has not read (at most 100).
    pub unread_notifications: i64,
}

impl Layout {
    /// The page's title (the browser tab says "… · Webhook Portal") and its navigation entry.
    pub fn titled(mut self, title: impl Into<String>, nav: Nav) -> Self {
        self.title = title.into();
        self.nav = nav;
        self
    }

    /// The entries the user may open (Users and Audit log only for those who manage users).
    pub fn nav_entries(&self) -> Vec<Nav> {
        Nav::ALL
            .into_iter()
            .filter(|n| !matches!(n, Nav::Users | Nav::Audit) || self.user.can_manage_users())
            .collect()
    }

    /// The user's initials for the avatar in the header.
    pub fn initials(&self) -> String {
        self.user
            .name
            .split_whitespace()
            .filter_map(|w| w.chars().next())
            .take(2)
            .collect::<String>()
            .to_uppercase()
    }
}

impl FromRequestParts<AppState> for Layout {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(_, why)| AppError::Internal(anyhow::anyhow!("layout: {why}")))?;
        let unread_notifications = crate::auth::users::unread_notifications(&state.pool, &user).await?;
        Ok(Layout {
            unread_notifications,
            user,
            csrf_token: csrf_token(&session).await?,
            flashes: peek_flashes(&session).await?,
            title: String::new(),
            nav: Nav::Webhooks,
            version: env!("CARGO_PKG_VERSION"),
        })
    }
}

/// Put on a page's response: how many of the session's flash messages it showed.
#[derive(Clone, Copy)]
struct FlashesShown(usize);

/// [`crate::render::respond`] for a page in the shell: its flash messages are then dropped from the session.
pub fn respond_page(template: &impl Template, layout: &Layout) -> Response {
    let mut response = crate::render::respond(template);
    if response.status().is_success() && !layout.flashes.is_empty() {
        response.extensions_mut().insert(FlashesShown(layout.flashes.len()));
    }
    response
}

/// Drops the flash messages a page showed, once it rendered: a redirect or an htmx fragment
/// answered meanwhile leaves them for the next page.
pub async fn forget_shown_flashes(session: Session, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    match response.extensions().get::<FlashesShown>() {
        Some(FlashesShown(n)) => match forget_flashes(&session, *n).await {
            Ok(()) => response,
            Err(e) => e.into_response(),
        },
        None => response,
    }
}

/// `impl IntoResponse` for page structs that extend `base.html` (they have a `layout`).
macro_rules! page {
    ($($page:ty),+ $(,)?) => {$(
        impl axum::response::IntoResponse for $page {
            fn into_response(self) -> axum::response::Response {
                $crate::layout::respond_page(&self, &self.layout)
            }
        }
    )+};
}

pub(crate) use page;
