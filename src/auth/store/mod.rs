//! The SQL of accounts and users ([`users`]) and of sign-in attempts ([`throttle`]).

pub mod throttle;
pub mod users;
