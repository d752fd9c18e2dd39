//! Webhook admin portal: vendor admins manage the outgoing webhooks of a B2B commerce
//! platform (modelled on CloudBlue Connect's Integrations → Webhooks).

pub mod api;
pub mod app;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod config;
pub mod credentials;
pub mod dates;
pub mod db;
pub mod delivery;
pub mod domain;
pub mod error;
pub mod events;
pub mod forms;
pub mod ids;
pub mod inbound;
pub mod latency;
pub mod layout;
pub mod metrics;
pub mod net;
pub mod notify;
pub mod render;
pub mod requests;
pub mod rql;
pub mod seed;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod tokens;
pub mod users;
pub mod webhooks;
