//! Product pages and test requests: `/products` (the account's products), `/products/{id}`
//! (its queues, "Create test request", the webhooks watching it), `/requests/{id}` (one
//! request: parameters, the last validation, actions). Every change here is a queue change
//! the product's webhooks announce, or a synchronous validation call. A module each: the
//! product pages and the request page.

mod products;
mod request;

use axum::routing::{get, post};
use axum::Router;

use super::Request;
use crate::auth::CurrentUser;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::webhooks::store::{self as webhook_store, Product};

use self::products::{create, product_page, products};
use self::request::{act, request_page, validate};

pub(super) const PAGE_SIZE: i64 = 25;
pub const PARAMS_MAX: usize = 20;
pub(super) const PARAM_ID_MAX: usize = 64;
pub(super) const PARAM_VALUE_MAX: usize = 1000;
pub const STATUSES: [&str; 5] = ["draft", "pending", "inquiring", "approved", "failed"];

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
    if !crate::ids::has_shape(id, "PRD", 3) {
        return Err(AppError::NotFound);
    }
    webhook_store::product_for(&state.pool, user, id)
        .await?
        .ok_or(AppError::NotFound)
}

pub fn action_label(action: &str) -> &'static str {
    match action {
        "submit" => "Submit (to pending)",
        "approve" => "Approve",
        "fail" => "Fail",
        "inquire" => "Set inquiring",
        _ => "Change",
    }
}

pub fn status_chip(status: &str) -> &'static str {
    match status {
        "approved" => "chip-on",
        "failed" => "chip-bad",
        "draft" => "chip-off",
        _ => "chip-info",
    }
}

pub(super) async fn find_request(state: &AppState, user: &CurrentUser, id: &str) -> AppResult<Request> {
    if !crate::ids::has_shape(id, "PR", 3) {
        return Err(AppError::NotFound);
    }
    super::get(&state.pool, &user.account_id, id)
        .await?
        .ok_or(AppError::NotFound)
}
