//! The body of a call: the payload as JSON (the platform's), as a form
//! (`application/x-www-form-urlencoded`, nested keys as `data[purpose]=demo`) or as XML
//! (`<notification>…</notification>`), optionally wrapped with an `md5` of it.
//!
//! `md5` is the lowercase hex MD5 of the payload exactly as the body carries it:
//! - JSON: the body is `{"payload":<payload>,"md5":"<md5>"}`, and the MD5 is of the bytes of
//!   `<payload>` (compact JSON: the body without its first 11 and last 42 bytes);
//! - XML: of the `<payload>…</payload>` element, tags included;
//! - Form: of the fields before `&md5=` (`payload[webhook_id]=…&payload[data][purpose]=demo`).

use md5::{Digest, Md5};
use serde_json::Value;

use crate::domain::PayloadFormat;

/// A body ready to send: its content type and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    pub content_type: &'static str,
    pub text: String,
}

/// `payload` in `format`, wrapped with its md5 when `md5_wrap`.
pub fn encode(payload: &Value, format: PayloadFormat, md5_wrap: bool) -> Body {
    let text = match (format, md5_wrap) {
        (PayloadFormat::Json, false) => payload.to_string(),
        (PayloadFormat::Json, true) => {
            let inner = payload.to_string();
            let digest = md5_hex(inner.as_bytes());
            format!("{{\"payload\":{inner},\"md5\":\"{digest}\"}}")
        }
        (PayloadFormat::Form, false) => form_fields(payload, None),
        (PayloadFormat::Form, true) => {
            let inner = form_fields(payload, Some("payload"));
            let digest = md5_hex(inner.as_bytes());
            format!("{inner}&md5={digest}")
        }
        (PayloadFormat::Xml, false) => {
            let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><notification>");
            xml_children(payload, &mut xml);
            xml.push_str("</notification>");
            xml
        }
        (PayloadFormat::Xml, true) => {
            let mut inner = String::from("<payload>");
            xml_children(payload, &mut inner);
            inner.push_str("</payload>");
            let digest = md5_hex(inner.as_bytes());
            format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><notification>{inner}<md5>{digest}</md5></notification>")
        }
    };
    Body {
        content_type: format.content_type(),
        text,
    }
}

fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Form fields of a JSON value: objects as `key[sub]`, arrays as `key[0]`, `null` as empty.
fn form_fields(value: &Value, prefix: Option<&str>) -> String {
    let mut pairs = Vec::new();
    flatten(value, prefix.map(str::to_string), &mut pairs);
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &pairs {
        form.append_pair(k, v);
    }
    form.finish()
}

fn flatten(value: &Value, key: Option<String>, out: &mut Vec<(String, String)>) {
    let child = |k: &str| match &key {
        Some(parent) => format!("{parent}[{k}]"),
        None => k.to_string(),
    };
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                flatten(v, Some(child(k)), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(v, Some(child(&i.to_string())), out);
            }
        }
        Value::Null => out.push((key.unwrap_or_default(), String::new())),
        Value::String(s) => out.push((key.unwrap_or_default(), s.clone())),
        other => out.push((key.unwrap_or_default(), other.to_string())),
    }
}

/// An object's members as elements (a key that is no XML name becomes `<entry key="…">`),
/// an array's items as `<item>`, text escaped.
fn xml_children(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let (open, close) = if is_xml_name(k) {
                    (format!("<{k}>"), format!("</{k}>"))
                } else {
                    (format!("<entry key=\"{}\">", escape(k)), "</entry>".to_string())
                };
                out.push_str(&open);
                xml_children(v, out);
                out.push_str(&close);
            }
        }
        Value::Array(items) => {
            for v in items {
                out.push_str("<item>");
                xml_children(v, out);
                out.push_str("</item>");
            }
        }
        Value::Null => {}
        Value::String(s) => out.push_str(&escape(s)),
        other => out.push_str(&other.to_string()),
    }
}

fn is_xml_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.to_ascii_lowercase().starts_with("xml")
}

fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => escaped.push('\u{FFFD}'),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({"type": "ping", "epoch_timestamp": 1466526410, "data": {"a b": [1, null], "x": "<&>"}})
    }

    #[test]
    fn json_wraps_the_exact_bytes() {
        let b = encode(&sample(), PayloadFormat::Json, true);
        let raw = b.text.as_bytes();
        let inner = &raw[11..raw.len() - 42];
        let parsed: Value = serde_json::from_str(&b.text).unwrap();
        assert_eq!(parsed["payload"], sample());
        assert_eq!(parsed["md5"], md5_hex(inner));
        assert_eq!(encode(&sample(), PayloadFormat::Json, false).text, sample().to_string());
    }

    #[test]
    fn form_nests_keys_and_signs_what_precedes_md5() {
        let b = encode(&sample(), PayloadFormat::Form, true);
        assert_eq!(b.content_type, "application/x-www-form-urlencoded");
        let (fields, digest) = b.text.rsplit_once("&md5=").unwrap();
        assert_eq!(digest, md5_hex(fields.as_bytes()));
        let pairs: Vec<(String, String)> = form_urlencoded::parse(fields.as_bytes()).into_owned().collect();
        assert!(pairs.contains(&("payload[type]".into(), "ping".into())), "{pairs:?}");
        assert!(
            pairs.contains(&("payload[data][a b][1]".into(), String::new())),
            "{pairs:?}"
        );
        let plain = encode(&sample(), PayloadFormat::Form, false).text;
        assert!(plain.contains("type=ping") && !plain.contains("md5"), "{plain}");
    }

    #[test]
    fn xml_escapes_and_signs_the_payload_element() {
        let b = encode(&sample(), PayloadFormat::Xml, true);
        assert_eq!(b.content_type, "application/xml");
        let start = b.text.find("<payload>").unwrap();
        let end = b.text.find("</payload>").unwrap() + "</payload>".len();
        let digest = &b.text[end + "<md5>".len()..end + "<md5>".len() + 32];
        assert_eq!(digest, md5_hex(&b.text.as_bytes()[start..end]));
        assert!(b.text.contains("<type>ping</type>"));
        assert!(
            b.text
                .contains("<entry key=\"a b\"><item>1</item><item></item></entry>"),
            "{}",
            b.text
        );
        assert!(b.text.contains("<x>&lt;&amp;&gt;</x>"), "{}", b.text);
    }
}
