//! The router: every feature's routes composed, and the middleware every request passes
//! through. Nothing imports this module but start-up: the state handlers extract is in
//! [`crate::state`], below the features.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::auth;
use crate::error::{AppError, HtmxErrorFragment};
use crate::state::AppState;

/// Content-Security-Policy: no inline script or style, nothing from other origins, no framing.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; \
                   form-action 'self'; frame-ancestors 'none'";

pub fn router(state: AppState) -> Router {
    let session_store = crate::auth::store::sessions::PostgresSessions::new(state.pool.clone());
    let idle = time::Duration::seconds(state.config.session_idle.as_secs() as i64);
    let sessions = SessionManagerLayer::new(session_store)
        .with_name("portal_session")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.config.secure_cookies())
        .with_expiry(Expiry::OnInactivity(idle));

    let protected = Router::new()
        .route("/", get(|| async { Redirect::to("/webhooks") }))
        .merge(crate::webhooks::web::router())
        .merge(crate::tokens::web::router())
        .merge(crate::requests::web::router())
        .merge(crate::inbound::web::router())
        .merge(crate::users::web::router())
        .merge(crate::audit::web::router())
        .merge(crate::notify::web::router())
        .route_layer(middleware::from_fn(crate::layout::forget_shown_flashes))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::session::require_login,
        ));

    let public = crate::api::router(crate::inbound::api::router())
        .route("/login", get(auth::web::login_page).post(auth::web::login_submit))
        .route("/logout", get(auth::web::logout_page).post(auth::web::logout))
        .route("/set-password", axum::routing::post(auth::web::set_password_submit))
        .route("/set-password/{token}", get(auth::web::set_password_page))
        .route(
            "/hooks/in/{id}",
            get(crate::inbound::endpoint::receive)
                .post(crate::inbound::endpoint::receive)
                .fallback(crate::inbound::endpoint::wrong_method),
        )
        .route(
            "/hooks/in/{account}/{name}",
            get(crate::inbound::endpoint::receive_named)
                .post(crate::inbound::endpoint::receive_named)
                .fallback(crate::inbound::endpoint::wrong_method),
        )
        .route("/healthz", get(healthz))
        .route("/metrics", get(crate::metrics::on_portal));

    Router::new()
        .merge(protected)
        .merge(public)
        .fallback(not_found)
        .layer(middleware::from_fn(auth::csrf::verify_csrf))
        .layer(sessions)
        .layer(middleware::from_fn_with_state(state.clone(), session_save_failures))
        .layer(middleware::from_fn(htmx_errors))
        .nest_service("/static", crate::assets::router())
        .layer(
            ServiceBuilder::new()
                .layer(TraceLayer::new_for_http())
                // Outside the panic and timeout layers, so their answers are JSON on the API too.
                .layer(middleware::from_fn(crate::api::json_errors))
                .layer(CatchPanicLayer::new())
                .layer(SetResponseHeaderLayer::overriding(
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(CSP),
                ))
                .layer(SetResponseHeaderLayer::overriding(
                    header::X_FRAME_OPTIONS,
                    HeaderValue::from_static("DENY"),
                ))
                .layer(SetResponseHeaderLayer::overriding(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ))
                // A page may ask for less (the set-password page: no-referrer).
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("same-origin"),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("no-store"),
                ))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    Duration::from_secs(60),
                )),
        )
        .with_state(state)
}

/// For htmx requests, errors become a toast fragment swapped into the page's toast area
/// instead of a full error page replacing the target.
async fn htmx_errors(request: Request, next: Next) -> Response {
    let is_htmx = request.headers().contains_key("hx-request");
    let mut response = next.run(request).await;
    if is_htmx {
        if let Some(HtmxErrorFragment(fragment)) = response.extensions_mut().remove::<HtmxErrorFragment>() {
            let status = response.status();
            let mut fragment_response = (status, axum::response::Html(fragment)).into_response();
            let headers = fragment_response.headers_mut();
            headers.insert(
                HeaderName::from_static("hx-retarget"),
                HeaderValue::from_static("#toasts"),
            );
            headers.insert(
                HeaderName::from_static("hx-reswap"),
                HeaderValue::from_static("beforeend"),
            );
            if let Some(retry) = response.headers().get(header::RETRY_AFTER) {
                headers.insert(header::RETRY_AFTER, retry.clone());
            }
            return fragment_response;
        }
    }
    response
}

/// The session layer answers a bare 500 when it cannot save a session (nothing of the
/// handler's page is left). Its store is the database: say so properly, as a 503 page when the
/// database is unreachable.
async fn session_save_failures(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let bare_500 = response.status() == StatusCode::INTERNAL_SERVER_ERROR
        && !response.headers().contains_key(header::CONTENT_TYPE)
        && response.extensions().get::<HtmxErrorFragment>().is_none();
    if !bare_500 {
        return response;
    }
    let probe = crate::db::ping(&state.pool);
    match tokio::time::timeout(Duration::from_secs(1), probe).await {
        Ok(Ok(_)) => AppError::Internal(anyhow::anyhow!("the session could not be saved")).into_response(),
        Ok(Err(e)) => AppError::from(e).into_response(),
        Err(_) => {
            AppError::Unavailable("the session could not be saved; the database does not answer".into()).into_response()
        }
    }
}

/// Unknown paths: signed-out visitors go to sign-in like everywhere else, others get 404;
/// under the API's prefix, always the API's 404.
async fn not_found(session: tower_sessions::Session, request: Request) -> Response {
    if request.uri().path().starts_with(crate::api::PREFIX) {
        return crate::api::ApiError::no_such_resource().into_response();
    }
    match auth::session::signed_in_user_id(&session).await {
        Ok(Some(_)) => AppError::NotFound.into_response(),
        Ok(None) => auth::session::redirect_to_login(&request),
        Err(e) => e.into_response(),
    }
}

async fn healthz(State(state): State<AppState>) -> Response {
    match crate::db::ping(&state.pool).await {
        Ok(_) => Json(serde_json::json!({"status": "ok", "database": "ok"})).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "unavailable", "database": "unreachable"})),
            )
                .into_response()
        }
    }
}
