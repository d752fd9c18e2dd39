//! The query string of an inbound call: strictly percent-encoded UTF-8, and exactly the
//! parameters the trigger accepts (each from the query, else its default).

use serde_json::{Map, Value};

use super::InboundTrigger;

/// Refuses a query string that is not strict percent-encoded UTF-8 (`%zz`, `%ff`): lenient
/// decoding would pass on something else than was sent.
pub(super) fn check_query_encoding(raw: &str) -> Result<(), String> {
    for part in raw.split('&').filter(|p| !p.is_empty()) {
        for piece in part.splitn(2, '=') {
            let bytes = piece.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'%' {
                    let hex = bytes.get(i + 1..i + 3).unwrap_or_default();
                    if hex.len() < 2 || !hex.iter().all(u8::is_ascii_hexdigit) {
                        return Err(format!(
                            "The query string has an invalid percent-encoding in `{piece}`."
                        ));
                    }
                    i += 3;
                } else {
                    i += 1;
                }
            }
            if percent_encoding::percent_decode_str(&piece.replace('+', " "))
                .decode_utf8()
                .is_err()
            {
                return Err(format!("The query string is not UTF-8 once decoded (`{piece}`)."));
            }
        }
    }
    Ok(())
}

/// The configured parameters: each from the query, else its default; unknown or repeated
/// parameters and missing required ones are refused.
pub(super) fn resolve_query(trigger: &InboundTrigger, raw: Option<&str>) -> Result<Map<String, Value>, String> {
    let mut given: Map<String, Value> = Map::new();
    for (name, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        if !trigger.query_params.0.iter().any(|p| p.name == name) {
            let accepted: Vec<&str> = trigger.query_params.0.iter().map(|p| p.name.as_str()).collect();
            return Err(if accepted.is_empty() {
                format!("Unknown query parameter `{name}`: this trigger accepts none.")
            } else {
                format!(
                    "Unknown query parameter `{name}`: this trigger accepts {}.",
                    accepted.join(", ")
                )
            });
        }
        if value.len() > super::PARAM_DEFAULT_MAX || value.chars().any(char::is_control) {
            return Err(format!(
                "Query parameter `{name}` is longer than {} characters or has control characters.",
                super::PARAM_DEFAULT_MAX
            ));
        }
        if given
            .insert(name.to_string(), Value::String(value.into_owned()))
            .is_some()
        {
            return Err(format!("Query parameter `{name}` is given twice."));
        }
    }
    let mut resolved = Map::new();
    for p in &trigger.query_params.0 {
        let value = match (given.remove(&p.name), &p.default) {
            (Some(v), _) => v,
            (None, Some(d)) => Value::String(d.clone()),
            (None, None) => return Err(format!("Query parameter `{}` is required.", p.name)),
        };
        resolved.insert(p.name.clone(), value);
    }
    Ok(resolved)
}
