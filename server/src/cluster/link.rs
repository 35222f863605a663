//! Numbering of the messages between nodes, so a lost one is noticed (sans-IO).
//!
//! Redis pub/sub keeps the order of one publisher's messages but drops them while a subscriber
//! is disconnected. Every [`Envelope`](super::wire::Envelope) therefore carries the sender's run
//! (a random number per process start) and a sequence number per addressee; [`Incoming`] tells
//! for each arrival whether anything before it went missing.

use std::collections::HashMap;

/// Numbers outgoing messages, per addressee.
#[derive(Debug, Default)]
pub struct Outgoing {
    next: HashMap<String, u64>,
}

impl Outgoing {
    /// The number of the next message to `to`: 1, 2, 3, …
    pub fn stamp(&mut self, to: &str) -> u64 {
        let next = self.next.entry(to.to_owned()).or_insert(1);
        let seq = *next;
        *next += 1;
        seq
    }
}

/// What an arriving message means for the order of its sender's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// The next one expected: nothing was lost.
    InOrder,
    /// The first message of this sender's run seen here: the sender is new or restarted;
    /// whatever this node held for its previous run is gone.
    NewRun,
    /// `missed` messages before this one never arrived.
    Gap {
        /// How many.
        missed: u64,
    },
    /// An older or repeated number: drop it.
    Stale,
}

/// Tracks the last number seen from each sender.
#[derive(Debug, Default)]
pub struct Incoming {
    last: HashMap<String, (u64, u64)>,
}

impl Incoming {
    /// Records message `seq` of `from`'s run `run`.
    pub fn arrive(&mut self, from: &str, run: u64, seq: u64) -> Arrival {
        match self.last.get_mut(from) {
            Some((seen_run, last)) if *seen_run == run => {
                if seq == *last + 1 {
                    *last = seq;
                    Arrival::InOrder
                } else if seq > *last + 1 {
                    let missed = seq - *last - 1;
                    *last = seq;
                    Arrival::Gap { missed }
                } else {
                    Arrival::Stale
                }
            }
            _ => {
                let first_ever = !self.last.contains_key(from);
                self.last.insert(from.to_owned(), (run, seq));
                match (first_ever, seq) {
                    // Met in the middle of its run: this node just started, or only now has
                    // something to do with it; either way nothing of ours depended on the rest.
                    (true, _) => Arrival::InOrder,
                    (false, _) => Arrival::NewRun,
                }
            }
        }
    }

    /// Forgets every sender: after this node's subscription dropped, anything may have been
    /// lost, and the caller resynchronises with everyone at once.
    pub fn forget_all(&mut self) {
        self.last.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_count_per_addressee() {
        let mut out = Outgoing::default();
        assert_eq!(out.stamp("b"), 1);
        assert_eq!(out.stamp("b"), 2);
        assert_eq!(out.stamp("c"), 1);
        assert_eq!(out.stamp("b"), 3);
    }

    #[test]
    fn a_missing_number_is_a_gap() {
        let mut inc = Incoming::default();
        assert_eq!(inc.arrive("a", 7, 1), Arrival::InOrder);
        assert_eq!(inc.arrive("a", 7, 2), Arrival::InOrder);
        assert_eq!(inc.arrive("a", 7, 5), Arrival::Gap { missed: 2 });
        assert_eq!(inc.arrive("a", 7, 6), Arrival::InOrder);
        assert_eq!(inc.arrive("a", 7, 6), Arrival::Stale);
        assert_eq!(inc.arrive("a", 7, 3), Arrival::Stale);
    }

    #[test]
    fn a_sender_met_mid_run_is_in_order_and_a_restart_is_a_new_run() {
        let mut inc = Incoming::default();
        assert_eq!(inc.arrive("a", 7, 40), Arrival::InOrder);
        assert_eq!(inc.arrive("a", 7, 41), Arrival::InOrder);
        assert_eq!(inc.arrive("a", 8, 1), Arrival::NewRun);
        assert_eq!(inc.arrive("a", 8, 2), Arrival::InOrder);
        assert_eq!(inc.arrive("b", 1, 1), Arrival::InOrder);
    }

    #[test]
    fn after_forgetting_everyone_the_next_message_starts_afresh() {
        let mut inc = Incoming::default();
        inc.arrive("a", 7, 1);
        inc.forget_all();
        assert_eq!(inc.arrive("a", 7, 9), Arrival::InOrder);
    }
}
