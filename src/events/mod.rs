//! Where events come from: every source records its events through [`store`] inside the
//! transaction of its cause.

pub mod store;

pub use self::store::{
    record, record_called, record_message, record_queue_changes, webhooks_watching, Outcome, Source, CHANNEL,
};
