//! What a handler receives: the payload (POST body and JWT claims) and its HS256 token.

use chrono::{DateTime, SecondsFormat, Utc};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::ObjectClass;
use crate::ids::{AccountId, ProductId, WebhookId};

/// Exactly the keys of the Connect payload, in its order.
#[derive(Debug, Clone, Serialize)]
pub struct Payload {
    pub webhook_id: WebhookId,
    pub webhook_name: String,
    /// Sent by its payload name, `fulfillment_requests` (the article's), not the API's singular.
    #[serde(serialize_with = "payload_name")]
    pub object_class: ObjectClass,
    pub account_id: AccountId,
    pub product_id: ProductId,
    pub api_url: String,
    pub triggered_at: String,
    pub last_success_at: Option<String>,
    pub last_failure_at: Option<String>,
    pub processing_timeout: i64,
    pub data: Value,
    /// Only for a call that delivers an inbound trigger's message: what its caller sent
    /// (`trigger_id`, `message_id`, `method`, `query`, `content_type`, `body` when small text)
    /// and where to fetch the body (`body_size`, `body_sha256`, `body_url`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inbound: Option<Value>,
}

fn payload_name<S: serde::Serializer>(class: &ObjectClass, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(class.payload_name())
}

#[derive(Serialize)]
struct Claims<'a, C> {
    #[serde(flatten)]
    payload: &'a C,
    exp: i64,
}

/// `2021-05-27T09:54:03+00:00`, the platform's timestamp form.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// The bearer token: header `{"typ":"JWT","alg":"HS256","kid":…}` (`kid` names the secret, so
/// a handler can accept two during a rotation), claims = payload + `exp`
/// (`triggered_at` + `processing_timeout`). No `iat`/`nbf`: strict verifiers with no leeway
/// would reject a call from a clock a second ahead.
pub fn sign(
    payload: &Payload,
    triggered_at: DateTime<Utc>,
    key: SigningKey<'_>,
) -> Result<String, jsonwebtoken::errors::Error> {
    sign_claims(payload, triggered_at.timestamp() + payload.processing_timeout, key)
}

/// The secret a token is signed with, and the key id that names it in the token's header.
#[derive(Debug, Clone, Copy)]
pub struct SigningKey<'a> {
    pub secret: &'a str,
    pub kid: &'a str,
}

/// A token of any claims (a JSON object) with `exp` added, signed as [`sign`] signs.
pub fn sign_claims<C: Serialize>(
    claims: &C,
    exp: i64,
    key: SigningKey<'_>,
) -> Result<String, jsonwebtoken::errors::Error> {
    let header = Header {
        typ: Some("JWT".to_string()),
        alg: Algorithm::HS256,
        kid: Some(key.kid.to_string()),
        ..Header::default()
    };
    let claims = Claims { payload: claims, exp };
    encode(&header, &claims, &EncodingKey::from_secret(key.secret.as_bytes()))
}

/// Where a handler fetches an inbound message's body: under the API's root (`api_url`).
pub fn inbound_body_url(api_url: &str, message_id: i64) -> String {
    format!(
        "{}/notifications/inbound-messages/{message_id}/body",
        api_url.trim_end_matches('/')
    )
}

/// What a call's token says about the inbound message it delivers, once verified.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct InboundCall {
    pub webhook_id: String,
    pub inbound: InboundRef,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct InboundRef {
    pub message_id: i64,
}

/// The webhook a token claims to come from, read *without* verifying it: only to find the
/// secret to verify it with ([`verify_inbound_call`]).
pub fn claimed_webhook_id(token: &str) -> Option<String> {
    use base64::Engine;
    let claims = token.split('.').nth(1)?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(claims).ok()?;
    let value: Value = serde_json::from_slice(&json).ok()?;
    value["webhook_id"].as_str().map(str::to_string)
}

