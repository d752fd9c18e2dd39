//! An inbound message's body: what it is (its SHA-256, whether it is text), whether the call
//! carries it inline, and how pages write its size. Any bytes are accepted up to
//! `PORTAL_INBOUND_BODY_MAX_BYTES`; the handler fetches what is not inlined through the API.

use sha2::{Digest, Sha256};

/// Largest body passed inline in the call, and largest message (query and inline body,
/// JSON-encoded): the message travels in the signed token, a header, which servers commonly
/// cap at 8 KiB. Larger bodies (up to `PORTAL_INBOUND_BODY_MAX_BYTES`) and bodies that are not
/// text are fetched by the handler through the API (`body_url`).
pub const INLINE_BODY_MAX: usize = 4 * 1024;
pub const MESSAGE_MAX: usize = 5 * 1024;
/// Bytes of a body the pages read for a preview.
pub const PREVIEW_BYTES: i32 = 512;

/// A byte count for people: `312 bytes`, `4.0 KiB`, `1.0 MiB`.
pub fn size_text(bytes: u64) -> String {
    const KIB: u64 = 1024;
    match bytes {
        1 => "1 byte".to_string(),
        b if b < KIB => format!("{b} bytes"),
        b if b < KIB * KIB => format!("{:.1} KiB", b as f64 / KIB as f64),
        b => format!("{:.1} MiB", b as f64 / (KIB * KIB) as f64),
    }
}

/// What a received body is, worked out once when it arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyFacts {
    /// Lowercase hex SHA-256 of exactly the bytes received.
    pub sha256: String,
    /// UTF-8 without NUL: text a page may show and a call may carry inline.
    pub is_text: bool,
}

impl BodyFacts {
    pub fn of(bytes: &[u8]) -> BodyFacts {
        BodyFacts {
            sha256: sha256_hex(bytes),
            is_text: !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok(),
        }
    }
}

/// The text a call carries inline for this body: a non-empty text body of at most
/// [`INLINE_BODY_MAX`] bytes (whether it also fits [`MESSAGE_MAX`] with the query is the
/// caller's check).
pub fn inline_text(bytes: &[u8], facts: &BodyFacts) -> Option<String> {
    if bytes.is_empty() || bytes.len() > INLINE_BODY_MAX || !facts.is_text {
        return None;
    }
    std::str::from_utf8(bytes).ok().map(str::to_string)
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of a hex string (`None` unless it is whole hex pairs).
pub fn hex_bytes(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) || !hex.is_ascii() {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_text_only_when_utf8_without_nul_and_inline_only_when_small() {
        let facts = BodyFacts::of(b"abc");
        assert_eq!(
            facts.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(facts.is_text);
        assert_eq!(inline_text(b"abc", &facts).as_deref(), Some("abc"));
        assert!(!BodyFacts::of(b"a\0b").is_text);
        assert!(!BodyFacts::of(&[0xff, 0xfe]).is_text);
        let big = vec![b'x'; INLINE_BODY_MAX + 1];
        assert_eq!(inline_text(&big, &BodyFacts::of(&big)), None);
        let limit = vec![b'x'; INLINE_BODY_MAX];
        assert!(inline_text(&limit, &BodyFacts::of(&limit)).is_some());
        assert_eq!(inline_text(b"", &BodyFacts::of(b"")), None);
        assert_eq!(hex_bytes("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(hex_bytes("0"), None);
        assert_eq!(hex_bytes("zz"), None);
        assert_eq!(size_text(312), "312 bytes");
        assert_eq!(size_text(1024 * 1024), "1.0 MiB");
        assert_eq!(size_text(4096), "4.0 KiB");
    }
}
