//! The audit log: every change to webhooks, their HTTP settings and secrets, API tokens,
//! users and inbound triggers, and every call someone asks for (Trigger now, test ping,
//! redeliver, replay), recorded with who, when, from where, what and before → after.
//!
//! Features write a record with [`store::record`] in the transaction of the change itself,
//! so a change and its record commit together. Records are append-only: the database refuses
//! updates and deletes (migration 0020), and no route offers either. A secret's value is never
//! written: a secret appears as the key id (`kid`) that names it.

pub mod store;
pub mod web;

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::auth::CurrentUser;

/// Who did it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    User,
    ApiToken,
    /// The portal itself: a handler's 410 Gone, a secret's grace period ending.
    Portal,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::ApiToken => "api_token",
            ActorKind::Portal => "portal",
        }
    }
    pub fn parse(raw: &str) -> Option<ActorKind> {
        [ActorKind::User, ActorKind::ApiToken, ActorKind::Portal]
            .into_iter()
            .find(|k| k.as_str() == raw)
    }
}

#[derive(Debug, Clone)]
pub struct Actor {
    pub kind: ActorKind,
    /// The user's or the token's id.
    pub id: Option<String>,
    /// As it reads in the log: "Ann Admin <ann@example.com>", "API token SU-… (CI)".
    pub name: String,
    pub ip: Option<IpAddr>,
}

impl Actor {
    pub fn portal() -> Actor {
        Actor {
            kind: ActorKind::Portal,
            id: None,
            name: "Webhook portal".to_string(),
            ip: None,
        }
    }

    /// Someone with access to the server, through `webhook-portal user …`.
    pub fn command_line(command: &str) -> Actor {
        Actor {
            kind: ActorKind::Portal,
            id: None,
            name: format!("Command line: webhook-portal user {command}"),
            ip: None,
        }
    }

    pub fn api_token(token_id: &str, ip: Option<IpAddr>) -> Actor {
        Actor {
            kind: ActorKind::ApiToken,
            id: Some(token_id.to_string()),
            name: format!("API token {token_id}"),
            ip,
        }
    }
}

impl From<&CurrentUser> for Actor {
    fn from(user: &CurrentUser) -> Actor {
        Actor {
            kind: ActorKind::User,
            id: Some(user.id.to_string()),
            name: format!("{} <{}>", user.name, user.email),
            ip: user.client_ip,
        }
    }
}

/// What a record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    Webhook,
    ApiToken,
    User,
    InboundTrigger,
}

impl ObjectKind {
    pub const ALL: [ObjectKind; 4] = [
        ObjectKind::Webhook,
        ObjectKind::ApiToken,
        ObjectKind::User,
        ObjectKind::InboundTrigger,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Webhook => "webhook",
            ObjectKind::ApiToken => "api_token",
            ObjectKind::User => "user",
            ObjectKind::InboundTrigger => "inbound_trigger",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            ObjectKind::Webhook => "Webhook",
            ObjectKind::ApiToken => "API token",
            ObjectKind::User => "User",
            ObjectKind::InboundTrigger => "Inbound trigger",
        }
    }
    pub fn parse(raw: &str) -> Option<ObjectKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }
    /// Where the object's page is, while it exists.
    pub fn href(self, id: &str) -> Option<String> {
        match self {
            ObjectKind::Webhook => Some(format!("/webhooks/{id}")),
            ObjectKind::InboundTrigger => Some(format!("/inbound/{id}")),
            ObjectKind::User => Some(format!("/users/{id}")),
            ObjectKind::ApiToken => None,
        }
    }
}

crate::db::text_column!(ObjectKind);

/// The object a record is about, named as it was then.
#[derive(Debug, Clone)]
pub struct Object {
    pub kind: ObjectKind,
    pub id: String,
    pub name: String,
}

impl Object {
    pub fn new(kind: ObjectKind, id: impl ToString, name: impl Into<String>) -> Object {
        Object {
            kind,
            id: id.to_string(),
            name: name.into(),
        }
    }
}

