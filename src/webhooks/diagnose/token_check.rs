//! The token checker: given a pasted JWT, whether one of this webhook's secrets signed it,
//! whether it has expired, and what its header and claims say. Nothing is stored or logged.

use base64::Engine;
use chrono::{DateTime, Utc};
use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::webhooks::store::Webhook;

/// The longest token checked (a call's token carries the custom data, up to 64 KiB).
pub const TOKEN_MAX: usize = 128 * 1024;

/// Which of the webhook's secrets a key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRole {
    Current,
    /// The secret before a rotation, still accepted for a grace period.
    Previous,
}

impl KeyRole {
    pub fn label(self) -> &'static str {
        match self {
            KeyRole::Current => "current",
            KeyRole::Previous => "previous",
        }
    }
}

/// A secret a call of this webhook may be signed with, and its key id (`kid`), if named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationKey {
    pub role: KeyRole,
    pub kid: Option<String>,
    pub secret: String,
}

/// The secrets that verify this webhook's calls, the current one first, then the previous
/// one while a rotation's grace period lasts.
pub fn verification_keys(w: &Webhook) -> Vec<VerificationKey> {
    w.verification_keys()
        .into_iter()
        .map(|k| VerificationKey {
            role: match k.role {
                crate::webhooks::store::KeyRole::Current => KeyRole::Current,
                crate::webhooks::store::KeyRole::Previous => KeyRole::Previous,
            },
            kid: Some(k.kid),
            secret: k.secret,
        })
        .collect()
}

/// Who signed the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature {
    /// One of the webhook's secrets.
    Verified { role: KeyRole, kid: Option<String> },
    /// None of them (another webhook's secret, a changed secret, an altered token).
    Unverified,
    /// Not HS256: the portal signs nothing else.
    OtherAlgorithm(String),
}

/// What the token's `exp` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    Valid(DateTime<Utc>),
    Expired(DateTime<Utc>),
    /// No `exp` (the portal's tokens always have one).
    Missing,
    /// An `exp` that is not a time in seconds.
    Invalid,
}

/// What a token says and who signed it.
#[derive(Debug, Clone)]
pub struct TokenReport {
    pub header: String,
    pub claims: String,
    pub alg: String,
    pub kid: Option<String>,
    pub signature: Signature,
    pub expiry: Expiry,
    /// The `webhook_id` claim, when it names another webhook.
    pub other_webhook: Option<String>,
}

impl TokenReport {
    pub fn verified(&self) -> bool {
        matches!(self.signature, Signature::Verified { .. })
    }
    pub fn expired(&self) -> bool {
        matches!(self.expiry, Expiry::Expired(_))
    }
}

/// A token's header and claims, read without verifying: each a JSON object. The message says
/// what is wrong with something that is not a JWT.
pub fn decode_unverified(token: &str) -> Result<(Value, Value), String> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(format!(
            "This is not a JWT: a JWT is three base64url parts separated by dots (header.claims.signature), and this has {} part{}.",
            parts.len(),
            if parts.len() == 1 { "" } else { "s" }
        ));
    }
    let part = |text: &str, name: &str| -> Result<Value, String> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .map_err(|_| {
                format!(
                    "The {name} (part {} of 3) is not base64url.",
                    if name == "header" { 1 } else { 2 }
                )
            })?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(value @ Value::Object(_)) => Ok(value),
            _ => Err(format!("The {name} is not a JSON object.")),
        }
    };
    Ok((part(parts[0], "header")?, part(parts[1], "claims")?))
}

/// The token as pasted: trimmed, without a leading `Bearer `.
pub fn clean(input: &str) -> &str {
    let input = input.trim();
    match input.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("bearer ") => input[7..].trim(),
        _ => input,
    }
}

/// Checks `token` (already [`clean`]ed) against `keys` at `now`; the message says why it
/// could not be read.
pub fn check(
    token: &str,
    keys: &[VerificationKey],
    webhook_id: &str,
    now: DateTime<Utc>,
) -> Result<TokenReport, String> {
    if token.is_empty() {
        return Err("Paste a token: the value of a call's Authorization header, after “Bearer ”.".to_string());
    }
    if token.len() > TOKEN_MAX {
        return Err(crate::webhooks::model::too_long(TOKEN_MAX, token.len()));
    }
    let (header, claims) = decode_unverified(token)?;
    let alg = header["alg"].as_str().unwrap_or("").to_string();
    let kid = header["kid"].as_str().map(str::to_string);
    let signature = if alg != "HS256" {
        Signature::OtherAlgorithm(if alg.is_empty() {
            "none".to_string()
        } else {
            alg.clone()
        })
    } else {
        keys.iter()
            // A token that names its key is checked with that key first.
            .filter(|k| kid.is_none() || k.kid.is_none() || k.kid == kid)
            .chain(keys.iter())
            .find(|k| signed_with(token, &k.secret))
            .map_or(Signature::Unverified, |k| Signature::Verified {
                role: k.role,
                kid: k.kid.clone(),
            })
    };
    let expiry = match &claims["exp"] {
        Value::Null => Expiry::Missing,
        exp => match exp.as_i64().or_else(|| exp.as_f64().map(|f| f as i64)) {
            Some(secs) => match DateTime::from_timestamp(secs, 0) {
                // As verifiers read it (no leeway): expired once `exp` has passed.
                Some(at) if secs < now.timestamp() => Expiry::Expired(at),
                Some(at) => Expiry::Valid(at),
                None => Expiry::Invalid,
            },
            None => Expiry::Invalid,
        },
    };
    let other_webhook = claims["webhook_id"]
        .as_str()
        .filter(|id| *id != webhook_id)
        .map(str::to_string);
    Ok(TokenReport {
        header: pretty(&header),
        claims: pretty(&claims),
        alg,
        kid,
        signature,
        expiry,
        other_webhook,
    })
}

