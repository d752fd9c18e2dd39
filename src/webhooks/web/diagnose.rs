//! The diagnosis pages, for users who may edit webhooks: the request preview (the call that
//! would be made now, not sent), the token checker, and a call's curl command with a freshly
//! signed token. Each shows a valid token or reads a pasted one, so none is cached
//! (`no-store`), and nothing of them is stored or logged.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use super::find;
use crate::auth::{CurrentUser, Permission};
use crate::dates::filters;
use crate::delivery::request::Request;
use crate::error::{AppError, AppResult};
use crate::forms::FormFields;
use crate::ids::WebhookId;
use crate::layout::{page, Layout, Nav};
use crate::render::html;
use crate::state::AppState;
use crate::webhooks::diagnose::curl::{curl_command, SignedCurl};
use crate::webhooks::diagnose::token_check::{
    self, check, clean, decode_unverified, verification_keys, Expiry, Signature, TokenReport, TOKEN_MAX,
};
use crate::webhooks::store::{self, Webhook};
use crate::webhooks::wizard;

const NO_STORE: [(header::HeaderName, &str); 1] = [(header::CACHE_CONTROL, "no-store")];

fn signing_failed(e: jsonwebtoken::errors::Error) -> AppError {
    AppError::Internal(anyhow::anyhow!("signing a token failed: {e}"))
}

// ---------------------------------------------------------------------------------------
// Request preview.

#[derive(Template)]
#[template(path = "webhooks/preview.html")]
struct PreviewPage {
    layout: Layout,
    w: Webhook,
    request: Request,
    token_header: String,
    claims: String,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
    validation: bool,
}
page!(PreviewPage);

/// `GET /webhooks/{id}/preview`: the call Trigger now would make now, built by the same
/// function as the real one; nothing is sent.
pub(super) async fn preview(
    State(state): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Path(id): Path<String>,
) -> AppResult<Response> {
    user.require(Permission::EditWebhooks)?;
    let w = find(&state, &user, &id).await?;
    let now = Utc::now();
    let processing_timeout = state.config.delivery.processing_timeout;
    let request = w
        .call_at(state.config.api_url(), processing_timeout, now)
        .map_err(signing_failed)?;
    let (token_header, claims) =
        decode_unverified(&request.token).map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?;
    let validation = w.webhook_type().is_some_and(|t| !t.is_notification());
    // The page holds a token that works: who took one, recorded (never the token).
    crate::webhooks::store::audited::record_action(
        &state.pool,
        &user.account_id,
        &crate::audit::Actor::from(&user),
        &w.id,
        &w.label,
        crate::audit::Action::RequestPreviewed,
        &format!("With a token signed by key {}.", w.jwt_kid),
    )
    .await?;
    let layout = layout.titled(format!("Request preview · {}", w.label), Nav::Webhooks);
    let page = PreviewPage {
        layout,
        request,
        token_header: token_check::pretty(&token_header),
        claims: token_check::pretty(&claims),
        expires_at: now + chrono::Duration::seconds(processing_timeout),
        now,
        validation,
        w,
    };
    Ok((NO_STORE, page).into_response())
}

// ---------------------------------------------------------------------------------------
// Token checker.

#[derive(Template)]
#[template(path = "webhooks/token_check.html")]
struct TokenCheckPage {
    layout: Layout,
    w: Webhook,
    token: String,
    error: Option<String>,
    report: Option<TokenReport>,
    now: DateTime<Utc>,
    token_max: usize,
}
page!(TokenCheckPage);

/// `GET /webhooks/{id}/token-check`: the form.
pub(super) async fn token_check_form(
    State(state): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Path(id): Path<String>,
) -> AppResult<Response> {
    user.require(Permission::EditWebhooks)?;
    let w = find(&state, &user, &id).await?;
    let layout = layout.titled(format!("Check a token · {}", w.label), Nav::Webhooks);
    let page = TokenCheckPage {
        layout,
        w,
        token: String::new(),
        error: None,
        report: None,
        now: Utc::now(),
        token_max: TOKEN_MAX,
    };
    Ok((NO_STORE, page).into_response())
}

/// `POST /webhooks/{id}/token-check`: the pasted token checked against the webhook's
/// secrets; a token that cannot be read is a 422 saying why. Nothing is stored or logged.
pub(super) async fn token_check_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Path(id): Path<String>,
    form: FormFields,
) -> AppResult<Response> {
    user.require(Permission::EditWebhooks)?;
    let w = find(&state, &user, &id).await?;
    let now = Utc::now();
    let token = clean(form.get("token")).to_string();
    let (status, report, error) = match check(&token, &verification_keys(&w), w.id.as_str(), now) {
        Ok(report) => (StatusCode::OK, Some(report), None),
        Err(message) => (StatusCode::UNPROCESSABLE_ENTITY, None, Some(message)),
    };
    let layout = layout.titled(format!("Check a token · {}", w.label), Nav::Webhooks);
    // A token too long to check is not sent back into the form either.
    let token = if token.len() > TOKEN_MAX { String::new() } else { token };
    let page = TokenCheckPage {
        layout,
        w,
        token,
        error,
        report,
        now,
        token_max: TOKEN_MAX,
    };
    Ok((status, NO_STORE, page).into_response())
}

