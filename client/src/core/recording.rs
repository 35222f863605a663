//! Recording the call in this browser: announced first, recorded only once the room says so.
//!
//! Pressing "Record" asks the room (`recording` on). The recorder starts only when the room's
//! list of recorders names us, so everyone sees "Recording" before anything is recorded; a
//! refusal (`forbidden`: only moderators may record here) starts nothing. When the room drops
//! us from the list (a moderator took the right away) the recorder stops and saves what it has.

use treff_shared::{ClientMessage, PeerId, Role};

use super::notice::Notice;
use super::Command;
use crate::state::Action;

/// Where our own recording stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Stage {
    /// Not recording.
    #[default]
    Off,
    /// We asked the room and wait for its list to name us.
    Asked,
    /// The recorder runs.
    On,
}

/// Our recording and the room's rule about who may record.
#[derive(Debug, Default)]
pub struct Recording {
    stage: Stage,
    everyone_may: bool,
}

impl Recording {
    /// Whether someone with `role` may record under the room's rule.
    pub fn may_record(&self, role: Role) -> bool {
        self.everyone_may || role == Role::Moderator
    }

    /// The person pressed "Record" (`on`) or "Stop recording". Returns the frame to send, if
    /// any.
    pub fn intent(
        &mut self,
        on: bool,
        role: Role,
        out: &mut Vec<Command>,
    ) -> Option<ClientMessage> {
        match (on, self.stage) {
            (true, Stage::Off) if !self.may_record(role) => {
                out.push(Command::Ui(Action::Notify(Notice::RecordingNotAllowed)));
                None
            }
            (true, Stage::Off) => {
                self.stage = Stage::Asked;
                Some(ClientMessage::Recording { on: true })
            }
            (false, Stage::On) => {
                self.stop(out);
                Some(ClientMessage::Recording { on: false })
            }
            (false, Stage::Asked) => {
                self.stage = Stage::Off;
                Some(ClientMessage::Recording { on: false })
            }
            _ => None,
        }
    }

    /// The room's list of recorders and its rule.
    pub fn room_said(
        &mut self,
        me: Option<&PeerId>,
        recorders: &[PeerId],
        everyone: bool,
        out: &mut Vec<Command>,
    ) {
        self.everyone_may = everyone;
        let listed = me.is_some_and(|me| recorders.contains(me));
        match (self.stage, listed) {
            (Stage::Asked, true) => {
                self.stage = Stage::On;
                out.push(Command::StartRecorder);
                out.push(Command::Ui(Action::OwnRecording(true)));
            }
            (Stage::On, false) => {
                self.stop(out);
                out.push(Command::Ui(Action::Notify(Notice::RecordingStopped)));
            }
            _ => {}
        }
    }

    /// The room refused a frame of ours with `forbidden`: a start we asked for will not come.
    pub fn refused(&mut self) {
        if self.stage == Stage::Asked {
            self.stage = Stage::Off;
        }
    }

    /// The recorder could not start or broke. Returns the frame that takes us off the list.
    pub fn failed(&mut self, out: &mut Vec<Command>) -> Option<ClientMessage> {
        if self.stage == Stage::Off {
            return None;
        }
        self.stage = Stage::Off;
        out.push(Command::Ui(Action::OwnRecording(false)));
        Some(ClientMessage::Recording { on: false })
    }

    /// The call ends: a running recorder saves what it has.
    pub fn end(&mut self, out: &mut Vec<Command>) {
        if self.stage == Stage::On {
            self.stop(out);
        }
        self.stage = Stage::Off;
    }

    fn stop(&mut self, out: &mut Vec<Command>) {
        self.stage = Stage::Off;
        out.push(Command::StopRecorder);
        out.push(Command::Ui(Action::OwnRecording(false)));
    }
}
