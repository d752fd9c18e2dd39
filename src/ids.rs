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

pub fn vendor_account_id() -> String {
    random_id("VA", 2)
}
pub fn distributor_account_id() -> String {
    random_id("PA", 2)
}
pub fn user_id() -> String {
    random_id("UR", 3)
}
pub fn product_id() -> String {
    random_id("PRD", 3)
}
pub fn webhook_id() -> String {
    random_id("WH", 3)
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
        let wh = webhook_id();
        assert!(has_shape(&wh, "WH", 3), "{wh}");
        assert!(has_shape(&vendor_account_id(), "VA", 2));
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
