//! A failed call's diagnosis: one plain sentence of likely cause and next step, read from how
//! it failed (the error kind, the status, the error text, the `Location` of a redirect).

use crate::domain::ErrorKind;

/// How a call failed, as its record says.
#[derive(Debug, Clone, Copy)]
pub struct FailedCall<'a> {
    pub error_kind: Option<ErrorKind>,
    pub status_code: Option<i32>,
    pub error: &'a str,
    pub method: &'a str,
    pub url: &'a str,
    pub response_headers: &'a [(String, String)],
    pub duration_ms: i64,
    /// A test ping, which must be answered with 200 exactly.
    pub test_ping: bool,
}

/// Where the next step is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HintLink {
    /// The webhook's token checker (a 401 or 403).
    TokenChecker,
    /// The webhook's HTTP settings (the endpoint URL, the method).
    HttpSettings,
    /// The response body, further down the call's page.
    ResponseBody,
}

impl HintLink {
    pub fn label(self) -> &'static str {
        match self {
            HintLink::TokenChecker => "Check a token",
            HintLink::HttpSettings => "HTTP settings",
            HintLink::ResponseBody => "Response body",
        }
    }

    pub fn href(self, webhook_id: &str) -> String {
        match self {
            HintLink::TokenChecker => format!("/webhooks/{webhook_id}/token-check"),
            HintLink::HttpSettings => format!("/webhooks/{webhook_id}/http"),
            HintLink::ResponseBody => "#response-body".to_string(),
        }
    }
}

/// The sentence, and where its next step is taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    pub text: String,
    pub link: Option<HintLink>,
}

fn hint(text: String, link: Option<HintLink>) -> Option<Hint> {
    Some(Hint { text, link })
}

/// The likely cause of a failed call and what to do next; `None` when there is nothing to
/// say (no error kind: the call succeeded).
pub fn diagnose(call: &FailedCall<'_>) -> Option<Hint> {
    let url = url::Url::parse(call.url).ok();
    let host = url
        .as_ref()
        .and_then(|u| u.host_str())
        .unwrap_or("the endpoint's host")
        .to_string();
    let host_port = match url.as_ref().and_then(|u| u.port_or_known_default()) {
        Some(port) => format!("{host}:{port}"),
        None => host.clone(),
    };
    use HintLink::*;
    match call.error_kind? {
        ErrorKind::Dns => hint(
            format!("The host {host} was not found in DNS: check its spelling in the endpoint URL, or wait until its DNS record exists."),
            Some(HttpSettings),
        ),
        ErrorKind::Refused => hint(
            format!("Nothing accepted the connection at {host_port}: start the handler there, or correct the host or port of the endpoint URL (a firewall may also be turning the portal away)."),
            Some(HttpSettings),
        ),
        ErrorKind::Connect if call.error.contains("endpoint URL is invalid") => hint(
            "The endpoint URL cannot be called as it is: correct it in the HTTP settings.".to_string(),
            Some(HttpSettings),
        ),
        ErrorKind::Connect => hint(
            format!("The portal could not connect to {host_port}: check that the handler's server is up and reachable from the internet, then redeliver the call."),
            None,
        ),
        ErrorKind::Tls => hint(
            format!("The handler's TLS certificate was not accepted because {}: serve a certificate from a public certificate authority, valid for {host} and not expired, with its intermediate certificates.", tls_reason(call.error, &host)),
            None,
        ),
        ErrorKind::Timeout => hint(
            format!("The handler did not answer within {} (the portal's request timeout): answer at once with a 2xx and do the work afterwards, since the handler pulls its queue itself.", seconds(call.duration_ms)),
            None,
        ),
        ErrorKind::Blocked => hint(
            format!("{host} is a private, loopback or otherwise internal address, which the portal does not call: give the handler a public address (or have the portal's operator allow that network)."),
            Some(HttpSettings),
        ),
        ErrorKind::Body => hint(
            "The connection broke while the portal was reading the handler's answer: look in the handler's logs for a crash or an aborted response.".to_string(),
            None,
        ),
        ErrorKind::Answer => hint(
            "A validation webhook must answer 200 with the request object it was sent, its parameters carrying their values and value_error: make the handler return that object.".to_string(),
            Some(ResponseBody),
        ),
        ErrorKind::Internal => hint(
            "The portal could not sign the call's token: set a new JWT secret with Edit, then redeliver the call.".to_string(),
            Some(HttpSettings),
        ),
        ErrorKind::Http => http_hint(call),
    }
}

