//! Inbound triggers: endpoints outside systems call (`POST|GET /hooks/in/{id}`, see
//! [`endpoint`]) to feed events into the webhooks of one product and object class. Each is
//! guarded by labelled API keys (generated or pasted; only a SHA-256 is stored), may accept
//! query parameters with defaults, may deliver strictly in arrival order, and may answer the
//! caller with the handler's own response (request–response). Admin pages are in [`web`]; a
//! message's body is served to handlers through the public API by [`api`].

mod answer;
pub mod api;
pub mod body;
pub mod endpoint;
mod query;
pub mod store;
pub mod web;

pub use self::body::{size_text, BodyFacts, INLINE_BODY_MAX, MESSAGE_MAX, PREVIEW_BYTES};
pub use self::store::{
    add_key, create, delete, delete_key, find, get, keys, list, messages, relabel_key, set_active, update, AddKey,
};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::types::Json;

use crate::domain::ObjectClass;
use crate::ids::{AccountId, ProductId, TriggerId};

pub const NAME_MAX: usize = 128;
pub const LABEL_MAX: usize = 100;
pub const PARAMS_MAX: usize = 20;
pub const PARAM_NAME_MAX: usize = 64;
pub const PARAM_DEFAULT_MAX: usize = 200;
pub const KEY_MIN: usize = 16;
pub const KEY_MAX: usize = 200;
pub const KEYS_MAX: i64 = 20;
/// Below the portal's 60 s limit for any request.
pub const MAX_WAIT_LIMIT: i32 = 30;
/// Messages of one trigger waiting for delivery before new calls are refused (503).
pub const BACKLOG_MAX: i64 = 1000;
/// Callers one portal process lets wait for an answer at once (request–response).
pub const WAITERS_MAX: usize = 256;

/// A query parameter the trigger accepts; without a default it is required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryParam {
    pub name: String,
    pub default: Option<String>,
}

#[derive(Debug, Clone)]
pub struct InboundTrigger {
    pub id: TriggerId,
    pub account_id: AccountId,
    pub product_id: ProductId,
    pub product_name: String,
    pub object_class: ObjectClass,
    pub name: String,
    /// The last part of the readable URL `/hooks/in/<account>/<path name>`, if set.
    pub path_name: Option<String>,
    pub active: bool,
    /// Calls without a key are accepted (chosen explicitly; the pages warn about it).
    pub open: bool,
    pub ordered: bool,
    pub request_response: bool,
    pub max_wait_seconds: i32,
    pub query_params: Json<Vec<QueryParam>>,
    pub messages: i64,
    pub last_message_at: Option<DateTime<Utc>>,
}

impl InboundTrigger {
    pub fn queue_label(&self) -> &'static str {
        self.object_class.queue_label()
    }

    /// The parameters as the form shows them: `name = default` or `name` per line.
    pub fn params_text(&self) -> String {
        params_to_text(&self.query_params.0)
    }

    /// The trigger's settings as the audit log shows them.
    pub fn snapshot(&self) -> crate::audit::Snapshot {
        let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
        vec![
            ("Name", self.name.clone()),
            ("Product", self.product_id.to_string()),
            ("Queue", self.queue_label().to_string()),
            ("Status", if self.active { "Enabled" } else { "Disabled" }.to_string()),
            ("Path name", self.path_name.clone().unwrap_or_default()),
            ("Open (no key)", yes_no(self.open)),
            ("Ordered", yes_no(self.ordered)),
            ("Request–response", yes_no(self.request_response)),
            ("Longest wait", format!("{} s", self.max_wait_seconds)),
            ("Query parameters", self.params_text().replace('\n', "; ")),
        ]
    }
}

