//! What every handler extracts: the database pool, the settings and the HTTP client for calls
//! someone waits for. Below the features, so that they and the router composing them import
//! it without importing each other.

use std::sync::Arc;

use sqlx::PgPool;

use crate::config::Config;
use crate::delivery::http::HttpCaller;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub config: Arc<Config>,
    /// Synchronous calls made while a page or API request waits (validation webhooks).
    pub caller: Arc<HttpCaller>,
}
