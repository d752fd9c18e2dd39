//! Policies: which addresses may be called (checked after DNS resolution), and when a
//! failed trigger is tried again.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use rand::Rng;

use crate::net::canonical;
pub use crate::net::IpNet;

/// Why an address may not be called, if it may not.
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match canonical(ip) {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    if ip == Ipv4Addr::new(169, 254, 169, 254) {
        Some("a cloud metadata address")
    } else if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_private() {
        Some("a private address")
    } else if ip.is_link_local() {
        Some("a link-local address")
    } else if o[0] == 100 && (64..128).contains(&o[1]) {
        Some("a shared (carrier-grade NAT) address")
    } else if ip.is_unspecified() || o[0] == 0 {
        Some("an unspecified address")
    } else if ip.is_broadcast() || ip.is_multicast() || o[0] >= 240 {
        Some("a broadcast, multicast or reserved address")
    } else {
        None
    }
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_unspecified() {
        Some("an unspecified address")
    } else if first & 0xfe00 == 0xfc00 {
        Some("a private (unique local) address")
    } else if first & 0xffc0 == 0xfe80 {
        Some("a link-local address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        Some("a cloud metadata address")
    } else {
        None
    }
}

/// The endpoint policy: forbidden ranges, minus what the allow-list lets through.
#[derive(Debug, Clone, Default)]
pub struct EndpointPolicy {
    pub allowlist: Vec<IpNet>,
}

impl EndpointPolicy {
    pub fn check(&self, ip: IpAddr) -> Result<(), String> {
        match forbidden_reason(ip) {
            Some(_) if self.allowlist.iter().any(|net| net.contains(ip)) => Ok(()),
            Some(reason) => Err(format!(
                "refused to call {ip}: it is {reason} (set PORTAL_ENDPOINT_ALLOWLIST to allow it)"
            )),
            None => Ok(()),
        }
    }
}

/// What the forms learn of an endpoint URL before it is saved, by the same rules as a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointCheck {
    /// It may be called (at least one of its addresses).
    Callable,
    /// The policy forbids every address it has: the form refuses it, saying why.
    Forbidden(String),
    /// Its host does not resolve now: saved, with a warning (DNS may come later).
    Unresolved(String),
}

/// How long the forms wait for DNS.
const CHECK_DNS_TIMEOUT: Duration = Duration::from_secs(2);

impl EndpointPolicy {
    /// Resolves the URL's host as a call would and applies the policy to its addresses.
    pub async fn check_url(&self, raw: &str) -> EndpointCheck {
        let Ok(url) = url::Url::parse(raw.trim()) else {
            return EndpointCheck::Callable; // the field's own validation says what is wrong
        };
        let hint = "An administrator can allow a network with PORTAL_ENDPOINT_ALLOWLIST.";
        let port = url.port_or_known_default().unwrap_or(443);
        let host = match url.host() {
            Some(url::Host::Ipv4(ip)) => {
                return self.verdict(url.as_ref(), &[IpAddr::V4(ip)], hint);
            }
            Some(url::Host::Ipv6(ip)) => {
                return self.verdict(url.as_ref(), &[IpAddr::V6(ip)], hint);
            }
            Some(url::Host::Domain(d)) => d.to_string(),
            None => return EndpointCheck::Callable,
        };
        let lookup = tokio::time::timeout(CHECK_DNS_TIMEOUT, tokio::net::lookup_host((host.as_str(), port))).await;
        match lookup {
            Ok(Ok(addrs)) => {
                let ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
                if ips.is_empty() {
                    return EndpointCheck::Unresolved(format!(
                        "{host} has no address right now; calls fail until it has."
                    ));
                }
                self.verdict(&host, &ips, hint)
            }
            Ok(Err(_)) => EndpointCheck::Unresolved(format!(
                "{host} could not be found in DNS just now; calls fail until it can be."
            )),
            Err(_) => EndpointCheck::Unresolved(format!(
                "DNS did not answer for {host} within {} s; calls fail until it does.",
                CHECK_DNS_TIMEOUT.as_secs()
            )),
        }
    }

    fn verdict(&self, host: &str, ips: &[IpAddr], hint: &str) -> EndpointCheck {
        if ips.iter().any(|ip| self.check(*ip).is_ok()) {
            return EndpointCheck::Callable;
        }
        let ip = ips[0];
        let reason = forbidden_reason(ip).unwrap_or("not allowed");
        let subject = if host.parse::<IpAddr>().is_ok() || host.contains("://") {
            format!("{ip} is {reason}")
        } else {
            format!("{host} resolves to {ip}, {reason}")
        };
        EndpointCheck::Forbidden(format!(
            "{subject}: the portal does not call private or internal networks. {hint}"
        ))
    }
}

