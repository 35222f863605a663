//! Abuse limits as plain structs: a token bucket for frame and chat rates, and a per-address
//! counter of open sessions.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A token bucket: `burst` tokens at most, refilled at `rate` tokens per second.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f32,
    burst: f32,
    tokens: f32,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: f32, burst: f32, now: Instant) -> TokenBucket {
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// True when the bucket would be full at `now` (nothing taken recently).
    pub fn is_full(&self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f32();
        self.tokens + elapsed * self.rate >= self.burst
    }

    /// True when a token could be taken at `now` (takes nothing).
    pub fn has_token(&self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f32();
        (self.tokens + elapsed * self.rate).min(self.burst) >= 1.0
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f32();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Counts open sessions per client address and refuses more than `max`.
#[derive(Debug)]
pub struct AddressLimiter {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl AddressLimiter {
    /// A limiter allowing `max` sessions per address.
    pub fn new(max: usize) -> Arc<AddressLimiter> {
        Arc::new(AddressLimiter {
            max,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// Admits one more session from `ip`, or `None` when it already has `max`. The session
    /// holds the returned guard; dropping it frees the place.
    pub fn acquire(self: &Arc<Self>, ip: IpAddr) -> Option<AddressGuard> {
        // unwrap: the lock is never held across a panic (no code in it can panic).
        let mut open = self.open.lock().unwrap();
        let count = open.entry(ip).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(AddressGuard {
            limiter: self.clone(),
            ip,
        })
    }

    /// Sessions open from `ip`.
    pub fn open_from(&self, ip: IpAddr) -> usize {
        // unwrap: see `acquire`.
        self.open.lock().unwrap().get(&ip).copied().unwrap_or(0)
    }
}

/// One session's place in the [`AddressLimiter`].
#[derive(Debug)]
pub struct AddressGuard {
    limiter: Arc<AddressLimiter>,
    ip: IpAddr,
}

impl Drop for AddressGuard {
    fn drop(&mut self) {
        // unwrap: see `AddressLimiter::acquire`.
        let mut open = self.limiter.open.lock().unwrap();
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_allows_a_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(2.0, 5.0, t0);
        assert!((0..5).all(|_| bucket.try_take(t0)));
        assert!(!bucket.try_take(t0));
        assert!(bucket.try_take(t0 + Duration::from_millis(500)));
        assert!(!bucket.try_take(t0 + Duration::from_millis(500)));
        // Refills up to the burst only.
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..10).filter(|_| bucket.try_take(later)).count(), 5);
    }

    #[test]
    fn addresses_are_limited_and_places_freed_on_drop() {
        let limiter = AddressLimiter::new(2);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let other: IpAddr = "::1".parse().unwrap();
        let a = limiter.acquire(ip).unwrap();
        let _b = limiter.acquire(ip).unwrap();
        assert!(limiter.acquire(ip).is_none());
        assert!(limiter.acquire(other).is_some());
        drop(a);
        assert_eq!(limiter.open_from(ip), 1);
        assert!(limiter.acquire(ip).is_some());
    }
}
