//! Product pages and test requests: `/products` (the account's products), `/products/{id}`
//! (its queues, "Create test request", the webhooks watching it), `/requests/{id}` (one
//! request: parameters, the last validation, actions). Every change here is a queue change
//! the product's webhooks announce, or a synchronous validation call. A module each: the
//! product pages and the request page.

mod products;
mod request;

use axum::routing::{get, post};
use axum::Router;

use super::{Request, RequestAction, RequestStatus};
use crate::auth::CurrentUser;
use crate::error::{AppError, AppResult};
use crate::ids::{ProductId, RequestId};
use crate::state::AppState;
use crate::webhooks::store::{self as webhook_store, Product};

use self::products::{create, product_page, products};
use self::request::{act, request_page, validate};

pub(super) const PAGE_SIZE: i64 = 25;
pub const PARAMS_MAX: usize = 20;
pub(super) const PARAM_ID_MAX: usize = 64;
pub(super) const PARAM_VALUE_MAX: usize = 1000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/products", get(products))
        .route("/products/{id}", get(product_page))
        .route("/products/{id}/requests", post(create))
        .route("/requests/{id}", get(request_page))
        .route("/requests/{id}/validate", post(validate))
        .route("/requests/{id}/{action}", post(act))
}

pub(super) async fn find_product(state: &AppState, user: &CurrentUser, id: &str) -> AppResult<Product> {
    let id = ProductId::parse(id).ok_or(AppError::NotFound)?;
    webhook_store::product_for(&state.pool, user, &id)
        .await?
        .ok_or(AppError::NotFound)
}

pub fn action_label(action: &RequestAction) -> &'static str {
    match action {
        RequestAction::Submit => "Submit (to pending)",
        RequestAction::Approve => "Approve",
        RequestAction::Fail => "Fail",
        RequestAction::Inquire => "Set inquiring",
    }
}

pub fn status_chip(status: &RequestStatus) -> &'static str {
    match status {
        RequestStatus::Approved => "chip-on",
        RequestStatus::Failed => "chip-bad",
        RequestStatus::Draft => "chip-off",
        RequestStatus::Pending | RequestStatus::Inquiring => "chip-info",
    }
}

pub(super) async fn find_request(state: &AppState, user: &CurrentUser, id: &str) -> AppResult<Request> {
    let id = RequestId::parse(id).ok_or(AppError::NotFound)?;
    super::get(&state.pool, &user.account_id, &id)
        .await?
        .ok_or(AppError::NotFound)
}
