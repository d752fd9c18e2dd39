//! The integration tests, one binary: each module drives the real portal (or its binary)
//! over HTTP with a real PostgreSQL database per test, real handlers and, for the browser
//! modules, real Chromium. `common` holds the harness.

mod common;

mod api;
mod api_python;
mod audit;
mod auth;
mod bad_input;
mod browser_a11y;
mod browser_audit;
mod browser_health;
mod browser_login;
mod browser_loop;
mod browser_users;
mod browser_webhooks;
mod delivery;
mod delivery_processes;
mod diagnose;
mod hardening;
mod health;
mod inbound;
mod inbound_bodies;
mod notify;
mod ping;
mod replay;
mod requests_loop;
mod retention;
mod rotation;
mod startup;
mod static_assets;
mod tallies;
mod test_requests;
mod tokens;
mod users;
mod webhooks_manage;
mod webhooks_validation;
mod webhooks_wizard;