/// The wait a handler asks for with `Retry-After` on a 429 or 503 answer: delay-seconds or an
/// HTTP date (RFC 9110 §10.2.3), counted from `now`. Any other answer asks for nothing.
pub fn retry_after(
    status: Option<u16>,
    headers: &[(String, String)],
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Duration> {
    if !matches!(status, Some(429 | 503)) {
        return None;
    }
    let value = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("retry-after"))
        .map(|(_, v)| v.trim())?;
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        at.with_timezone(&chrono::Utc)
            .signed_duration_since(now)
            .to_std()
            .unwrap_or_default(),
    )
}

/// The retry's wait: the backoff, or longer if the handler asked, but never past `max`.
pub fn polite(backoff: Duration, asked: Option<Duration>, max: Duration) -> Duration {
    match asked {
        Some(asked) if asked > backoff => asked.min(max.max(backoff)),
        _ => backoff,
    }
}

/// When to try again after `consecutive_failures` failures (1 = the first failure):
/// base, 2×base, 4×base… capped, with up to +20 % jitter (never below the base).
pub fn retry_delay(consecutive_failures: i32, base: Duration, max: Duration) -> Duration {
    let exponent = (consecutive_failures.max(1) - 1).min(30) as u32;
    let raw = base.saturating_mul(2u32.saturating_pow(exponent)).min(max);
    let jitter = rand::thread_rng().gen_range(0.0..0.2);
    raw.mul_f64(1.0 + jitter).min(max.max(base))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_ranges() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.1.1",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd12::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(forbidden_reason(ip.parse().unwrap()).is_some(), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(forbidden_reason(ip.parse().unwrap()).is_none(), "{ip}");
        }
    }

    #[test]
    fn the_allowlist_lets_chosen_networks_through() {
        let policy = EndpointPolicy {
            allowlist: vec!["127.0.0.0/8".parse().unwrap()],
        };
        assert!(policy.check("127.0.0.1".parse().unwrap()).is_ok());
        assert!(policy.check("::ffff:127.0.0.2".parse().unwrap()).is_ok());
        assert!(policy
            .check("10.0.0.1".parse().unwrap())
            .unwrap_err()
            .contains("private"));
        assert!(policy.check("::1".parse().unwrap()).is_err());
        assert!("10.0.0.0/33".parse::<IpNet>().is_err());
        assert!("nonsense".parse::<IpNet>().is_err());
    }

    #[tokio::test]
    async fn the_forms_check_urls_as_calls_would() {
        let policy = EndpointPolicy::default();
        for url in [
            "http://127.0.0.1:8080/hook",
            "https://10.0.0.5/",
            "http://[::1]/",
            "http://localhost/x",
        ] {
            match policy.check_url(url).await {
                EndpointCheck::Forbidden(why) => assert!(why.contains("PORTAL_ENDPOINT_ALLOWLIST"), "{why}"),
                other => panic!("{url}: {other:?}"),
            }
        }
        assert_eq!(
            policy.check_url("https://93.184.216.34/").await,
            EndpointCheck::Callable
        );
        let allowed = EndpointPolicy {
            allowlist: vec!["127.0.0.0/8".parse().unwrap()],
        };
        assert_eq!(allowed.check_url("http://127.0.0.1:9/").await, EndpointCheck::Callable);
        assert!(matches!(
            policy.check_url("https://no-such-host.invalid/").await,
            EndpointCheck::Unresolved(_)
        ));
    }

    #[test]
    fn retry_after_is_honoured_on_429_and_503_only_within_the_maximum() {
        use chrono::TimeZone;
        let now = chrono::Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap();
        let h = |v: &str| vec![("Retry-After".to_string(), v.to_string())];
        assert_eq!(retry_after(Some(429), &h("120"), now), Some(Duration::from_secs(120)));
        assert_eq!(
            retry_after(Some(503), &h("Thu, 03 Dec 2026 12:05:00 GMT"), now),
            Some(Duration::from_secs(300))
        );
        assert_eq!(retry_after(Some(500), &h("120"), now), None);
        assert_eq!(retry_after(Some(429), &h("soon"), now), None);
        assert_eq!(retry_after(Some(429), &[], now), None);
        let (base, max) = (Duration::from_secs(300), Duration::from_secs(3600));
        assert_eq!(
            polite(base, Some(Duration::from_secs(900)), max),
            Duration::from_secs(900)
        );
        assert_eq!(polite(base, Some(Duration::from_secs(10)), max), base);
        assert_eq!(polite(base, Some(Duration::from_secs(99_999)), max), max);
        assert_eq!(polite(base, None, max), base);
    }

    #[test]
    fn retry_intervals_grow_and_are_capped() {
        let base = Duration::from_secs(300);
        let max = Duration::from_secs(3600);
        let first = retry_delay(1, base, max);
        assert!(first >= base && first <= base.mul_f64(1.2));
        let third = retry_delay(3, base, max);
        assert!(third >= base * 4 && third <= (base * 4).mul_f64(1.2));
        assert!(retry_delay(50, base, max) <= max);
        assert!(retry_delay(50, base, max) >= max.mul_f64(0.99));
    }
}
