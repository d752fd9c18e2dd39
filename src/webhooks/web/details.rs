//! A webhook's details page: its tabs (each a real URL and an htmx fragment) and the view
//! of one call.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::charts::Charts;
use super::find;

use super::panels::{NewSecret, ReplayPanel};
use crate::auth::{CurrentUser, Permission};
use crate::dates::filters;
use crate::error::{AppError, AppResult};
use crate::ids::WebhookId;
use crate::layout::{page, Layout, Nav};
use crate::render::html;
use crate::state::AppState;
use crate::webhooks::diagnose::attempt_hint;
use crate::webhooks::diagnose::hints::Hint;
use crate::webhooks::store::secrets::Prepared;
use crate::webhooks::store::{self, Webhook};
use crate::webhooks::wizard;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    General,
    Statistics,
    Http,
    Data,
    Deliveries,
    History,
}

impl Tab {
    pub const ALL: [Tab; 6] = [
        Tab::General,
        Tab::Statistics,
        Tab::Http,
        Tab::Data,
        Tab::Deliveries,
        Tab::History,
    ];
    pub fn label(self) -> &'static str {
        match self {
            Tab::General => "General",
            Tab::Statistics => "Statistics",
            Tab::Http => "HTTP settings",
            Tab::Data => "Custom data",
            Tab::Deliveries => "Deliveries",
            Tab::History => "History",
        }
    }
    pub fn path(self, id: &WebhookId) -> String {
        match self {
            Tab::General => format!("/webhooks/{id}"),
            Tab::Statistics => format!("/webhooks/{id}/statistics"),
            Tab::Http => format!("/webhooks/{id}/http"),
            Tab::Data => format!("/webhooks/{id}/data"),
            Tab::Deliveries => format!("/webhooks/{id}/deliveries"),
            Tab::History => format!("/webhooks/{id}/history"),
        }
    }
}

/// What the tabs partial needs; shared by the page and the htmx fragment.
pub struct DetailsView {
    pub w: Webhook,
    pub tab: Tab,
    pub tabs: [Tab; 6],
    pub can_edit: bool,
    pub can_delete: bool,
    pub reveal: bool,
    /// Rendered as an htmx fragment: the header's status chip is updated out of band.
    pub fragment: bool,
    /// `Some(soon)` while a call is pending or in flight: the statistics refresh themselves.
    pub busy: Option<bool>,
    pub deliveries: DeliveriesView,
    /// "Create test request": the request kind and starting status that make this webhook fire.
    /// Offer "Create test request" (it goes to the requests feature with the webhook's id).
    pub test_request: bool,
    /// The latest test ping, if one was ever sent.
    pub ping: Option<crate::webhooks::store::ping::PingStatus>,
    /// On the answer to Prepare only: the new secret, shown this once.
    pub new_secret: Option<NewSecret>,
    /// The History tab: the webhook's audit records, newest first.
    pub history: Vec<crate::audit::store::Record>,
    pub history_older_url: Option<String>,
    /// How long a previous secret keeps verifying after a switch.
    pub secret_grace_hours: u64,
    /// For the forms inside the tabs (the rotation buttons).
    pub csrf_token: String,
    /// The Statistics tab's charts of the last 7 days.
    pub charts: Option<Charts>,
}

/// The Deliveries tab: a page of attempts with its filter and paging links.
#[derive(Default)]
pub struct DeliveriesView {
    pub attempts: Vec<store::Attempt>,
    pub outcome: String,
    pub next_url: Option<String>,
    /// How far back calls go (`PORTAL_RETENTION_DAYS`).
    pub retention_days: u32,
    /// The Replay form, for users who may edit webhooks.
    pub replay: Option<ReplayPanel>,
}

impl DetailsView {
    /// "—" until a value exists, as the Connect statistics show it.
    pub fn count_or_dash(&self, n: &i64) -> String {
        if *n == 0 {
            "—".to_string()
        } else {
            n.to_string()
        }
    }
}

#[derive(Template)]
#[template(path = "webhooks/details.html")]
struct DetailsPage {
    layout: Layout,
    d: DetailsView,
}
page!(DetailsPage);

