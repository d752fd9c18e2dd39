//! Early warnings: when a webhook has failed `PORTAL_WARN_AFTER` times in a row, when it goes
//! out of order, and when it recovers, the account gets a notice — in the portal (the bell in
//! the top bar, the Notifications page) and by e-mail to the users who may edit webhooks
//! (with `PORTAL_SMTP_URL`).
//!
//! A watcher ([`watch::run`]) compares each webhook's counters with what it last reported
//! (`alert_state`), so the delivery task writes nothing more per call; notices and their
//! e-mails are rows first (an outbox), sent after, so a crash loses neither.

pub mod mail;
pub mod store;
pub mod watch;
pub mod web;
