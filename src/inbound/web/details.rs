//! `/inbound/{id}`: the endpoint with a ready curl command, the keys and the recent messages.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use super::{find, public_base, NEW_KEY, RECENT_MESSAGES};
use crate::auth::CurrentUser;
use crate::dates::filters;
use crate::error::{AppError, AppResult};
use crate::ids::TriggerId;
use crate::inbound::{InboundTrigger, Key, Message};
use crate::layout::{page, Layout, Nav};
use crate::state::AppState;
use crate::webhooks::store::watching_counts;

#[derive(Template)]
#[template(path = "inbound/details.html")]
pub(super) struct DetailsPage {
    layout: Layout,
    t: InboundTrigger,
    endpoint: String,
    /// `/hooks/in/<account>/<path name>`, when the trigger has a name in its URL.
    readable_endpoint: Option<String>,
    keys: Vec<Key>,
    messages: Vec<Message>,
    /// Webhooks of the product and class: (enabled, total).
    webhooks: (i64, i64),
    /// The largest body a call may have (`PORTAL_INBOUND_BODY_MAX_BYTES`), for people.
    body_limit: String,
    key_form: KeyForm,
}

impl DetailsPage {
    /// A message still waiting for its calls: the list refreshes itself until none is.
    fn any_waiting(&self) -> bool {
        self.messages.iter().any(Message::waiting)
    }
}
page!(DetailsPage);

/// The add-key form: what was typed and why it was refused, or the generated key to show once.
#[derive(Default)]
pub(super) struct KeyForm {
    pub(super) new_key: Option<String>,
    pub(super) label: String,
    pub(super) error: Option<String>,
}

impl DetailsPage {
    /// A curl call with the configured parameters, for the "Call it" box.
    fn curl_example(&self) -> String {
        let query: Vec<String> = self
            .t
            .query_params
            .0
            .iter()
            .map(|p| format!("{}={}", p.name, p.default.as_deref().unwrap_or("…")))
            .collect();
        let endpoint = self.readable_endpoint.as_ref().unwrap_or(&self.endpoint);
        let url = if query.is_empty() {
            endpoint.clone()
        } else {
            format!("{endpoint}?{}", query.join("&"))
        };
        format!(
            "curl -X POST '{url}' \\\n  -H 'X-Api-Key: <key>' \\\n  -H 'Content-Type: application/json' \\\n  -d '{{\"order\": \"WO-1001\"}}'"
        )
    }
}

pub(super) async fn render_details(
    state: &AppState,
    layout: Layout,
    t: InboundTrigger,
    status: StatusCode,
    key_form: KeyForm,
) -> AppResult<Response> {
    let keys = crate::inbound::keys(&state.pool, &t.id).await?;
    let messages = crate::inbound::messages(&state.pool, &t.id, RECENT_MESSAGES).await?;
    let webhooks = watching_counts(&state.pool, &t.account_id, &t.product_id, t.object_class).await?;
    let view = DetailsPage {
        layout: layout.titled(t.name.clone(), Nav::Inbound),
        endpoint: format!("{}/hooks/in/{}", public_base(state), t.id),
        readable_endpoint: t
            .path_name
            .as_ref()
            .map(|name| format!("{}/hooks/in/{}/{name}", public_base(state), t.account_id)),
        t,
        keys,
        messages,
        webhooks,
        body_limit: crate::inbound::size_text(state.config.inbound_body_max as u64),
        key_form,
    };
    // A new key is on it (shown once): never kept in a cache.
    Ok((status, [(header::CACHE_CONTROL, "no-store")], view).into_response())
}

pub(super) async fn details(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    layout: Layout,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let t = find(&state, &user, &id).await?;
    // A key generated just before (add_key redirects here): shown this once.
    let new_key = match session
        .remove::<(TriggerId, String)>(NEW_KEY)
        .await
        .map_err(|e| AppError::Internal(e.into()))?
    {
        Some((trigger, key)) if trigger == t.id => Some(key),
        _ => None,
    };
    let key_form = KeyForm {
        new_key,
        ..KeyForm::default()
    };
    render_details(&state, layout, t, StatusCode::OK, key_form).await
}