/// Records a change of trigger `id` in the transaction that made it: the settings read again
/// now against `before` (`None`: just created; a deleted trigger keeps its last name).
pub async fn record_change(
    conn: &mut sqlx::PgConnection,
    account_id: &AccountId,
    actor: &crate::audit::Actor,
    action: crate::audit::Action,
    id: &TriggerId,
    before: Option<&InboundTrigger>,
    detail: &str,
) -> Result<(), sqlx::Error> {
    use crate::audit::{changes, created, Entry, Object, ObjectKind};
    let after = get(&mut *conn, account_id, id).await?;
    let fields = match (before, &after) {
        (Some(b), Some(a)) => changes(&b.snapshot(), &a.snapshot()),
        (None, Some(a)) => created(&a.snapshot()),
        _ => Vec::new(),
    };
    if action == crate::audit::Action::TriggerUpdated && fields.is_empty() {
        return Ok(());
    }
    let name = after.as_ref().or(before).map(|t| t.name.clone()).unwrap_or_default();
    let entry = Entry::new(action, Object::new(ObjectKind::InboundTrigger, id, name))
        .with_changes(fields)
        .with_detail(detail);
    crate::audit::store::record(conn, account_id, actor, &entry).await
}

pub fn params_to_text(params: &[QueryParam]) -> String {
    params
        .iter()
        .map(|p| match &p.default {
            Some(d) => format!("{} = {d}", p.name),
            None => p.name.clone(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[derive(Debug, Clone)]
pub struct Key {
    pub id: i64,
    pub label: String,
    pub key_hint: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct Message {
    pub id: i64,
    /// As the caller sent them: the HTTP method and content type are the call's raw data.
    pub method: String,
    pub query: serde_json::Value,
    pub content_type: Option<String>,
    /// The body's size in bytes (0: none), its SHA-256 (hex), whether it is text, and its
    /// first [`PREVIEW_BYTES`] bytes.
    pub body_size: i32,
    pub body_sha256: Option<String>,
    pub body_is_text: bool,
    pub body_head: Option<Vec<u8>>,
    pub webhooks: i32,
    pub received_at: DateTime<Utc>,
    pub key_label: Option<String>,
    /// Calls made for it so far, and how many succeeded.
    pub calls: i64,
    pub successes: i64,
}

impl Message {
    /// Its calls are still to be made (or recorded): the page keeps looking.
    pub fn waiting(&self) -> bool {
        self.webhooks > 0 && self.calls == 0
    }

    pub fn query_text(&self) -> String {
        match &self.query {
            serde_json::Value::Object(m) if !m.is_empty() => m
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join("&"),
            _ => String::new(),
        }
    }
    /// The start of a text body, for the list; empty for no body or one that is not text.
    pub fn body_preview(&self) -> String {
        let head = match &self.body_head {
            Some(head) if self.body_is_text => head.as_slice(),
            _ => return String::new(),
        };
        // The head may end inside a character.
        let text = match std::str::from_utf8(head) {
            Ok(text) => text,
            Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default(),
        };
        let mut preview: String = text.chars().take(120).collect();
        if preview.len() < self.body_size.max(0) as usize {
            preview.push('…');
        }
        preview
    }

    /// `1.0 MiB`, `312 bytes`: the body's size for people.
    pub fn body_size_text(&self) -> String {
        size_text(self.body_size.max(0) as u64)
    }

    /// The first 12 hex digits of the SHA-256, enough to tell bodies apart on the page.
    pub fn body_sha256_short(&self) -> &str {
        self.body_sha256.as_deref().map_or("", |h| &h[..h.len().min(12)])
    }
}

/// The settings an admin edits.
#[derive(Debug, Clone)]
pub struct Settings {
    pub name: String,
    pub product_id: ProductId,
    pub object_class: ObjectClass,
    pub ordered: bool,
    pub request_response: bool,
    pub max_wait_seconds: i32,
    pub query_params: Vec<QueryParam>,
    pub open: bool,
    pub path_name: Option<String>,
}

/// A path name for the readable URL: 1–64 letters, digits, `-` and `_`, starting with a
/// letter or digit (`CreateCustomerRecord`).
pub fn valid_path_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub fn key_hash(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

/// The last four characters, to tell keys apart in the list.
pub fn key_hint(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

/// A new random key: 32 random bytes, URL-safe.
pub fn generate_key() -> String {
    format!("ik_{}", crate::ids::random_token(32))
}

/// Checks a pasted key: long enough to be unguessable, printable ASCII without spaces.
pub fn check_pasted_key(key: &str) -> Result<(), String> {
    if key.len() < KEY_MIN || key.len() > KEY_MAX {
        return Err(format!(
            "A key is {KEY_MIN}–{KEY_MAX} characters; leave it empty to generate one."
        ));
    }
    if !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err("A key is printable ASCII without spaces.".to_string());
    }
    Ok(())
}

/// Parses `name = default` / `name` lines.
pub fn parse_params(raw: &str) -> Result<Vec<QueryParam>, String> {
    let mut params: Vec<QueryParam> = Vec::new();
    for (n, line) in raw.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (name, default) = match line.split_once('=') {
            Some((name, default)) => (name.trim(), Some(default.trim().to_string())),
            None => (line, None),
        };
        if name.is_empty()
            || name.len() > PARAM_NAME_MAX
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
        {
            return Err(format!(
                "Line {}: a parameter name is 1–{PARAM_NAME_MAX} letters, digits, “_”, “-” or “.”.",
                n + 1
            ));
        }
        if default
            .as_ref()
            .is_some_and(|d| d.chars().count() > PARAM_DEFAULT_MAX || d.chars().any(char::is_control))
        {
            return Err(format!(
                "Line {}: a default is at most {PARAM_DEFAULT_MAX} characters, without control characters.",
                n + 1
            ));
        }
        if params.iter().any(|p| p.name == name) {
            return Err(format!("Line {}: “{name}” is given twice.", n + 1));
        }
        if params.len() == PARAMS_MAX {
            return Err(format!("At most {PARAMS_MAX} query parameters."));
        }
        params.push(QueryParam {
            name: name.to_string(),
            default,
        });
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_name_or_name_equals_default_lines() {
        let p = parse_params("region = eu\n\norder\nempty =").unwrap();
        assert_eq!(
            p,
            vec![
                QueryParam {
                    name: "region".into(),
                    default: Some("eu".into())
                },
                QueryParam {
                    name: "order".into(),
                    default: None
                },
                QueryParam {
                    name: "empty".into(),
                    default: Some(String::new())
                },
            ]
        );
        assert_eq!(params_to_text(&p), "region = eu\norder\nempty = ");
        assert!(parse_params("a b").unwrap_err().contains("Line 1"));
        assert!(parse_params("a\na").unwrap_err().contains("twice"));
    }

    #[test]
    fn a_preview_shows_text_only_and_never_splits_a_character() {
        let message = |head: &[u8], size: i32, is_text: bool| Message {
            id: 1,
            method: "POST".into(),
            query: serde_json::json!({}),
            content_type: None,
            body_size: size,
            body_sha256: None,
            body_is_text: is_text,
            body_head: Some(head.to_vec()),
            webhooks: 0,
            received_at: Utc::now(),
            key_label: None,
            calls: 0,
            successes: 0,
        };
        assert_eq!(message(b"hello", 5, true).body_preview(), "hello");
        assert_eq!(message(b"\0\x01binary", 9, false).body_preview(), "");
        // A head cut inside "é" (0xc3 0xa9) stops before it.
        assert_eq!(message(b"caf\xc3", 600, true).body_preview(), "caf…");
    }

    #[test]
    fn pasted_keys_must_be_long_printable_ascii() {
        assert!(check_pasted_key("short").is_err());
        assert!(check_pasted_key("a key with spaces in it").is_err());
        assert!(check_pasted_key("0123456789abcdef").is_ok());
        assert_eq!(key_hint("0123456789abcdef"), "cdef");
        assert!(generate_key().len() > 40);
    }
}
