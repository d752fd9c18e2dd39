//! What every handler extracts: the database pool, the settings, the HTTP client for calls
//! someone waits for and the process's instruments for `/metrics`. Below the features, so that they and the router composing them import
//! it without importing each other.

use std::sync::Arc;

use sqlx::PgPool;

use crate::config::Config;
use crate::delivery::http::HttpCaller;
use crate::delivery::policy::EndpointPolicy;
use crate::telemetry::Telemetry;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub config: Arc<Config>,
    /// Synchronous calls made while a page or API request waits (validation webhooks).
    pub caller: Arc<HttpCaller>,
    /// This process's counters (calls, inbound messages), shared with the delivery task.
    pub telemetry: Arc<Telemetry>,
}

impl AppState {
    /// Which endpoints may be called: the forms check URLs by it, as the calls do.
    pub fn endpoint_policy(&self) -> EndpointPolicy {
        EndpointPolicy {
            allowlist: self.config.delivery.allowlist.clone(),
        }
    }
}