// ---------------------------------------------------------------------------------------
// A call as curl, with a fresh token.

#[derive(Template)]
#[template(path = "webhooks/attempt_curl.html")]
struct SignedCurlPage {
    layout: Layout,
    webhook_id: WebhookId,
    webhook_label: String,
    attempt_id: i64,
    signed: SignedCurl,
}
page!(SignedCurlPage);

/// The signed command alone, swapped into the call's page by htmx.
#[derive(Template)]
#[template(path = "webhooks/_curl_signed.html")]
struct SignedCurlPanel {
    signed: SignedCurl,
}
html!(SignedCurlPanel);

/// `POST /webhooks/{id}/deliveries/{attempt}/curl`: the call's curl command with a token
/// signed now with the webhook's current secret.
pub(super) async fn signed_curl(
    State(state): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    headers: HeaderMap,
    Path((id, attempt)): Path<(String, String)>,
    _form: FormFields,
) -> AppResult<Response> {
    user.require(Permission::EditWebhooks)?;
    let w = find(&state, &user, &id).await?;
    let attempt_id = super::attempt_id(&attempt)?;
    let a = store::attempt(&state.pool, &w.id, attempt_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let signed = curl_command(
        &w,
        &a,
        state.config.api_url(),
        state.config.delivery.processing_timeout,
        Utc::now(),
    )
    .map_err(signing_failed)?;
    // Who took a signed token, and for which call; never the token.
    crate::webhooks::store::audited::record_action(
        &state.pool,
        &user.account_id,
        &crate::audit::Actor::from(&user),
        &w.id,
        &w.label,
        crate::audit::Action::RequestCopied,
        &format!("Call WHA-{attempt_id}, with a token signed now by key {}.", w.jwt_kid),
    )
    .await?;
    tracing::info!(webhook = %w.id, user = %user.id, attempt = attempt_id, "curl command with a token");
    if wizard::is_htmx(&headers) {
        return Ok((NO_STORE, SignedCurlPanel { signed }).into_response());
    }
    let layout = layout.titled(format!("Call WHA-{attempt_id} as curl · {}", w.label), Nav::Webhooks);
    let page = SignedCurlPage {
        layout,
        webhook_id: w.id,
        webhook_label: w.label,
        attempt_id,
        signed,
    };
    Ok((NO_STORE, page).into_response())
}

/// The checker's verdicts, in words.
impl TokenCheckPage {
    fn signature_text(&self, report: &TokenReport) -> String {
        match &report.signature {
            Signature::Verified { role, kid } => format!(
                "Signed with this webhook's {} secret{}.",
                role.label(),
                kid.as_ref().map(|k| format!(" (key {k})")).unwrap_or_default()
            ),
            Signature::Unverified => "Not signed with this webhook's secret: it was signed with another secret (another webhook's, or one replaced since), or it was altered.".to_string(),
            Signature::OtherAlgorithm(alg) => format!(
                "Signed with {alg}, not HS256: the portal signs calls only with HS256, so this token is not one of its calls."
            ),
        }
    }

    fn expiry_chip(&self, report: &TokenReport) -> (&'static str, &'static str) {
        match report.expiry {
            Expiry::Valid(_) => ("chip-on", "Not expired"),
            Expiry::Expired(_) => ("chip-bad", "Expired"),
            Expiry::Missing => ("chip-bad", "No exp"),
            Expiry::Invalid => ("chip-bad", "Invalid exp"),
        }
    }

    fn expiry_text(&self, report: &TokenReport) -> String {
        match report.expiry {
            Expiry::Valid(at) => format!(
                "Valid until {} ({}).",
                crate::dates::datetime_secs(&at),
                crate::dates::ago(&at, self.now, true)
            ),
            Expiry::Expired(at) => format!(
                "At {} ({}): a handler that checks exp refuses it.",
                crate::dates::datetime_secs(&at),
                crate::dates::ago(&at, self.now, true)
            ),
            Expiry::Missing => "No exp claim: the portal's calls always carry one.".to_string(),
            Expiry::Invalid => "Its exp claim is not a time in seconds, so verifiers refuse it.".to_string(),
        }
    }
}