/// Whether `secret` signed the token (HS256); its time claims are judged apart.
fn signed_with(token: &str, secret: &str) -> bool {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    decode::<Value>(token, &DecodingKey::from_secret(secret.as_bytes()), &validation).is_ok()
}

pub fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    const SECRET: &str = "secret-0123456789";

    fn key(role: KeyRole, kid: Option<&str>, secret: &str) -> VerificationKey {
        VerificationKey {
            role,
            kid: kid.map(str::to_string),
            secret: secret.to_string(),
        }
    }

    fn token(header: Header, claims: Value, secret: &str) -> String {
        encode(&header, &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
    }

    #[test]
    fn the_current_secret_and_a_future_exp_verify() {
        let now = Utc::now();
        let t = token(
            Header::default(),
            json!({"webhook_id": "WH-1", "exp": now.timestamp() + 60}),
            SECRET,
        );
        let keys = [key(KeyRole::Current, None, SECRET)];
        let report = check(clean(&format!("  Bearer {t}\n")), &keys, "WH-1", now).unwrap();
        assert_eq!(
            report.signature,
            Signature::Verified {
                role: KeyRole::Current,
                kid: None
            }
        );
        assert!(matches!(report.expiry, Expiry::Valid(_)));
        assert_eq!(report.other_webhook, None);
        assert!(report.claims.contains("\"webhook_id\": \"WH-1\""), "{}", report.claims);
    }

    #[test]
    fn the_previous_secret_is_named_with_its_kid() {
        let now = Utc::now();
        let header = Header {
            kid: Some("k1".into()),
            ..Header::default()
        };
        let t = token(header, json!({"exp": now.timestamp() - 1}), "old-secret-000000");
        let keys = [
            key(KeyRole::Current, Some("k2"), SECRET),
            key(KeyRole::Previous, Some("k1"), "old-secret-000000"),
        ];
        let report = check(&t, &keys, "WH-1", now).unwrap();
        assert_eq!(
            report.signature,
            Signature::Verified {
                role: KeyRole::Previous,
                kid: Some("k1".into())
            }
        );
        assert_eq!(report.kid.as_deref(), Some("k1"));
        assert!(report.expired());
    }

    #[test]
    fn foreign_and_other_algorithm_tokens_do_not_verify() {
        let now = Utc::now();
        let keys = [key(KeyRole::Current, None, SECRET)];
        let foreign = token(Header::default(), json!({"webhook_id": "WH-2"}), "another-secret-00");
        let report = check(&foreign, &keys, "WH-1", now).unwrap();
        assert_eq!(report.signature, Signature::Unverified);
        assert_eq!(report.expiry, Expiry::Missing);
        assert_eq!(report.other_webhook.as_deref(), Some("WH-2"));
        let hs512 = token(Header::new(Algorithm::HS512), json!({"exp": "soon"}), SECRET);
        let report = check(&hs512, &keys, "WH-1", now).unwrap();
        assert_eq!(report.signature, Signature::OtherAlgorithm("HS512".into()));
        assert_eq!(report.expiry, Expiry::Invalid);
        let unsigned = format!(
            "{}.{}.",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"exp":1}"#)
        );
        assert_eq!(
            check(&unsigned, &keys, "WH-1", now).unwrap().signature,
            Signature::OtherAlgorithm("none".into())
        );
    }

    #[test]
    fn malformed_input_says_what_is_wrong() {
        let now = Utc::now();
        let keys = [key(KeyRole::Current, None, SECRET)];
        let err = |t: &str| check(t, &keys, "WH-1", now).unwrap_err();
        assert!(err("").starts_with("Paste a token"));
        assert!(err("abc").contains("this has 1 part."), "{}", err("abc"));
        assert!(err("a.b.c.d").contains("this has 4 parts"));
        assert!(err("!!!.e30.x").contains("header (part 1 of 3) is not base64url"));
        assert!(err("e30.!!!.x").contains("claims (part 2 of 3) is not base64url"));
        assert!(err("WzFd.e30.x").contains("header is not a JSON object"));
        assert!(err(&"a".repeat(TOKEN_MAX + 1)).contains("at most 131072 characters (this has 131073)"));
    }
}
