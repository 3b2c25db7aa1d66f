//! Attempts in flight per client address: a cap on how many password checks one
//! address may have queued or running at once, so one address cannot fill the
//! bcrypt queue that everyone's logins share.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};

use super::AuthError;

/// The key of a client address: an IPv4 address (also when written IPv4-mapped),
/// or the /64 network of an IPv6 address, which one subscriber usually holds whole.
pub fn address_key(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => u128::from(u32::from(v4)),
            None => u128::from(v6) & !u128::from(u64::MAX),
        },
    }
}

pub struct InFlight {
    per_address: usize,
    hasher: RandomState,
    counts: Mutex<HashMap<u64, usize>>,
}

/// One attempt in flight; leaving it (drop) frees the place.
#[must_use = "the place is freed when the guard is dropped"]
pub struct InFlightGuard<'a> {
    owner: &'a InFlight,
    key: u64,
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        let mut counts = self.owner.lock();
        if let Some(count) = counts.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

impl InFlight {
    pub fn new(per_address: usize) -> Self {
        Self {
            per_address: per_address.max(1),
            hasher: RandomState::new(),
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a place for an attempt from `address`. The map only holds addresses
    /// with an attempt in flight, so it is bounded by the open connections.
    ///
    /// # Errors
    /// `RateLimited` (retry after a second) when the address is at its cap.
    pub fn enter(&self, address: IpAddr) -> Result<InFlightGuard<'_>, AuthError> {
        let key = self.hasher.hash_one(address_key(address));
        let mut counts = self.lock();
        let count = counts.entry(key).or_insert(0);
        if *count >= self.per_address {
            return Err(AuthError::RateLimited {
                retry_after_secs: 1,
            });
        }
        *count += 1;
        Ok(InFlightGuard { owner: self, key })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, usize>> {
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_cap_and_the_place_comes_back_when_done() {
        let in_flight = InFlight::new(2);
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        let first = in_flight.enter(ip).unwrap();
        let _second = in_flight.enter(ip).unwrap();
        assert!(in_flight.enter(ip).is_err());
        assert!(in_flight.enter("203.0.113.8".parse().unwrap()).is_ok());
        drop(first);
        assert!(in_flight.enter(ip).is_ok());
    }

    #[test]
    fn ipv6_addresses_of_one_64_network_share_a_key() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let mapped: IpAddr = "::ffff:198.51.100.1".parse().unwrap();
        let v4: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(address_key(mapped), address_key(v4));
    }
}