/// Every kind of record; the string is what the database and the API keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    WebhookCreated,
    WebhookUpdated,
    WebhookEnabled,
    WebhookDisabled,
    /// The handler answered 410 Gone (written by the delivery task's own statement).
    WebhookGone,
    WebhookDeleted,
    WebhookTriggered,
    WebhookTestPing,
    WebhookRedelivered,
    WebhookReplayed,
    SecretRevealed,
    SecretPrepared,
    SecretSwitched,
    SecretSwitchedBack,
    SecretCancelled,
    SecretDestroyed,
    RequestCopied,
    RequestPreviewed,
    TokenCreated,
    TokenRevoked,
    UserAdded,
    UserUpdated,
    UserDeactivated,
    UserReactivated,
    UserPasswordReset,
    UserPasswordSet,
    TriggerCreated,
    TriggerUpdated,
    TriggerEnabled,
    TriggerDisabled,
    TriggerDeleted,
    TriggerKeyAdded,
    TriggerKeyRenamed,
    TriggerKeyDeleted,
}

impl Action {
    pub const ALL: [Action; 34] = [
        Action::WebhookCreated,
        Action::WebhookUpdated,
        Action::WebhookEnabled,
        Action::WebhookDisabled,
        Action::WebhookGone,
        Action::WebhookDeleted,
        Action::WebhookTriggered,
        Action::WebhookTestPing,
        Action::WebhookRedelivered,
        Action::WebhookReplayed,
        Action::SecretRevealed,
        Action::SecretPrepared,
        Action::SecretSwitched,
        Action::SecretSwitchedBack,
        Action::SecretCancelled,
        Action::SecretDestroyed,
        Action::RequestCopied,
        Action::RequestPreviewed,
        Action::TokenCreated,
        Action::TokenRevoked,
        Action::UserAdded,
        Action::UserUpdated,
        Action::UserDeactivated,
        Action::UserReactivated,
        Action::UserPasswordReset,
        Action::UserPasswordSet,
        Action::TriggerCreated,
        Action::TriggerUpdated,
        Action::TriggerEnabled,
        Action::TriggerDisabled,
        Action::TriggerDeleted,
        Action::TriggerKeyAdded,
        Action::TriggerKeyRenamed,
        Action::TriggerKeyDeleted,
    ];

    pub fn as_str(self) -> &'static str {
        self.names().0
    }
    pub fn label(self) -> &'static str {
        self.names().1
    }
    pub fn parse(raw: &str) -> Option<Action> {
        Self::ALL.into_iter().find(|a| a.as_str() == raw)
    }

    fn names(self) -> (&'static str, &'static str) {
        match self {
            Action::WebhookCreated => ("webhook.created", "Webhook created"),
            Action::WebhookUpdated => ("webhook.updated", "Webhook changed"),
            Action::WebhookEnabled => ("webhook.enabled", "Webhook enabled"),
            Action::WebhookDisabled => ("webhook.disabled", "Webhook disabled"),
            Action::WebhookGone => ("webhook.gone", "Disabled: handler answered 410 Gone"),
            Action::WebhookDeleted => ("webhook.deleted", "Webhook deleted"),
            Action::WebhookTriggered => ("webhook.triggered", "Trigger now"),
            Action::WebhookTestPing => ("webhook.test_ping", "Test ping sent"),
            Action::WebhookRedelivered => ("webhook.redelivered", "Call redelivered"),
            Action::WebhookReplayed => ("webhook.replayed", "Events replayed"),
            Action::SecretRevealed => ("secret.revealed", "Secret shown"),
            Action::SecretPrepared => ("secret.prepared", "Rotation: new secret prepared"),
            Action::SecretSwitched => ("secret.switched", "Rotation: switched to the new secret"),
            Action::SecretSwitchedBack => ("secret.switched_back", "Rotation: switched back"),
            Action::SecretCancelled => ("secret.cancelled", "Rotation: prepared secret discarded"),
            Action::SecretDestroyed => ("secret.destroyed", "Rotation: previous secret destroyed"),
            Action::RequestCopied => ("request.copied", "Call copied as curl, with a token"),
            Action::RequestPreviewed => ("request.previewed", "Request previewed, with a token"),
            Action::TokenCreated => ("api_token.created", "API token created"),
            Action::TokenRevoked => ("api_token.revoked", "API token revoked"),
            Action::UserAdded => ("user.added", "User added"),
            Action::UserUpdated => ("user.updated", "User changed"),
            Action::UserDeactivated => ("user.deactivated", "User deactivated"),
            Action::UserReactivated => ("user.reactivated", "User reactivated"),
            Action::UserPasswordReset => ("user.password_reset", "Password reset"),
            Action::UserPasswordSet => ("user.password_set", "Password set with a link"),
            Action::TriggerCreated => ("inbound_trigger.created", "Inbound trigger created"),
            Action::TriggerUpdated => ("inbound_trigger.updated", "Inbound trigger changed"),
            Action::TriggerEnabled => ("inbound_trigger.enabled", "Inbound trigger enabled"),
            Action::TriggerDisabled => ("inbound_trigger.disabled", "Inbound trigger disabled"),
            Action::TriggerDeleted => ("inbound_trigger.deleted", "Inbound trigger deleted"),
            Action::TriggerKeyAdded => ("inbound_trigger.key_added", "Inbound trigger key added"),
            Action::TriggerKeyRenamed => ("inbound_trigger.key_renamed", "Inbound trigger key renamed"),
            Action::TriggerKeyDeleted => ("inbound_trigger.key_deleted", "Inbound trigger key deleted"),
        }
    }
}

