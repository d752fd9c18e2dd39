//! Accounts, users, sign-in, sessions and CSRF.

pub mod csrf;
pub mod password;
pub mod session;
pub mod throttle;
pub mod users;
pub mod web;

pub use users::{AccountKind, CurrentUser, Role};
