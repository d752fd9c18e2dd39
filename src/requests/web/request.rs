//! `/requests/{id}`: one request, its validation, and the status changes an admin can make.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::Value;

use tower_sessions::Session;

use super::products::run_validation;
use super::{action_label, find_request};
use crate::auth::session::{flash, FlashKind};
use crate::auth::{CurrentUser, Permission};
use crate::dates::filters;
use crate::error::{AppError, AppResult};
use crate::forms::FormFields;
use crate::layout::{page, Layout, Nav};
use crate::requests::validation::{self};
use crate::requests::{Param, Request, RequestAction};
use crate::state::AppState;
use crate::webhooks::model::WebhookType;

#[derive(Template)]
#[template(path = "products/request.html")]
pub(super) struct RequestPage {
    layout: Layout,
    r: Request,
    product_name: String,
    params: Vec<Param>,
    validation: Option<Value>,
    /// The webhook type that would validate it now, when it is a draft or inquiring.
    validator: Option<WebhookType>,
}
page!(RequestPage);

impl RequestPage {
    fn action_label(&self, action: &RequestAction) -> &'static str {
        action_label(action)
    }
    fn validation_ok(&self) -> bool {
        self.validation.as_ref().and_then(|v| v["ok"].as_bool()) == Some(true)
    }
    /// When the validation webhook answered (kept as RFC 3339 in the request's record).
    fn validated_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let at = self.validation.as_ref()?["at"].as_str()?;
        chrono::DateTime::parse_from_rfc3339(at).ok().map(|t| t.to_utc())
    }
}

pub(super) async fn request_page(
    State(state): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Path(id): Path<String>,
) -> AppResult<RequestPage> {
    let r = find_request(&state, &user, &id).await?;
    let product_name = crate::requests::store::product_name(&state.pool, &r.product_id).await?;
    let validator = r
        .validation_stage()
        .and_then(|stage| validation::validator_type(r.request_kind()?, stage));
    Ok(RequestPage {
        layout: layout.titled(r.id.to_string(), Nav::Products),
        product_name,
        params: r.param_list(),
        validation: r.validation.as_ref().map(|v| v.0.clone()),
        validator,
        r,
    })
}

pub(super) async fn validate(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let r = find_request(&state, &user, &id).await?;
    user.require(Permission::EditWebhooks)?;
    let Some(stage) = r.validation_stage() else {
        flash(
            &session,
            FlashKind::Error,
            format!(
                "{} is {}: only draft and inquiring purchase, change and tier configuration requests are validated.",
                r.id, r.status
            ),
        )
        .await?;
        return Ok(Redirect::to(&format!("/requests/{}", r.id)).into_response());
    };
    run_validation(&state, &session, &r, stage).await?;
    Ok(Redirect::to(&format!("/requests/{}", r.id)).into_response())
}

pub(super) async fn act(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    Path((id, action)): Path<(String, String)>,
    form: FormFields,
) -> AppResult<Response> {
    let r = find_request(&state, &user, &id).await?;
    let action = RequestAction::parse(&action).ok_or(AppError::NotFound)?;
    user.require(Permission::EditWebhooks)?;
    let back = match form.get("back") {
        "product" => format!("/products/{}#queue", r.product_id),
        _ => format!("/requests/{}", r.id),
    };
    let Some(to) = crate::requests::transition(action, r.status) else {
        flash(
            &session,
            FlashKind::Error,
            format!("{} is {}: it cannot be {}.", r.id, r.status, past_tense(action)),
        )
        .await?;
        return Ok(Redirect::to(&back).into_response());
    };
    let Some(updated) = crate::requests::set_status(&state.pool, &user.account_id, &r.id, r.status, to).await? else {
        flash(
            &session,
            FlashKind::Error,
            format!(
                "{} changed meanwhile (it is no longer {}); nothing was done.",
                r.id, r.status
            ),
        )
        .await?;
        return Ok(Redirect::to(&back).into_response());
    };
    tracing::info!(request = %r.id, status = %to, user = %user.id, "request status changed");
    flash(
        &session,
        FlashKind::Success,
        format!(
            "{} is now {}: the webhooks watching its queue are notified.",
            updated.id, updated.status
        ),
    )
    .await?;
    Ok(Redirect::to(&back).into_response())
}

pub(super) fn past_tense(action: RequestAction) -> &'static str {
    match action {
        RequestAction::Submit => "submitted",
        RequestAction::Approve => "approved",
        RequestAction::Fail => "failed",
        RequestAction::Inquire => "set inquiring",
    }
}