/// Verifies a token as this portal signs calls ([`sign`]): HS256 only, with one of the
/// webhook's secrets (`keys`: key id and secret; the token's `kid` picks one, a token without
/// one may match any), `exp` required and not passed (no leeway), claims naming an inbound
/// message.
pub fn verify_inbound_call(token: &str, keys: &[(String, String)]) -> Option<InboundCall> {
    let kid = jsonwebtoken::decode_header(token).ok()?.kid;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp"]);
    keys.iter()
        .filter(|(key_id, _)| kid.as_deref().is_none_or(|k| k == key_id))
        .find_map(|(_, secret)| {
            decode::<InboundCall>(token, &DecodingKey::from_secret(secret.as_bytes()), &validation)
                .ok()
                .map(|data| data.claims)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    const TEST_KEY: SigningKey<'static> = SigningKey {
        secret: "secret-0123456789",
        kid: "k_test",
    };

    fn sample() -> Payload {
        Payload {
            webhook_id: WebhookId::parse("WH-623-978-334").unwrap(),
            webhook_name: "Tutorial Webhook".into(),
            object_class: ObjectClass::FulfillmentRequest,
            account_id: AccountId::parse("VA-240-990").unwrap(),
            product_id: ProductId::parse("PRD-578-226-824").unwrap(),
            api_url: "https://portal.example.com/public/v1/".into(),
            triggered_at: "2021-05-27T09:54:03+00:00".into(),
            last_success_at: None,
            last_failure_at: Some("2021-05-27T09:52:32+00:00".into()),
            processing_timeout: 600,
            data: serde_json::json!({"purpose": "demo"}),
            inbound: None,
        }
    }

    #[test]
    fn token_has_the_connect_header_and_claims() {
        let at = DateTime::parse_from_rfc3339("2021-05-27T09:54:03+00:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(timestamp(at), "2021-05-27T09:54:03+00:00");
        let token = sign(&sample(), at, TEST_KEY).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let decode = |s: &str| -> Value {
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).unwrap()).unwrap()
        };
        assert_eq!(
            decode(parts[0]),
            serde_json::json!({"typ": "JWT", "alg": "HS256", "kid": "k_test"})
        );
        let claims = decode(parts[1]);
        let keys: Vec<&String> = claims.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 12);
        assert_eq!(claims["exp"], 1622109843);
        assert_eq!(claims["last_success_at"], Value::Null);
        assert_eq!(claims["object_class"], "fulfillment_requests", "the article's plural");
    }

    #[test]
    fn a_call_token_verifies_only_with_its_secret_and_before_it_expires() {
        let mut payload = sample();
        payload.inbound = Some(serde_json::json!({"message_id": 42, "body_size": 3}));
        let now = Utc::now();
        let token = sign(&payload, now, TEST_KEY).unwrap();
        assert_eq!(claimed_webhook_id(&token).as_deref(), Some("WH-623-978-334"));
        let keys = |secret: &str| vec![("k_test".to_string(), secret.to_string())];
        let call = verify_inbound_call(&token, &keys("secret-0123456789")).unwrap();
        assert_eq!(
            (call.webhook_id.as_str(), call.inbound.message_id),
            ("WH-623-978-334", 42)
        );
        assert_eq!(verify_inbound_call(&token, &keys("another-secret-0001")), None);
        let expired = sign(&payload, now - chrono::Duration::seconds(601), TEST_KEY).unwrap();
        assert_eq!(verify_inbound_call(&expired, &keys("secret-0123456789")), None);
        let not_inbound = sign(&sample(), now, TEST_KEY).unwrap();
        assert_eq!(verify_inbound_call(&not_inbound, &keys("secret-0123456789")), None);
        // A token names its key: another key id with the same secret does not verify it.
        let other_kid = vec![("k_other".to_string(), "secret-0123456789".to_string())];
        assert_eq!(verify_inbound_call(&token, &other_kid), None);
        assert_eq!(claimed_webhook_id("not-a-token"), None);
        assert_eq!(
            inbound_body_url("http://127.0.0.1:8080/public/v1/", 7),
            "http://127.0.0.1:8080/public/v1/notifications/inbound-messages/7/body"
        );
    }
}
