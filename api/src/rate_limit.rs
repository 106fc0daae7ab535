//! Token buckets for rate limits: the limits (per user and per client address, a minute) and the
//! buckets of one process, each holding a minute's worth and refilling continuously. The HTTP
//! layer (`http::rate_limit`) applies them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The limits; 0 turns one off.
#[derive(Debug, Clone)]
pub struct Limits {
    pub per_user_per_minute: u32,
    pub per_ip_per_minute: u32,
    /// The header a trusted proxy puts the client's address in (e.g. `x-forwarded-for`).
    pub trusted_ip_header: Option<String>,
}

impl Default for Limits {
    /// `bb serve`'s defaults: 120 a minute per user, 600 per address.
    fn default() -> Self {
        Limits { per_user_per_minute: 120, per_ip_per_minute: 600, trusted_ip_header: None }
    }
}

impl Limits {
    /// No limits: the router's own default, for embedding and tests (`bb serve` turns them on).
    pub fn off() -> Limits {
        Limits { per_user_per_minute: 0, per_ip_per_minute: 0, trusted_ip_header: None }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    User(uuid::Uuid),
    Ip(IpAddr),
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The buckets of one process.
#[derive(Default)]
pub struct Buckets {
    inner: Mutex<HashMap<Key, Bucket>>,
}

impl Buckets {
    /// Takes a token from `key`'s bucket (`per_minute` capacity, refilled continuously), or says
    /// how long until one is there.
    pub fn take(&self, key: Key, per_minute: u32) -> Result<(), Duration> {
        if per_minute == 0 {
            return Ok(());
        }
        let (capacity, per_sec) = (per_minute as f64, per_minute as f64 / 60.0);
        let now = Instant::now();
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            // forget buckets that are full again
            map.retain(|_, b| (now - b.at).as_secs_f64() * per_sec < capacity);
        }
        let b = map.entry(key).or_insert(Bucket { tokens: capacity, at: now });
        b.tokens = (b.tokens + (now - b.at).as_secs_f64() * per_sec).min(capacity);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / per_sec))
        }
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_holds_a_minutes_worth_and_refills() {
        let b = Buckets::default();
        let k = Key::Ip("10.0.0.1".parse().unwrap());
        for _ in 0..3 {
            assert!(b.take(k, 3).is_ok());
        }
        let wait = b.take(k, 3).unwrap_err();
        assert!(wait > Duration::from_secs(19) && wait <= Duration::from_secs(20), "{wait:?}");
        assert!(b.take(Key::Ip("10.0.0.2".parse().unwrap()), 3).is_ok(), "another key has its own bucket");
        assert!(b.take(k, 0).is_ok(), "0 turns the limit off");
    }
}
