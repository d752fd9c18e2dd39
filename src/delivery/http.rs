//! The HTTP call: one shared client (pooled connections, timeouts, no redirects), a DNS
//! resolver that applies the endpoint policy to every resolved address, and a precise
//! description of what went wrong when a call fails.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::policy::EndpointPolicy;
use super::request::{Request, PORTAL_USER_AGENT};
use crate::config::DeliveryConfig;
use crate::domain::ErrorKind;

/// Errors the resolver reports; found again in the error chain to classify failures.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("{0}")]
    Blocked(String),
    #[error("DNS lookup of {host} failed: {reason}")]
    Dns { host: String, reason: String },
}

/// Resolves with the system resolver, then drops every address the policy forbids; fails
/// with [`ResolveError::Blocked`] when none is left. Checking here, at connect time, means
/// a DNS answer cannot change between the check and the call.
struct PolicyResolver {
    policy: Arc<EndpointPolicy>,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| ResolveError::Dns {
                    host: host.clone(),
                    reason: e.to_string(),
                })?
                .collect();
            if resolved.is_empty() {
                return Err(Box::new(ResolveError::Dns {
                    host,
                    reason: "no addresses".into(),
                }) as _);
            }
            let mut refusal = None;
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|a| match policy.check(a.ip()) {
                    Ok(()) => true,
                    Err(e) => {
                        refusal.get_or_insert(e);
                        false
                    }
                })
                .collect();
            if allowed.is_empty() {
                let reason = refusal.unwrap_or_else(|| "no allowed address".into());
                return Err(Box::new(ResolveError::Blocked(format!("{host}: {reason}"))) as _);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

pub struct HttpCaller {
    client: reqwest::Client,
    policy: Arc<EndpointPolicy>,
    body_cap: usize,
    request_timeout: Duration,
}

/// What happened.
#[derive(Debug, Clone)]
pub struct CallResult {
    pub success: bool,
    pub status_code: Option<u16>,
    pub error_kind: Option<ErrorKind>,
    pub error: Option<String>,
    pub duration: Duration,
    pub request_headers: Vec<(String, String)>,
    pub response_headers: Vec<(String, String)>,
    pub response_body: Option<String>,
    pub response_truncated: bool,
}

impl CallResult {
    /// The call was not made: its token could not be signed.
    pub fn unsigned(e: jsonwebtoken::errors::Error) -> CallResult {
        CallResult {
            success: false,
            status_code: None,
            error_kind: Some(ErrorKind::Internal),
            error: Some(format!("could not sign the token: {e}")),
            duration: Duration::ZERO,
            request_headers: Vec::new(),
            response_headers: Vec::new(),
            response_body: None,
            response_truncated: false,
        }
    }
}

impl HttpCaller {
    pub fn new(config: &DeliveryConfig) -> anyhow::Result<Self> {
        let policy = Arc::new(EndpointPolicy {
            allowlist: config.allowlist.clone(),
        });
        let client = reqwest::Client::builder()
            .user_agent(PORTAL_USER_AGENT)
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            // A handler could redirect to an internal address; we never follow.
            .redirect(reqwest::redirect::Policy::none())
            // HTTP_PROXY/HTTPS_PROXY/ALL_PROXY are ignored: a proxy would resolve the host
            // itself, past the policy resolver below, and reach private addresses.
            .no_proxy()
            .pool_max_idle_per_host(64)
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .dns_resolver(Arc::new(PolicyResolver { policy: policy.clone() }))
            .build()?;
        Ok(HttpCaller {
            client,
            policy,
            body_cap: config.response_body_cap,
            request_timeout: config.request_timeout,
        })
    }

    /// Makes the call, as [`Request`] built it; `timeout` (shorter than the client's) for
    /// calls someone waits for. Never panics and never returns an error: failures are results.
    pub async fn call(&self, call: Request, timeout: Option<Duration>) -> CallResult {
        let started = Instant::now();
        let shown = call.recorded_headers();
        let mut headers = HeaderMap::new();
        for (name, value) in &call.headers {
            // The builder sends only valid headers; anything unsendable is skipped, not fatal.
            if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
                headers.append(n, v);
            }
        }

        let failed = |kind: ErrorKind, error: String, shown: Vec<(String, String)>| CallResult {
            success: false,
            status_code: None,
            error_kind: Some(kind),
            error: Some(error),
            duration: started.elapsed(),
            request_headers: shown,
            response_headers: Vec::new(),
            response_body: None,
            response_truncated: false,
        };

        let url = match reqwest::Url::parse(&call.url) {
            Ok(u) => u,
            Err(e) => return failed(ErrorKind::Connect, format!("the endpoint URL is invalid: {e}"), shown),
        };
        // IP literals never reach the resolver: check them here.
        if let Some(host) = url.host_str() {
            if let Ok(ip) = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
                if let Err(reason) = self.policy.check(ip) {
                    return failed(ErrorKind::Blocked, reason, shown);
                }
            }
        }
        let mut request = self.client.request(call.method.into(), url).headers(headers);
        if let Some(body) = call.body {
            request = request.body(body.text);
        }
        if let Some(timeout) = timeout {
            // Replaces the client's timeout for this call: never make it longer.
            request = request.timeout(timeout.min(self.request_timeout));
        }
        let mut response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                let (kind, message) = classify(&e);
                return failed(kind, message, shown);
            }
        };
        let status = response.status();
        let response_headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        // Read the body up to the cap, then stop.
        let mut body: Vec<u8> = Vec::new();
        let mut truncated = false;
        let mut body_error = None;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = self.body_cap.saturating_sub(body.len());
                    if chunk.len() > room {
                        body.extend_from_slice(&chunk[..room]);
                        truncated = true;
                        break;
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    body_error = Some(classify(&e));
                    break;
                }
            }
        }
        let duration = started.elapsed();
        // Kept as text: bytes that are not UTF-8, and NUL (which Postgres text cannot hold, so
        // the record would fail and the call be made again), become U+FFFD.
        let response_body = Some(String::from_utf8_lossy(&body).replace('\0', "\u{fffd}"));
        let (success, error_kind, error) = match body_error {
            Some((kind, message)) => (
                false,
                Some(kind),
                Some(format!("reading the response failed: {message}")),
            ),
            None if status.is_success() => (true, None, None),
            None => (false, Some(ErrorKind::Http), Some(format!("HTTP {}", status.as_u16()))),
        };
        CallResult {
            success,
            status_code: Some(status.as_u16()),
            error_kind,
            error,
            duration,
            request_headers: shown,
            response_headers,
            response_body,
            response_truncated: truncated,
        }
    }
}

