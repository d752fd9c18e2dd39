//! The Users page (Integrations → Users) for those who may manage users: add a user with an
//! initial password or a one-time set-password link, choose what they may do, deactivate
//! them (their sessions end at once) and reset their password. The SQL is in [`store`].

mod form;
pub mod store;
pub mod web;