/// One field's change. `None` is "not set" (creation, deletion).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// An object's fields as the log shows them, in display order. Secrets appear as their key
/// id, never their value.
pub type Snapshot = Vec<(&'static str, String)>;

/// The fields that differ between two snapshots of one object.
pub fn changes(before: &Snapshot, after: &Snapshot) -> Vec<Change> {
    let mut out = Vec::new();
    for (field, new) in after {
        let old = before.iter().find(|(f, _)| f == field).map(|(_, v)| v);
        if old != Some(new) {
            out.push(Change {
                field: field.to_string(),
                before: old.cloned(),
                after: Some(new.clone()),
            });
        }
    }
    for (field, old) in before {
        if !after.iter().any(|(f, _)| f == field) {
            out.push(Change {
                field: field.to_string(),
                before: Some(old.clone()),
                after: None,
            });
        }
    }
    out
}

/// A new object: every field, from nothing.
pub fn created(after: &Snapshot) -> Vec<Change> {
    changes(&Vec::new(), after)
}

/// What a record says.
#[derive(Debug, Clone)]
pub struct Entry {
    pub action: Action,
    pub object: Object,
    pub changes: Vec<Change>,
    /// A sentence for what is not a field change ("37 events since … queued").
    pub detail: String,
}

impl Entry {
    pub fn new(action: Action, object: Object) -> Entry {
        Entry {
            action,
            object,
            changes: Vec::new(),
            detail: String::new(),
        }
    }
    pub fn with_changes(mut self, changes: Vec<Change>) -> Entry {
        self.changes = changes;
        self
    }
    pub fn with_detail(mut self, detail: impl Into<String>) -> Entry {
        self.detail = detail.into();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_differing_fields_are_changes() {
        let before: Snapshot = vec![("Name", "a".into()), ("URL", "https://x".into())];
        let after: Snapshot = vec![("Name", "b".into()), ("URL", "https://x".into())];
        assert_eq!(
            changes(&before, &after),
            vec![Change {
                field: "Name".into(),
                before: Some("a".into()),
                after: Some("b".into())
            }]
        );
        assert_eq!(created(&after).len(), 2);
        assert!(changes(&after, &after).is_empty());
    }

    #[test]
    fn actions_round_trip_and_match_the_database_check() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(a));
            let (kind, verb) = a.as_str().split_once('.').expect("kind.verb");
            assert!(!kind.is_empty() && verb.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        }
    }
}
