//! The SQL of accounts and users ([`users`]), of sign-in attempts ([`throttle`]) and of
//! sessions ([`sessions`]).

pub mod accounts;
pub mod sessions;
pub mod throttle;
pub mod users;
