//! `/inbound`: the account's inbound triggers.

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use tower_sessions::Session;

use super::public_base;
use crate::auth::CurrentUser;
use crate::dates::filters;
use crate::error::AppResult;
use crate::inbound::InboundTrigger;
use crate::layout::Layout;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "inbound/list.html")]
pub(super) struct ListPage {
    layout: Layout,
    triggers: Vec<InboundTrigger>,
    public_url: String,
}

pub(super) async fn list(State(state): State<AppState>, user: CurrentUser, session: Session) -> AppResult<Response> {
    let triggers = crate::inbound::list(&state.pool, &user.account_id).await?;
    let layout = Layout::new(&user, &session, "Inbound triggers", "inbound").await?;
    Ok(Html(
        ListPage {
            layout,
            triggers,
            public_url: public_base(&state),
        }
        .render()?,
    )
    .into_response())
}
