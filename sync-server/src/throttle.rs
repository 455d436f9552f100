//! Throttling: a token bucket per device (honest devices never reach it), a bucket per network
//! address for work that is not an authenticated device's (enrolment, refused authentication), and
//! a lockout after repeated wrong enrolment codes per address and per code prefix. The buckets are
//! in the memory of one server process (with N replicas a device gets N times the rate); the
//! lockouts are counted in storage, so that spreading guesses over replicas gains nothing.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::storage::{Storage, StorageError};

/// Rates and lockouts, set with `serve`'s options.
#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    /// Requests per second one device may make on average.
    pub device_per_second: f64,
    /// How many it may make at once after a quiet spell.
    pub device_burst: f64,
    /// Unauthenticated or refused requests per second from one address.
    pub address_per_second: f64,
    /// How many of those at once.
    pub address_burst: f64,
    /// Wrong enrolment codes from one address, or for one code prefix, before the lockout.
    pub enrolment_failures: u32,
    /// How long the lockout lasts (and the window the failures are counted in).
    pub enrolment_lockout: Duration,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            device_per_second: 20.0,
            device_burst: 200.0,
            address_per_second: 20.0,
            address_burst: 100.0,
            enrolment_failures: 10,
            enrolment_lockout: Duration::from_secs(15 * 60),
        }
    }
}

/// Characters of an enrolment code that name its prefix for the lockout.
pub const CODE_PREFIX_CHARS: usize = 4;

/// How long to wait before asking again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// Whole seconds for the `Retry-After` header (at least 1).
    pub fn seconds(self) -> u64 {
        self.0.as_secs_f64().ceil().max(1.0) as u64
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets by key, pruned when they grow many.
#[derive(Debug)]
struct Buckets<K> {
    map: Mutex<HashMap<K, Bucket>>,
}

/// Keys kept before idle ones are pruned.
const PRUNE_ABOVE: usize = 100_000;

impl<K: Eq + Hash + Clone> Buckets<K> {
    fn new() -> Self {
        Buckets { map: Mutex::new(HashMap::new()) }
    }

    /// Takes one token, or says how long until one is there.
    fn take(&self, key: &K, rate: f64, burst: f64, now: Instant) -> Result<(), RetryAfter> {
        if rate <= 0.0 {
            return Ok(()); // a rate of 0 turns the limit off
        }
        let Ok(mut map) = self.map.lock() else { return Ok(()) };
        if map.len() > PRUNE_ABOVE {
            // A bucket refilled to the brim holds nothing worth keeping.
            map.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < burst);
        }
        let bucket = map.entry(key.clone()).or_insert(Bucket { tokens: burst, at: now });
        bucket.tokens = (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * rate).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(RetryAfter(Duration::from_secs_f64((1.0 - bucket.tokens) / rate)))
        }
    }
}

/// The server's throttle.
#[derive(Debug)]
pub struct Throttle {
    limits: RateLimits,
    devices: Buckets<String>,
    addresses: Buckets<IpAddr>,
}

impl Throttle {
    /// A throttle with these limits.
    pub fn new(limits: RateLimits) -> Throttle {
        Throttle { limits, devices: Buckets::new(), addresses: Buckets::new() }
    }

    /// One request of an authenticated device.
    pub fn device(&self, device: &str) -> Result<(), RetryAfter> {
        let l = &self.limits;
        self.devices.take(&device.to_string(), l.device_per_second, l.device_burst, Instant::now())
    }

    /// Charges `address` for unauthenticated work (an enrolment, a refused authentication).
    pub fn address(&self, address: IpAddr) -> Result<(), RetryAfter> {
        let l = &self.limits;
        self.addresses.take(&address, l.address_per_second, l.address_burst, Instant::now())
    }

    /// Whether an enrolment with `code` from `address` may be tried now (`Ok(Err(wait))` when the
    /// address or the code's prefix is locked out).
    pub async fn enrolment_allowed<S: Storage>(
        &self,
        storage: &S,
        address: IpAddr,
        code: &str,
        now_ms: i64,
    ) -> Result<Result<(), RetryAfter>, StorageError> {
        self.locked(storage, lockout_keys(address, code), now_ms).await
    }

    /// Whether any of `keys` has reached the failure limit within the window: locked until the
    /// failure that reached it leaves the window.
    async fn locked<S: Storage>(
        &self,
        storage: &S,
        keys: Vec<String>,
        now_ms: i64,
    ) -> Result<Result<(), RetryAfter>, StorageError> {
        let window = self.lockout_window_ms();
        let nth = self.limits.enrolment_failures.max(1);
        let failure = storage.enrolment_nth_failure(keys, nth, now_ms - window).await?;
        Ok(match failure {
            Some(at) => Err(RetryAfter(Duration::from_millis(u64::try_from(at + window - now_ms).unwrap_or(1).max(1)))),
            None => Ok(()),
        })
    }