fn http_hint(call: &FailedCall<'_>) -> Option<Hint> {
    use HintLink::*;
    let Some(code) = call.status_code else {
        return hint(
            "The handler's answer was not a success: it must answer with a 2xx.".to_string(),
            None,
        );
    };
    let path = url::Url::parse(call.url)
        .map(|u| u.path().to_string())
        .unwrap_or_else(|_| call.url.to_string());
    match code {
        200..=299 if call.test_ping => hint(
            format!("A test ping must be answered with 200 exactly, and the handler answered {code}: make it answer 200."),
            None,
        ),
        300..=399 => match header(call.response_headers, "location") {
            Some(location) => hint(
                format!("The handler redirected the call to {location} (HTTP {code}), and the portal never follows redirects: set the endpoint URL to the address it redirects to."),
                Some(HttpSettings),
            ),
            None => hint(
                format!("The handler answered with a redirect (HTTP {code}) without saying where to, and the portal never follows redirects: set the endpoint URL to the handler's own address."),
                Some(HttpSettings),
            ),
        },
        401 | 403 => hint(
            format!("The handler refused the call's token (HTTP {code}): it must verify it as HS256 with this webhook's current secret; paste a token it received into the token checker to see why it fails."),
            Some(TokenChecker),
        ),
        404 => hint(
            format!("The handler has nothing at the path {path} (HTTP 404): correct the path of the endpoint URL, or serve the handler there."),
            Some(HttpSettings),
        ),
        405 => hint(
            format!("The handler does not accept {} at {path} (HTTP 405): change the method in the HTTP settings, or let the handler accept it.", call.method),
            Some(HttpSettings),
        ),
        410 => hint(
            "The handler answered 410 Gone, so the portal turned the webhook off: point the endpoint URL at a live handler (or restore this one), then enable the webhook again.".to_string(),
            Some(HttpSettings),
        ),
        413 => hint(
            "The handler refused the call's body as too large (HTTP 413): raise its request size limit, or make the webhook's custom data smaller.".to_string(),
            None,
        ),
        429 => hint(
            "The handler asked the portal to slow down (HTTP 429): retries wait as long as its Retry-After asks; a rate limit in the HTTP settings keeps calls under its limit.".to_string(),
            Some(HttpSettings),
        ),
        500..=599 => hint(
            format!("The handler failed with an error of its own (HTTP {code}): its answer below may say why, and its logs will."),
            Some(ResponseBody),
        ),
        400..=499 => hint(
            format!("The handler refused the call (HTTP {code}): its answer below says why."),
            Some(ResponseBody),
        ),
        _ => hint(
            format!("The handler answered HTTP {code}, which is not a success: a handler must answer with a 2xx."),
            None,
        ),
    }
}

/// Why a certificate was refused, in words, from the TLS error's text.
fn tls_reason(error: &str, host: &str) -> String {
    let lower = error.to_ascii_lowercase();
    if lower.contains("unknownissuer")
        || lower.contains("unknown issuer")
        || lower.contains("self-signed")
        || lower.contains("self signed")
    {
        "it is self-signed or from an authority the portal does not trust".to_string()
    } else if lower.contains("expired") {
        "it has expired".to_string()
    } else if lower.contains("notvalidforname") || lower.contains("not valid for name") {
        format!("it is not valid for {host}")
    } else if lower.contains("notvalidyet") || lower.contains("not valid yet") {
        "it is not valid yet".to_string()
    } else if lower.contains("revoked") {
        "it has been revoked".to_string()
    } else {
        "the TLS handshake failed".to_string()
    }
}