#[derive(Template)]
#[template(path = "webhooks/_tabs.html")]
struct TabsPartial {
    d: DetailsView,
}
html!(TabsPartial);

#[derive(Deserialize, Default)]
pub(super) struct TabQuery {
    reveal: Option<String>,
    outcome: Option<String>,
    before: Option<String>,
}

/// The History tab: this webhook's audit records, a page at a time.
async fn history_view(
    state: &AppState,
    user: &CurrentUser,
    id: &WebhookId,
    query: &TabQuery,
) -> AppResult<(Vec<crate::audit::store::Record>, Option<String>)> {
    let filter = crate::audit::store::Filter {
        object_kind: Some(crate::audit::ObjectKind::Webhook),
        object_id: Some(id.to_string()),
        before: query.before.as_deref().and_then(|b| b.parse::<i64>().ok()),
        ..Default::default()
    };
    let (records, more) = crate::audit::store::page(&state.pool, &user.account_id, &filter).await?;
    let older = match (more, records.last()) {
        (true, Some(last)) => Some(format!("/webhooks/{id}/history?before={}", last.id)),
        _ => None,
    };
    Ok((records, older))
}

const DELIVERIES_PAGE: i64 = 25;

pub(super) async fn deliveries_view(state: &AppState, id: &WebhookId, query: &TabQuery) -> AppResult<DeliveriesView> {
    let outcome = query.outcome.clone().unwrap_or_default();
    let success = match outcome.as_str() {
        "success" => Some(true),
        "failure" => Some(false),
        _ => None,
    };
    let before = query.before.as_deref().and_then(|b| b.parse::<i64>().ok());
    let mut attempts = store::attempts(&state.pool, id, success, before, DELIVERIES_PAGE + 1).await?;
    let more = attempts.len() as i64 > DELIVERIES_PAGE;
    attempts.truncate(DELIVERIES_PAGE as usize);
    let next_url = match (more, attempts.last()) {
        (true, Some(last)) => Some(format!(
            "/webhooks/{id}/deliveries?{}before={}",
            if success.is_some() {
                format!("outcome={outcome}&")
            } else {
                String::new()
            },
            last.id
        )),
        _ => None,
    };
    Ok(DeliveriesView {
        attempts,
        outcome,
        next_url,
        retention_days: state.config.retention_days,
        replay: None,
    })
}

/// What an action's answer adds to a tab: a secret just prepared (shown once on the HTTP
/// settings tab), the Replay form's answer on the Deliveries tab, and the status to answer with.
pub(super) struct TabExtras {
    pub new_secret: Option<Prepared>,
    pub replay: Option<ReplayPanel>,
    pub status: StatusCode,
}

impl Default for TabExtras {
    fn default() -> Self {
        TabExtras {
            new_secret: None,
            replay: None,
            status: StatusCode::OK,
        }
    }
}