    fn lockout_window_ms(&self) -> i64 {
        i64::try_from(self.limits.enrolment_lockout.as_millis()).unwrap_or(i64::MAX)
    }

    /// Counts a wrong enrolment code against the address and the code's prefix.
    pub async fn enrolment_failed<S: Storage>(
        &self,
        storage: &S,
        address: IpAddr,
        code: &str,
        now_ms: i64,
    ) -> Result<(), StorageError> {
        storage.enrolment_failed(lockout_keys(address, code), now_ms, now_ms - self.lockout_window_ms()).await
    }
}

impl Throttle {
    /// Whether a console login for `name` from `address` may be tried now: wrong passwords lock
    /// out the address and the name as wrong enrolment codes do (same count, same window).
    pub async fn login_allowed<S: Storage>(
        &self,
        storage: &S,
        address: IpAddr,
        name: &str,
        now_ms: i64,
    ) -> Result<Result<(), RetryAfter>, StorageError> {
        self.locked(storage, login_keys(address, name), now_ms).await
    }

    /// Counts a wrong console password against the address and the name.
    pub async fn login_failed<S: Storage>(
        &self,
        storage: &S,
        address: IpAddr,
        name: &str,
        now_ms: i64,
    ) -> Result<(), StorageError> {
        storage.enrolment_failed(login_keys(address, name), now_ms, now_ms - self.lockout_window_ms()).await
    }
}

/// What a wrong console password counts against.
fn login_keys(address: IpAddr, name: &str) -> Vec<String> {
    vec![format!("login-address:{address}"), format!("login-name:{}", name.trim().to_lowercase())]
}

/// What a wrong code counts against: the address it came from and the code's first characters.
fn lockout_keys(address: IpAddr, code: &str) -> Vec<String> {
    vec![format!("address:{address}"), format!("prefix:{}", prefix(code))]
}

fn prefix(code: &str) -> String {
    code.trim().to_ascii_uppercase().chars().filter(|c| c.is_ascii_alphanumeric()).take(CODE_PREFIX_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> RateLimits {
        RateLimits {
            device_per_second: 10.0,
            device_burst: 3.0,
            enrolment_failures: 2,
            enrolment_lockout: Duration::from_secs(60),
            ..RateLimits::default()
        }
    }

    #[test]
    fn a_device_gets_its_burst_then_waits_for_the_rate() {
        let t = Throttle::new(limits());
        for _ in 0..3 {
            assert_eq!(t.device("d1"), Ok(()));
        }
        let wait = t.device("d1").unwrap_err();
        assert!(wait.0 <= Duration::from_millis(100) && wait.seconds() == 1, "{wait:?}");
        assert_eq!(t.device("d2"), Ok(()), "another device has its own bucket");
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(t.device("d1"), Ok(()), "a token came back after 1/rate");
    }

    #[tokio::test]
    async fn wrong_codes_lock_the_address_and_the_code_prefix_until_the_window_passes() {
        let dir = tempfile::tempdir().unwrap();
        let storage = crate::storage::sqlite::SqliteStorage::open(dir.path()).unwrap();
        let t = Throttle::new(limits());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let now = 1_000_000;
        t.enrolment_failed(&storage, a, "ABCD00000000", now).await.unwrap();
        assert_eq!(t.enrolment_allowed(&storage, a, "ZZZZ00000000", now).await.unwrap(), Ok(()));
        t.enrolment_failed(&storage, a, "ABCD11111111", now + 1_000).await.unwrap();
        let wait = t.enrolment_allowed(&storage, a, "ZZZZ00000000", now + 1_000).await.unwrap().unwrap_err();
        assert_eq!(wait.0, Duration::from_secs(59), "locked until the first of the two leaves the window");
        assert!(
            t.enrolment_allowed(&storage, b, "abcd-2222-2222", now + 1_000).await.unwrap().is_err(),
            "so is the prefix"
        );
        assert_eq!(t.enrolment_allowed(&storage, b, "ZZZZ00000000", now + 1_000).await.unwrap(), Ok(()));
        // At most `enrolment_failures` wrong codes count in any window of `enrolment_lockout`.
        assert!(t.enrolment_allowed(&storage, a, "ZZZZ", now + 59_999).await.unwrap().is_err());
        assert_eq!(t.enrolment_allowed(&storage, a, "ZZZZ", now + 60_001).await.unwrap(), Ok(()));
    }

    #[test]
    fn a_rate_of_zero_turns_the_limit_off() {
        let t = Throttle::new(RateLimits { device_per_second: 0.0, device_burst: 0.0, ..limits() });
        for _ in 0..1000 {
            assert_eq!(t.device("d"), Ok(()));
        }
    }
}
