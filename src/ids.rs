//! Random, unguessable identifiers in the platform's style (`WH-623-978-334`).

use rand::Rng;

/// `prefix` followed by `groups` groups of three random digits, e.g. `PRD-578-226-824`.
pub fn random_id(prefix: &str, groups: usize) -> String {
    let mut rng = rand::thread_rng();
    let mut id = String::with_capacity(prefix.len() + groups * 4);
    id.push_str(prefix);
    for _ in 0..groups {
        id.push_str(&format!("-{:03}", rng.gen_range(0..1000)));
    }
    id
}

/// An identifier type: a `String` in the platform's shape, stored as `text`, shown and
/// serialized as itself. `parse` is the edge: a malformed id is no such object.
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $groups:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize, sqlx::Type)]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(String);

        impl $name {
            /// A new random id.
            pub fn generate() -> Self {
                $name(random_id($prefix, $groups))
            }
            /// The id, when `raw` has this kind's shape.
            pub fn parse(raw: &str) -> Option<Self> {
                has_shape(raw, $prefix, $groups).then(|| $name(raw.to_owned()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                self == &other.0
            }
        }
    };
}

id_type!(
    /// A user: `UR-841-574-187`.
    UserId, "UR", 3
);
id_type!(
    /// A product: `PRD-578-226-824`.
    ProductId, "PRD", 3
);
id_type!(
    /// A webhook: `WH-623-978-334`.
    WebhookId, "WH", 3
);
id_type!(
    /// A request of a product's queues: `PR-123-456-789`.
    RequestId, "PR", 3
);
id_type!(
    /// An API token (the visible part of its key): `SU-123-456-789`.
    TokenId, "SU", 3
);
id_type!(
    /// An inbound trigger: `IT-123-456-789`.
    TriggerId, "IT", 3
);

/// An account: a vendor (`VA-240-990`) or a distributor (`PA-123-456`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize, sqlx::Type)]
#[serde(transparent)]
#[sqlx(transparent)]
pub struct AccountId(String);

impl AccountId {
    pub fn new_vendor() -> Self {
        AccountId(random_id("VA", 2))
    }
    pub fn new_distributor() -> Self {
        AccountId(random_id("PA", 2))
    }
    pub fn parse(raw: &str) -> Option<Self> {
        (has_shape(raw, "VA", 2) || has_shape(raw, "PA", 2)).then(|| AccountId(raw.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for AccountId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for AccountId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for AccountId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<String> for AccountId {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

/// A URL-safe random token of `bytes` bytes of entropy (session CSRF tokens, secrets).
pub fn random_token(bytes: usize) -> String {
    use base64::Engine;
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill(buf.as_mut_slice());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// True when `id` has the shape `PREFIX-ddd-ddd…` with `groups` groups; used to
/// answer 404 early for malformed IDs instead of querying.
pub fn has_shape(id: &str, prefix: &str, groups: usize) -> bool {
    let Some(rest) = id.strip_prefix(prefix) else {
        return false;
    };
    let parts: Vec<&str> = rest.split('-').collect();
    parts.len() == groups + 1
        && parts[0].is_empty()
        && parts[1..]
            .iter()
            .all(|p| p.len() == 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_platform_shape() {
        let wh = WebhookId::generate();
        assert!(has_shape(wh.as_str(), "WH", 3), "{wh}");
        assert_eq!(WebhookId::parse(wh.as_str()), Some(wh));
        assert!(AccountId::parse(AccountId::new_vendor().as_str()).is_some());
        assert!(AccountId::parse(AccountId::new_distributor().as_str()).is_some());
        assert_eq!(WebhookId::parse("PR-123-456-789"), None);
        assert!(!has_shape("WH-12-345-678", "WH", 3));
        assert!(!has_shape("WH-123-345", "WH", 3));
        assert!(!has_shape("XX-123-345-678", "WH", 3));
    }

    #[test]
    fn tokens_are_random() {
        assert_ne!(random_token(32), random_token(32));
        assert_eq!(random_token(32).len(), 43);
    }
}