/// `1.5 s`, `30 s`: how long the portal waited.
fn seconds(ms: i64) -> String {
    if ms < 10_000 {
        let tenths = (ms + 50) / 100;
        if tenths % 10 == 0 {
            format!("{} s", tenths / 10)
        } else {
            format!("{}.{} s", tenths / 10, tenths % 10)
        }
    } else {
        format!("{} s", (ms + 500) / 1000)
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(kind: ErrorKind, status: Option<i32>, error: &str) -> FailedCall<'_> {
        FailedCall {
            error_kind: Some(kind),
            status_code: status,
            error,
            method: "POST",
            url: "https://hooks.example.com:8443/in/connect?x=1",
            response_headers: &[],
            duration_ms: 120,
            test_ping: false,
        }
    }

    fn says(call: &FailedCall<'_>) -> (String, Option<HintLink>) {
        let h = diagnose(call).expect("a hint");
        (h.text, h.link)
    }

    #[test]
    fn a_successful_call_gets_no_hint() {
        let mut call = failed(ErrorKind::Http, Some(200), "");
        call.error_kind = None;
        assert_eq!(diagnose(&call), None);
    }

    #[test]
    fn connection_failures_name_the_host_and_the_next_step() {
        let (text, link) = says(&failed(ErrorKind::Dns, None, "DNS lookup of hooks.example.com failed"));
        assert!(
            text.starts_with("The host hooks.example.com was not found in DNS"),
            "{text}"
        );
        assert_eq!(link, Some(HintLink::HttpSettings));
        let (text, _) = says(&failed(ErrorKind::Refused, None, "connection refused"));
        assert!(text.contains("at hooks.example.com:8443: start the handler"), "{text}");
        let (text, link) = says(&failed(ErrorKind::Connect, None, "the endpoint URL is invalid: x"));
        assert!(text.contains("cannot be called as it is"), "{text}");
        assert_eq!(link, Some(HintLink::HttpSettings));
        let (text, _) = says(&failed(ErrorKind::Connect, None, "could not connect: reset"));
        assert!(text.contains("could not connect to hooks.example.com:8443"), "{text}");
        let (text, _) = says(&failed(ErrorKind::Blocked, None, "10.0.0.1 is private"));
        assert!(text.contains("does not call"), "{text}");
        let (text, _) = says(&failed(ErrorKind::Body, None, "reading the response failed"));
        assert!(text.contains("connection broke"), "{text}");
    }

    #[test]
    fn tls_says_what_is_wrong_with_the_certificate() {
        let cases = [
            (
                "TLS handshake failed: invalid peer certificate: UnknownIssuer",
                "self-signed",
            ),
            ("invalid peer certificate: Expired", "it has expired"),
            (
                "invalid peer certificate: NotValidForName",
                "it is not valid for hooks.example.com",
            ),
            ("TLS failed: alert", "the TLS handshake failed"),
        ];
        for (error, reason) in cases {
            let (text, _) = says(&failed(ErrorKind::Tls, None, error));
            assert!(text.contains(reason), "{error}: {text}");
            assert!(text.contains("public certificate authority"), "{text}");
        }
    }

    #[test]
    fn a_timeout_says_how_long_the_portal_waited() {
        for (ms, shown) in [(1502, "1.5 s"), (2000, "2 s"), (9_960, "10 s"), (300_004, "300 s")] {
            let mut call = failed(ErrorKind::Timeout, None, "no response within the request timeout");
            call.duration_ms = ms;
            let (text, _) = says(&call);
            assert!(
                text.contains(&format!("did not answer within {shown} ")),
                "{ms}: {text}"
            );
        }
    }

    #[test]
    fn each_status_has_its_sentence_and_link() {
        let cases: [(i32, &str, Option<HintLink>); 11] = [
            (401, "refused the call's token (HTTP 401)", Some(HintLink::TokenChecker)),
            (403, "refused the call's token (HTTP 403)", Some(HintLink::TokenChecker)),
            (
                404,
                "nothing at the path /in/connect (HTTP 404)",
                Some(HintLink::HttpSettings),
            ),
            (405, "does not accept POST at /in/connect", Some(HintLink::HttpSettings)),
            (
                410,
                "410 Gone, so the portal turned the webhook off",
                Some(HintLink::HttpSettings),
            ),
            (413, "too large (HTTP 413)", None),
            (429, "slow down (HTTP 429)", Some(HintLink::HttpSettings)),
            (500, "error of its own (HTTP 500)", Some(HintLink::ResponseBody)),
            (503, "error of its own (HTTP 503)", Some(HintLink::ResponseBody)),
            (422, "refused the call (HTTP 422)", Some(HintLink::ResponseBody)),
            (101, "HTTP 101, which is not a success", None),
        ];
        for (code, phrase, link) in cases {
            let (text, got) = says(&failed(ErrorKind::Http, Some(code), "HTTP"));
            assert!(text.contains(phrase), "{code}: {text}");
            assert_eq!(got, link, "{code}");
        }
    }

    #[test]
    fn a_redirect_names_where_it_points() {
        let headers = vec![("Location".to_string(), "https://new.example.com/hook".to_string())];
        let mut call = failed(ErrorKind::Http, Some(302), "HTTP 302");
        call.response_headers = &headers;
        let (text, link) = says(&call);
        assert!(
            text.starts_with("The handler redirected the call to https://new.example.com/hook (HTTP 302)"),
            "{text}"
        );
        assert_eq!(link, Some(HintLink::HttpSettings));
        call.response_headers = &[];
        assert!(says(&call).0.contains("without saying where to"));
    }

    #[test]
    fn a_ping_must_get_exactly_200_and_validation_its_object() {
        let mut call = failed(
            ErrorKind::Http,
            Some(204),
            "HTTP 204: a test ping must be answered with 200",
        );
        call.test_ping = true;
        assert!(says(&call).0.contains("answered 204: make it answer 200"));
        let (text, _) = says(&failed(ErrorKind::Answer, Some(200), "not a request"));
        assert!(text.contains("validation webhook must answer 200"), "{text}");
        assert!(says(&failed(ErrorKind::Internal, None, "could not sign"))
            .0
            .contains("sign"));
    }

    #[test]
    fn links_lead_to_the_webhooks_pages() {
        assert_eq!(HintLink::TokenChecker.href("WH-1"), "/webhooks/WH-1/token-check");
        assert_eq!(HintLink::HttpSettings.href("WH-1"), "/webhooks/WH-1/http");
        assert_eq!(HintLink::ResponseBody.href("WH-1"), "#response-body");
    }
}
