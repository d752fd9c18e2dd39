//! `/inbound`: the account's inbound triggers.

use askama::Template;
use axum::extract::State;

use super::public_base;
use crate::auth::CurrentUser;
use crate::dates::filters;
use crate::error::AppResult;
use crate::inbound::InboundTrigger;
use crate::layout::{page, Layout, Nav};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "inbound/list.html")]
pub(super) struct ListPage {
    layout: Layout,
    triggers: Vec<InboundTrigger>,
    public_url: String,
}
page!(ListPage);

pub(super) async fn list(State(state): State<AppState>, user: CurrentUser, layout: Layout) -> AppResult<ListPage> {
    Ok(ListPage {
        layout: layout.titled("Inbound triggers", Nav::Inbound),
        triggers: crate::inbound::list(&state.pool, &user.account_id).await?,
        public_url: public_base(&state),
    })
}
