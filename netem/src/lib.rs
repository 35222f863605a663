//! What `tc qdisc ... netem` would do, for kernels built without it (the test machines'):
//! a delay line with random loss. [`DelayLine`] holds the rules and knows no sockets;
//! `main.rs` feeds it the packets iptables queues (`-j NFQUEUE`) and hands back its verdicts.
//! Rates are left to the kernel's `tbf`, which these kernels have.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How a link misbehaves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Impairment {
    /// Added to every packet that is not lost.
    pub delay: Duration,
    /// Share of packets dropped, 0.0 to 1.0, each independently.
    pub loss: f64,
}

/// What to do with a packet now.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict<P> {
    /// Let it go on.
    Pass(P),
    /// Drop it.
    Drop(P),
}

/// Packets in flight on an impaired link, in arrival order (a constant delay keeps the order).
#[derive(Debug)]
pub struct DelayLine<P> {
    impairment: Impairment,
    held: VecDeque<(Instant, P)>,
    random: u64,
}

impl<P> DelayLine<P> {
    /// A line with this impairment; `seed` makes the losses repeatable.
    pub fn new(impairment: Impairment, seed: u64) -> Self {
        Self {
            impairment,
            held: VecDeque::new(),
            // xorshift must not start at 0.
            random: seed | 1,
        }
    }

    /// A packet arrived at `now`: dropped at once if it is lost, held otherwise.
    pub fn arrive(&mut self, packet: P, now: Instant) -> Option<Verdict<P>> {
        if self.next_unit() < self.impairment.loss {
            return Some(Verdict::Drop(packet));
        }
        if self.impairment.delay.is_zero() && self.held.is_empty() {
            return Some(Verdict::Pass(packet));
        }
        self.held.push_back((now + self.impairment.delay, packet));
        None
    }

    /// The next packet whose time has come by `now`.
    pub fn release(&mut self, now: Instant) -> Option<P> {
        if self.held.front().is_some_and(|(due, _)| *due <= now) {
            self.held.pop_front().map(|(_, p)| p)
        } else {
            None
        }
    }

    /// When the next held packet is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.held.front().map(|(due, _)| *due)
    }

    /// Packets held now.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// A uniform number in 0..1 (xorshift64*: enough for losses, and repeatable).
    fn next_unit(&mut self) -> f64 {
        let mut x = self.random;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.random = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_leave_after_the_delay_in_the_order_they_came() {
        let t0 = Instant::now();
        let ms = |m| t0 + Duration::from_millis(m);
        let mut line = DelayLine::new(
            Impairment {
                delay: Duration::from_millis(75),
                loss: 0.0,
            },
            7,
        );
        assert_eq!(line.arrive(1, t0), None);
        assert_eq!(line.arrive(2, ms(10)), None);
        assert_eq!(line.next_due(), Some(ms(75)));
        assert_eq!(line.release(ms(74)), None);
        assert_eq!(line.release(ms(75)), Some(1));
        assert_eq!(line.release(ms(80)), None);
        assert_eq!(line.release(ms(85)), Some(2));
        assert!(line.is_empty());
    }

    #[test]
    fn without_delay_a_packet_passes_at_once_unless_older_ones_wait() {
        let t0 = Instant::now();
        let mut line = DelayLine::new(
            Impairment {
                delay: Duration::ZERO,
                loss: 0.0,
            },
            7,
        );
        assert_eq!(line.arrive(1, t0), Some(Verdict::Pass(1)));
        assert!(line.is_empty());
    }

    #[test]
    fn the_loss_rate_is_the_one_asked_for() {
        let t0 = Instant::now();
        let mut line = DelayLine::new(
            Impairment {
                delay: Duration::ZERO,
                loss: 0.02,
            },
            42,
        );
        let lost = (0..100_000)
            .filter(|&i| matches!(line.arrive(i, t0), Some(Verdict::Drop(_))))
            .count();
        assert!((1_800..2_200).contains(&lost), "{lost} of 100000 lost");
        let mut never = DelayLine::new(
            Impairment {
                delay: Duration::ZERO,
                loss: 0.0,
            },
            42,
        );
        assert!((0..10_000).all(|i| never.arrive(i, t0) == Some(Verdict::Pass(i))));
    }
}