/// Names the failure: DNS, blocked address, refused, TLS, timeout or another connection error.
fn classify(e: &reqwest::Error) -> (ErrorKind, String) {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut chain = Vec::new();
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<ResolveError>() {
            return match r {
                ResolveError::Blocked(m) => (ErrorKind::Blocked, m.clone()),
                ResolveError::Dns { .. } => (ErrorKind::Dns, r.to_string()),
            };
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return (
                    ErrorKind::Refused,
                    "connection refused: nothing is listening at the endpoint".into(),
                );
            }
        }
        if s.downcast_ref::<rustls::Error>().is_some() {
            return (ErrorKind::Tls, format!("TLS handshake failed: {s}"));
        }
        chain.push(s.to_string());
        source = s.source();
    }
    let detail = chain.last().cloned().unwrap_or_else(|| e.to_string());
    if e.is_timeout() {
        (ErrorKind::Timeout, "no response within the request timeout".into())
    } else if detail.to_ascii_lowercase().contains("certificate") || detail.to_ascii_lowercase().contains("tls") {
        (ErrorKind::Tls, format!("TLS failed: {detail}"))
    } else if e.is_connect() {
        (ErrorKind::Connect, format!("could not connect: {detail}"))
    } else {
        (ErrorKind::Connect, detail)
    }
}
