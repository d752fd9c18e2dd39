//! Fair share of the delivery slots: calls in flight are counted per account, per endpoint
//! host and per account on a host, and a claim takes no more than each one's cap,
//! round-robin across accounts.
//!
//! A call holds one of the process's `PORTAL_DELIVERY_CONCURRENCY` slots while it starts; one
//! still running after [`SLOW_AFTER`] gives its slot back and goes on as a *slow* call. Slow
//! calls are bounded per account, per host and in all, so hung endpoints of one account hold
//! at most their cap, and the slots stay free for everybody else's calls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// A call running longer than this stops holding a delivery slot.
pub const SLOW_AFTER: Duration = Duration::from_millis(500);

/// The caps, derived from the concurrency `C`: an account may have `C` calls in flight on one
/// endpoint host (`host:port`) and `2·C` in all (so one broken host of an account leaves room
/// for its other endpoints); a host `4·C` from all accounts together (a shared host, such as an
/// integration platform, stays usable for others when one account's endpoints there hang);
/// and the process `16·C` slow calls besides the `C` starting ones.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    pub per_account_host: usize,
    pub per_account: usize,
    pub per_host: usize,
    pub slow: usize,
}

impl Caps {
    pub fn for_concurrency(concurrency: usize) -> Caps {
        let c = concurrency.max(1);
        Caps {
            per_account_host: c,
            per_account: 2 * c,
            per_host: 4 * c,
            slow: 16 * c,
        }
    }

    /// The caps of a claim that also takes up to `ahead` calls to start as slots free (see
    /// `slots`, which claims ahead only while no call is slow, and at most half the slots): an
    /// account's calls to one host may be that many more. The caps of an account and of a host
    /// stay: should those calls all hang, the account keeps room for its other hosts.
    pub fn with_ahead(self, ahead: usize) -> Caps {
        Caps {
            per_account_host: self.per_account_host + ahead,
            ..self
        }
    }
}

/// The key of an account's calls to one host.
pub fn account_host(account: &str, host: &str) -> String {
    format!("{account} {host}")
}

#[derive(Default)]
struct Counts {
    accounts: HashMap<String, usize>,
    hosts: HashMap<String, usize>,
    account_hosts: HashMap<String, usize>,
    slow: usize,
}

/// This process's calls in flight; shared by the dispatcher and its calls.
#[derive(Clone)]
pub struct Load {
    caps: Caps,
    counts: Arc<Mutex<Counts>>,
}

/// What a claim needs to know: the calls in flight of each account, host and account on a
/// host (keys and counts side by side, as SQL arrays).
#[derive(Default)]
pub struct Snapshot {
    pub accounts: Vec<String>,
    pub account_calls: Vec<i32>,
    pub hosts: Vec<String>,
    pub host_calls: Vec<i32>,
    pub account_hosts: Vec<String>,
    pub account_host_calls: Vec<i32>,
}

impl Load {
    pub fn new(caps: Caps) -> Load {
        Load {
            caps,
            counts: Arc::default(),
        }
    }

    pub fn caps(&self) -> Caps {
        self.caps
    }

    fn counts(&self) -> MutexGuard<'_, Counts> {
        // A panic while holding this short lock leaves consistent counts: keep going.
        self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn snapshot(&self) -> Snapshot {
        let counts = self.counts();
        let (accounts, account_calls) = counts.accounts.iter().map(|(k, v)| (k.clone(), *v as i32)).unzip();
        let (hosts, host_calls) = counts.hosts.iter().map(|(k, v)| (k.clone(), *v as i32)).unzip();
        let (account_hosts, account_host_calls) =
            counts.account_hosts.iter().map(|(k, v)| (k.clone(), *v as i32)).unzip();
        Snapshot {
            accounts,
            account_calls,
            hosts,
            host_calls,
            account_hosts,
            account_host_calls,
        }
    }

    /// Whether any call of this process has turned slow.
    pub fn any_slow(&self) -> bool {
        self.counts().slow > 0
    }

