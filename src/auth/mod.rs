//! Accounts, users, what they may do, sign-in, sessions and CSRF.

pub mod csrf;
pub mod password;
pub mod permissions;
pub mod session;
pub mod store;
pub mod web;

pub use permissions::{Permission, Permissions};
pub use store::{password_links, throttle, users};
pub use users::{AccountKind, CurrentUser, Role};
