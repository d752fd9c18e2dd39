//! Webhooks: the type table and validation (model), SQL (store), pages (web).

pub mod diagnose;
pub mod model;
pub mod ping;
pub mod redeliver;
pub mod replay;
pub mod store;
pub mod web;
pub mod wizard;
