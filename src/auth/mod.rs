//! Accounts, users, sign-in, sessions and CSRF.

pub mod csrf;
pub mod password;
pub mod session;
pub mod store;
pub mod web;

pub use store::{throttle, users};
pub use users::{AccountKind, CurrentUser, Role};
