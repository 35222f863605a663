//! Reactions on the tiles: each one the room relays is shown for [`SHOW_MS`], then taken down.
//!
//! The core's clock is the call's tick ([`super::Input::Tick`]), so a reaction stays up for
//! `SHOW_MS` give or take one tick.

use treff_shared::{PeerId, Reaction};

use super::Command;
use crate::state::Action;

/// How long a reaction stays on its tile, in milliseconds.
pub const SHOW_MS: u64 = 4_000;

/// The reactions on show and when each one goes.
#[derive(Debug, Default)]
pub struct Reactions {
    now_ms: u64,
    next_id: u32,
    /// Id and end of each reaction on show, oldest first.
    shown: Vec<(u32, u64)>,
}

impl Reactions {
    /// A reaction arrived: show it.
    pub fn arrived(&mut self, peer: PeerId, reaction: Reaction, out: &mut Vec<Command>) {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.shown.push((id, self.now_ms + SHOW_MS));
        out.push(Command::Ui(Action::Reacted { id, peer, reaction }));
    }

    /// The time passed: take down what has been shown long enough.
    pub fn tick(&mut self, now_ms: u64, out: &mut Vec<Command>) {
        self.now_ms = now_ms;
        while let Some(&(id, until)) = self.shown.first() {
            if until > now_ms {
                break;
            }
            self.shown.remove(0);
            out.push(Command::Ui(Action::ReactionDone(id)));
        }
    }
}
