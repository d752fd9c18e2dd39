//! What every signed-in page's base template needs: who is signed in, the CSRF token for
//! forms and htmx, flash messages and the active navigation entry.

use tower_sessions::Session;

use crate::auth::session::{csrf_token, take_flashes, Flash};
use crate::auth::CurrentUser;
use crate::error::AppResult;

pub struct Layout {
    pub user: CurrentUser,
    pub csrf_token: String,
    pub flashes: Vec<Flash>,
    pub title: String,
    pub nav: &'static str,
    pub version: &'static str,
}

impl Layout {
    pub async fn new(
        user: &CurrentUser,
        session: &Session,
        title: impl Into<String>,
        nav: &'static str,
    ) -> AppResult<Self> {
        Ok(Layout {
            user: user.clone(),
            csrf_token: csrf_token(session).await?,
            flashes: take_flashes(session).await?,
            title: title.into(),
            nav,
            version: env!("CARGO_PKG_VERSION"),
        })
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