    /// Counts a claimed call until the returned guard is dropped.
    pub fn start(&self, account: &str, host: &str) -> InFlight {
        let mut counts = self.counts();
        *counts.accounts.entry(account.to_string()).or_default() += 1;
        *counts.hosts.entry(host.to_string()).or_default() += 1;
        *counts.account_hosts.entry(account_host(account, host)).or_default() += 1;
        InFlight {
            load: self.clone(),
            account: account.to_string(),
            host: host.to_string(),
            slow: false,
        }
    }
}

/// The keys at their cap, which a claim passes over.
#[derive(Default)]
pub struct Saturated {
    pub accounts: Vec<String>,
    pub hosts: Vec<String>,
    pub account_hosts: Vec<String>,
}

impl Snapshot {
    pub fn saturated(&self, caps: Caps) -> Saturated {
        let at_cap = |keys: &[String], calls: &[i32], cap: usize| -> Vec<String> {
            keys.iter()
                .zip(calls)
                .filter(|(_, n)| **n as usize >= cap)
                .map(|(k, _)| k.clone())
                .collect()
        };
        Saturated {
            accounts: at_cap(&self.accounts, &self.account_calls, caps.per_account),
            hosts: at_cap(&self.hosts, &self.host_calls, caps.per_host),
            account_hosts: at_cap(&self.account_hosts, &self.account_host_calls, caps.per_account_host),
        }
    }
}

/// A call in flight, counted until dropped.
pub struct InFlight {
    load: Load,
    account: String,
    host: String,
    slow: bool,
}

impl InFlight {
    /// Turns this call into a slow one, if the process has room for another: then its caller
    /// gives its delivery slot back.
    pub fn go_slow(&mut self) -> bool {
        if self.slow {
            return true;
        }
        let mut counts = self.load.counts();
        if counts.slow >= self.load.caps.slow {
            return false;
        }
        counts.slow += 1;
        self.slow = true;
        true
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut counts = self.load.counts();
        fn decrement(map: &mut HashMap<String, usize>, key: &str) {
            if let Some(n) = map.get_mut(key) {
                *n -= 1;
                if *n == 0 {
                    map.remove(key);
                }
            }
        }
        decrement(&mut counts.accounts, &self.account);
        decrement(&mut counts.hosts, &self.host);
        decrement(&mut counts.account_hosts, &account_host(&self.account, &self.host));
        if self.slow {
            counts.slow -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_counted_until_dropped() {
        let load = Load::new(Caps::for_concurrency(2));
        let mut a1 = load.start("PA-1", "h:1");
        let _a2 = load.start("PA-1", "h:2");
        let _b = load.start("VA-2", "h:1");
        let s = load.snapshot();
        let of = |keys: &[String], calls: &[i32], key: &str| {
            keys.iter().zip(calls).find(|(k, _)| *k == key).map(|(_, n)| *n)
        };
        assert_eq!(of(&s.accounts, &s.account_calls, "PA-1"), Some(2));
        assert_eq!(of(&s.hosts, &s.host_calls, "h:1"), Some(2));
        assert_eq!(of(&s.account_hosts, &s.account_host_calls, "PA-1 h:1"), Some(1));
        let saturated = s.saturated(Caps::for_concurrency(1));
        assert_eq!(saturated.accounts, vec!["PA-1".to_string()], "2 of 2");
        assert_eq!(saturated.hosts, Vec::<String>::new(), "2 of 4");
        assert_eq!(saturated.account_hosts.len(), 3, "1 of 1 each");
        assert!(a1.go_slow());
        drop(a1);
        let s = load.snapshot();
        assert_eq!(of(&s.accounts, &s.account_calls, "PA-1"), Some(1));
        assert_eq!(of(&s.hosts, &s.host_calls, "h:1"), Some(1));
        assert_eq!(of(&s.account_hosts, &s.account_host_calls, "PA-1 h:1"), None);
    }

    #[test]
    fn slow_calls_are_bounded() {
        let load = Load::new(Caps::for_concurrency(1));
        let mut calls: Vec<InFlight> = (0..17).map(|_| load.start("PA-1", "h:1")).collect();
        let went_slow = calls.iter_mut().map(|c| c.go_slow()).filter(|slow| *slow).count();
        assert_eq!(went_slow, 16, "16·C slow calls at most");
        calls.truncate(1);
        assert!(load.start("PA-1", "h:1").go_slow(), "room again once slow calls end");
    }
}
