//! The edit forms: General, HTTP settings and Custom data (never product or type).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use super::details::Tab;
use super::find;
use crate::audit::{Action, Actor};
use crate::auth::session::{flash, FlashKind};
use crate::auth::{CurrentUser, Permission};
use crate::delivery::policy::EndpointCheck;
use crate::error::{AppError, AppResult};
use crate::forms::FormFields;
use crate::layout::{page, Layout, Nav};
use crate::state::AppState;
use crate::webhooks::model::{self, FieldErrors};
use crate::webhooks::store::audited::AuditedChange;
use crate::webhooks::store::{self, Webhook};
use crate::webhooks::wizard;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum EditSection {
    General,
    Http,
    Data,
}

impl EditSection {
    pub const ALL: [EditSection; 3] = [EditSection::General, EditSection::Http, EditSection::Data];
    fn from_slug(slug: &str) -> Option<EditSection> {
        match slug {
            "general" => Some(EditSection::General),
            "http" => Some(EditSection::Http),
            "data" => Some(EditSection::Data),
            _ => None,
        }
    }
    pub fn slug(self) -> &'static str {
        match self {
            EditSection::General => "general",
            EditSection::Http => "http",
            EditSection::Data => "data",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            EditSection::General => "General",
            EditSection::Http => "HTTP settings",
            EditSection::Data => "Custom data",
        }
    }
    fn tab(self) -> Tab {
        match self {
            EditSection::General => Tab::General,
            EditSection::Http => Tab::Http,
            EditSection::Data => Tab::Data,
        }
    }
}

/// The values shown in an edit form: the stored ones, or what was just typed.
pub struct EditValues {
    pub label: String,
    pub description: String,
    pub active: bool,
    pub external_url: String,
    pub jwt_secret: String,
    pub http_method: String,
    pub payload_format: String,
    pub md5_wrap: bool,
    pub headers: Vec<(String, String)>,
    pub data: String,
    pub rate_limit: String,
    pub secret_regenerated: bool,
}

impl EditValues {
    fn from_webhook(w: &Webhook) -> Self {
        EditValues {
            label: w.label.clone(),
            description: w.description.clone(),
            active: w.active,
            external_url: w.external_url.clone(),
            jwt_secret: w.jwt_secret.clone(),
            http_method: w.http_method.as_str().to_string(),
            payload_format: w.payload_format.as_str().to_string(),
            md5_wrap: w.md5_wrap,
            headers: w.headers.0.clone(),
            data: w.data_pretty(),
            rate_limit: w.rate_limit.map(|n| n.to_string()).unwrap_or_default(),
            secret_regenerated: false,
        }
    }
}

#[derive(Template)]
#[template(path = "webhooks/edit.html")]
pub(super) struct EditPage {
    layout: Layout,
    w: Webhook,
    section: EditSection,
    sections: [EditSection; 3],
    v: EditValues,
    errors: FieldErrors,
}
page!(EditPage);

impl EditPage {
    fn new(layout: Layout, w: Webhook, section: EditSection, v: EditValues, errors: FieldErrors) -> Self {
        EditPage {
            layout: layout.titled(format!("Edit {}", w.label), Nav::Webhooks),
            w,
            section,
            sections: EditSection::ALL,
            v,
            errors,
        }
    }
}

pub(super) async fn edit_redirect(Path(id): Path<String>) -> Redirect {
    Redirect::to(&format!("/webhooks/{id}/edit/general"))
}

pub(super) async fn edit_form(
    State(state): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Path((id, slug)): Path<(String, String)>,
) -> AppResult<EditPage> {
    let w = find(&state, &user, &id).await?;
    user.require(Permission::EditWebhooks)?;
    let section = EditSection::from_slug(&slug).ok_or(AppError::NotFound)?;
    if section == EditSection::Http {
        // The form holds the secret in clear: that is a reveal, recorded.
        crate::webhooks::store::audited::record_reveal(
            &state.pool,
            &crate::audit::Actor::from(&user),
            &w,
            "on the HTTP settings edit form",
        )
        .await?;
    }
    let v = EditValues::from_webhook(&w);
    Ok(EditPage::new(layout, w, section, v, FieldErrors::default()))
}