/// Renders a tab of the details page (the whole page, or the tabs for htmx).
#[allow(clippy::too_many_arguments)]
pub(super) async fn details_tab(
    state: AppState,
    user: CurrentUser,
    layout: Layout,
    headers: HeaderMap,
    id: String,
    tab: Tab,
    query: TabQuery,
    extras: TabExtras,
) -> AppResult<Response> {
    let TabExtras {
        new_secret,
        replay,
        status,
    } = extras;
    // Whether a call is pending is read *before* the statistics: a call recorded in between
    // then shows in the figures, or keeps the tab refreshing until it does. (Read after, a call
    // recorded in between left old figures on a tab that no longer refreshed.)
    let webhook_id = WebhookId::parse(&id).ok_or(AppError::NotFound)?;
    let busy = match tab {
        Tab::Statistics | Tab::Deliveries => store::delivery_busy(&state.pool, &webhook_id).await?,
        _ => None,
    };
    let w = find(&state, &user, &id).await?;
    let reveal = tab == Tab::Http && query.reveal.as_deref() == Some("1");
    if reveal {
        // Only admins may see the secret in clear, and each time it is recorded.
        user.require(Permission::EditWebhooks)?;
        store::audited::record_reveal(
            &state.pool,
            &crate::audit::Actor::from(&user),
            &w,
            "on the HTTP settings tab",
        )
        .await?;
    }
    let (history, history_older_url) = match tab {
        Tab::History => history_view(&state, &user, &w.id, &query).await?,
        _ => (Vec::new(), None),
    };
    let deliveries = match tab {
        Tab::Deliveries => DeliveriesView {
            replay: user
                .can_edit()
                .then(|| replay.unwrap_or_else(|| ReplayPanel::fresh(&layout.csrf_token))),
            ..deliveries_view(&state, &w.id, &query).await?
        },
        _ => DeliveriesView::default(),
    };
    let charts = match tab {
        Tab::Statistics => {
            let now = chrono::Utc::now();
            let hours =
                store::health::recent_hours(&state.pool, &user.account_id, &w.id, now, store::health::WEEK_HOURS)
                    .await?;
            Some(Charts::new(&hours, now))
        }
        _ => None,
    };
    let wants_fragment = wizard::is_htmx(&headers) && headers.get("hx-target").is_some_and(|t| t == "tabs");
    // Every webhook type has a test request that makes it fire (the requests feature knows
    // which); vendors create test requests in their products' queues.
    let test_request = user.account_kind == crate::auth::AccountKind::Vendor && w.webhook_type().is_some();
    // The ping panel is part of the page, not of the tabs a fragment swaps.
    let ping = if wants_fragment {
        None
    } else {
        store::ping::ping_status(&state.pool, &w.id).await?
    };
    let d = DetailsView {
        ping,
        w,
        tab,
        tabs: Tab::ALL,
        can_edit: user.can_edit(),
        can_delete: user.can_delete(),
        reveal,
        fragment: wants_fragment,
        busy,
        deliveries,
        test_request,
        new_secret: new_secret.map(NewSecret::from),
        history,
        history_older_url,
        secret_grace_hours: state.config.secret_grace.as_secs() / 3600,
        csrf_token: layout.csrf_token.clone(),
        charts,
    };
    let vary = [(header::VARY, "HX-Request, HX-Target")];
    Ok(if wants_fragment {
        (status, vary, TabsPartial { d }).into_response()
    } else {
        let layout = layout.titled(d.w.label.clone(), Nav::Webhooks);
        (status, vary, DetailsPage { layout, d }).into_response()
    })
}

macro_rules! tab_handler {
    ($name:ident, $tab:expr) => {
        pub(super) async fn $name(
            State(s): State<AppState>,
            u: CurrentUser,
            l: Layout,
            h: HeaderMap,
            Path(id): Path<String>,
            Query(q): Query<TabQuery>,
        ) -> AppResult<Response> {
            details_tab(s, u, l, h, id, $tab, q, TabExtras::default()).await
        }
    };
}
tab_handler!(tab_general, Tab::General);
tab_handler!(tab_statistics, Tab::Statistics);
tab_handler!(tab_http, Tab::Http);
tab_handler!(tab_data, Tab::Data);
tab_handler!(tab_deliveries, Tab::Deliveries);
tab_handler!(tab_history, Tab::History);

#[derive(Template)]
#[template(path = "webhooks/attempt.html")]
pub(super) struct AttemptPage {
    layout: Layout,
    w: Webhook,
    a: store::Attempt,
    /// A failed call's likely cause and next step.
    hint: Option<Hint>,
}
page!(AttemptPage);

/// One call: the request as sent (token redacted) and the response or error.
pub(super) async fn attempt_view(
    State(state): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Path((id, attempt)): Path<(String, String)>,
) -> AppResult<AttemptPage> {
    let w = find(&state, &user, &id).await?;
    let attempt_id = super::attempt_id(&attempt)?;
    let mut a = store::attempt(&state.pool, &w.id, attempt_id)
        .await?
        .ok_or(AppError::NotFound)?;
    store::label_retries(&state.pool, &w.id, std::slice::from_mut(&mut a)).await?;
    let layout = layout.titled(format!("Call WHA-{} of {}", a.id, w.label), Nav::Webhooks);
    let hint = attempt_hint(&a);
    Ok(AttemptPage { layout, w, a, hint })
}

// ---------------------------------------------------------------------------------------
// Trigger now.
