//! The SQL of accounts and users ([`users`]), of sign-in attempts ([`throttle`]), of
//! sessions ([`sessions`]) and of set-password links ([`password_links`]).

pub mod accounts;
pub mod password_links;
pub mod sessions;
pub mod throttle;
pub mod users;
