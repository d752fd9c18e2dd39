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