pub(super) async fn edit_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    layout: Layout,
    headers: HeaderMap,
    Path((id, slug)): Path<(String, String)>,
    form: FormFields,
) -> AppResult<Response> {
    user.require(Permission::EditWebhooks)?;
    let w = find(&state, &user, &id).await?;
    let section = EditSection::from_slug(&slug).ok_or(AppError::NotFound)?;
    let mut v = EditValues::from_webhook(&w);
    let mut errors = FieldErrors::default();
    let action = form.get("action");
    // A warning to go with the saved settings (the endpoint's host does not resolve now).
    let mut endpoint_note = None;
    let saved = match section {
        EditSection::General => {
            // As typed: an over-long value is reported with its length and shown again.
            v.label = form.get("name").to_string();
            v.description = form.get("description").to_string();
            v.active = form.checked("enabled");
            model::validate_name(&v.label, &mut errors);
            model::validate_description(&v.description, &mut errors);
            if errors.is_empty() {
                let mut change = AuditedChange::begin(&state.pool, &user.account_id, &w.id).await?;
                let saved =
                    store::update_general(change.conn(), &user, &w.id, &v.label, &v.description, v.active).await?;
                change.commit(&Actor::from(&user), Action::WebhookUpdated, "").await?;
                saved
            } else {
                false
            }
        }
        EditSection::Http => {
            v.external_url = form.get("external_url").to_string();
            v.jwt_secret = form.get("jwt_secret").to_string();
            v.http_method = form.get("http_method").to_string();
            v.payload_format = form.get("payload_format").to_string();
            v.md5_wrap = form.checked("md5_wrap");
            v.rate_limit = form.get("rate_limit").to_string();
            v.headers = wizard::read_headers(&form);
            if wizard::apply_http_action(action, &mut v.jwt_secret, &mut v.headers) {
                v.secret_regenerated = action == "regenerate_secret";
                false
            } else {
                let method =
                    model::validate_http(&v.external_url, &v.jwt_secret, &v.http_method, &v.headers, &mut errors);
                let rate_limit = model::parse_rate_limit(&v.rate_limit, &mut errors);
                let format = model::parse_payload_format(&v.payload_format, &mut errors);
                if errors.is_empty() {
                    match state.endpoint_policy().check_url(&v.external_url).await {
                        EndpointCheck::Callable => {}
                        EndpointCheck::Forbidden(why) => errors.add("external_url", why),
                        EndpointCheck::Unresolved(why) => endpoint_note = Some(why),
                    }
                }
                match (method, format) {
                    (Some(method), Some(payload_format)) if errors.is_empty() => {
                        let http = store::HttpSettings {
                            external_url: &v.external_url,
                            jwt_secret: &v.jwt_secret,
                            method,
                            payload_format,
                            md5_wrap: v.md5_wrap,
                            headers: &v.headers,
                            rate_limit,
                        };
                        let mut change = AuditedChange::begin(&state.pool, &user.account_id, &w.id).await?;
                        let saved = store::update_http(change.conn(), &user, &w.id, &http).await?;
                        change.commit(&Actor::from(&user), Action::WebhookUpdated, "").await?;
                        saved
                    }
                    _ => false,
                }
            }
        }
        EditSection::Data => {
            v.data = form.get("data").to_string();
            match model::parse_data(&v.data, &mut errors) {
                Some(data) if errors.is_empty() => {
                    let mut change = AuditedChange::begin(&state.pool, &user.account_id, &w.id).await?;
                    let saved = store::update_data(change.conn(), &user, &w.id, &data).await?;
                    change.commit(&Actor::from(&user), Action::WebhookUpdated, "").await?;
                    saved
                }
                _ => false,
            }
        }
    };
    if saved {
        tracing::info!(webhook = %id, user = %user.id, section = section.slug(), "webhook edited");
        flash(
            &session,
            FlashKind::Success,
            format!("{} of “{}” saved.", section.label(), v.label),
        )
        .await?;
        if let Some(note) = endpoint_note {
            flash(&session, FlashKind::Error, format!("About the endpoint: {note}")).await?;
        }
        return Ok(wizard::redirect(&headers, &section.tab().path(&w.id)));
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, EditPage::new(layout, w, section, v, errors)).into_response())
}
