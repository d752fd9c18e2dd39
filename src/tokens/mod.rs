//! API tokens (Integrations → Tokens): the store ([`store`]: tokens, keys, the API caller)
//! and the pages ([`web`]).

pub mod store;
pub mod web;

pub use self::store::{authenticate, create, list, revoke, ApiCaller, Token, NAME_MAX};
