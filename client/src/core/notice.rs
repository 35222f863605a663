//! What the call tells the person: notices shown in the page, the reasons a call ended and why
//! the connection to the server went down. They are typed, not sentences, so that the rules that
//! raise them can be tested without the wording; [`Notice::text`], [`Rejection::text`] and
//! [`LostReason::text`] word them with a language's table ([`crate::i18n::Strings`]).

use treff_shared::ErrorCode;

use crate::i18n::Strings;

/// Why the browser did not give us a camera, a microphone or a screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaProblem {
    /// The person or the browser's settings refused access.
    Denied,
    /// There is no such device.
    NotFound,
    /// The device exists but another program holds it.
    InUse,
    /// The page is not a secure context (plain http on a non-local address), so the browser
    /// offers no media devices at all.
    Unavailable,
    /// Anything else the browser threw, in its words.
    Other(String),
}

impl MediaProblem {
    /// The problem in a sentence.
    pub fn text(&self, s: &Strings) -> String {
        let n = &s.notices;
        match self {
            MediaProblem::Denied => n.media_denied.into(),
            MediaProblem::NotFound => n.media_not_found.into(),
            MediaProblem::InUse => n.media_in_use.into(),
            MediaProblem::Unavailable => n.media_unavailable.into(),
            MediaProblem::Other(detail) => (n.media_other)(detail),
        }
    }
}

/// How serious a notice is; decides its colour and ARIA role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeKind {
    /// Something worked or changed (link copied, room locked).
    Info,
    /// Something is degraded but the call goes on (no camera).
    Warning,
    /// Something failed.
    Error,
}

/// Something the person can do right from a notice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeAction {
    /// A moderator asked: turn the own microphone off (never done without the person's click).
    MuteMicrophone,
}

impl NoticeAction {
    /// The button's label.
    pub fn label(self, s: &Strings) -> &'static str {
        match self {
            NoticeAction::MuteMicrophone => s.controls.microphone_off,
        }
    }
}

/// A notice the call raises.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// Joined with less than camera and microphone.
    Capture {
        /// Why.
        problem: MediaProblem,
        /// The microphone works (only the camera is missing).
        audio_only: bool,
    },
    /// The person pressed the camera (`video`) or microphone button without having one.
    NoDevice {
        /// The camera rather than the microphone.
        video: bool,
    },
    /// Switching to another camera or microphone failed.
    DeviceFailed(MediaProblem),
    /// Sharing the screen failed (other than by cancelling the picker).
    ScreenFailed(MediaProblem),
    /// A chat message could not be sent: the connection is down.
    ChatNotSent,
    /// A moderator action could not be sent: the connection is down.
    NotDelivered,
    /// The server forgot us (it restarted) and we joined again with a new id.
    Rejoined,
    /// A moderator locked (true) or unlocked the room.
    Locked(bool),
    /// A moderator turned the waiting room on (true) or off.
    WaitingRoom(bool),
    /// Only moderators may record in this room.
    RecordingNotAllowed,
    /// Our recording stopped because a moderator took the right away; the file is saved.
    RecordingStopped,
    /// The browser could not record; why.
    RecorderFailed(String),
    /// We became a moderator.
    NowModerator,
    /// A moderator asks us to turn the microphone off; `on`: it is still on.
    MuteRequested {
        /// The microphone is on (the notice offers to turn it off).
        on: bool,
    },
    /// The server refused a frame; its sentence.
    Server {
        /// The server's code.
        code: ErrorCode,
        /// The server's sentence.
        message: String,
    },
    /// The room's link was copied to the clipboard.
    LinkCopied(String),
    /// Copying the link was refused; the link to copy by hand.
    LinkNotCopied(String),
}

impl Notice {
    /// How serious it is.
    pub fn kind(&self) -> NoticeKind {
        match self {
            Notice::Capture { .. }
            | Notice::NoDevice { .. }
            | Notice::LinkNotCopied(_)
            | Notice::MuteRequested { on: true } => NoticeKind::Warning,
            Notice::DeviceFailed(_)
            | Notice::ScreenFailed(_)
            | Notice::ChatNotSent
            | Notice::NotDelivered
            | Notice::RecorderFailed(_)
            | Notice::Server { .. } => NoticeKind::Error,
            Notice::Rejoined
            | Notice::Locked(_)
            | Notice::WaitingRoom(_)
            | Notice::RecordingNotAllowed
            | Notice::RecordingStopped
            | Notice::NowModerator
            | Notice::MuteRequested { on: false }
            | Notice::LinkCopied(_) => NoticeKind::Info,
        }
    }

    /// The button it offers, if any.
    pub fn action(&self) -> Option<NoticeAction> {
        match self {
            Notice::MuteRequested { on: true } => Some(NoticeAction::MuteMicrophone),
            _ => None,
        }
    }

    /// The notice in a sentence.
    pub fn text(&self, s: &Strings) -> String {
        let n = &s.notices;
        match self {
            Notice::Capture {
                problem,
                audio_only: true,
            } => (n.joined_audio_only)(&problem.text(s)),
            Notice::Capture { problem, .. } => (n.joined_receive_only)(&problem.text(s)),
            Notice::NoDevice { video: true } => n.no_camera.into(),
            Notice::NoDevice { video: false } => n.no_microphone.into(),
            Notice::DeviceFailed(problem) | Notice::ScreenFailed(problem) => problem.text(s),
            Notice::ChatNotSent => n.chat_not_sent.into(),
            Notice::NotDelivered => n.not_delivered.into(),
            Notice::Rejoined => n.rejoined.into(),
            Notice::Locked(true) => n.locked.into(),
            Notice::Locked(false) => n.unlocked.into(),
            Notice::WaitingRoom(true) => n.waiting_room_on.into(),
            Notice::WaitingRoom(false) => n.waiting_room_off.into(),
            Notice::RecordingNotAllowed => n.recording_not_allowed.into(),
            Notice::RecordingStopped => n.recording_stopped.into(),
            Notice::RecorderFailed(reason) => (n.recorder_failed)(reason),
            Notice::NowModerator => n.now_moderator.into(),
            Notice::MuteRequested { on: true } => n.mute_requested.into(),
            Notice::MuteRequested { on: false } => n.mute_requested_muted.into(),
            Notice::Server { code, message } => s.errors.text(*code, message),
            Notice::LinkCopied(link) => (n.link_copied)(link),
            Notice::LinkNotCopied(link) => (n.link_not_copied)(link),
        }
    }
}

/// Why a call ended without the person leaving: shown on the join page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// The server refused the join (room full, wrong password, invalid token, ...).
    Refused {
        /// The server's code.
        code: ErrorCode,
        /// The server's sentence.
        message: String,
    },
    /// A moderator removed us.
    Removed,
    /// The room was ended for everyone; `by_us`: we ended it.
    Ended {
        /// We pressed "End for all".
        by_us: bool,
    },
    /// The same membership was resumed in another tab or window.
    Replaced,
}

impl Rejection {
    /// Whether it was about the room password (the join page puts the cursor in its field).
    pub fn is_password(&self) -> bool {
        matches!(
            self,
            Rejection::Refused {
                code: ErrorCode::PasswordRequired | ErrorCode::WrongPassword,
                ..
            }
        )
    }

    /// The reason in a sentence.
    pub fn text(&self, s: &Strings) -> String {
        let n = &s.notices;
        match self {
            Rejection::Refused { code, message } => s.errors.text(*code, message),
            Rejection::Removed => n.removed.into(),
            Rejection::Ended { by_us: true } => n.ended_by_us.into(),
            Rejection::Ended { by_us: false } => n.ended.into(),
            Rejection::Replaced => n.replaced.into(),
        }
    }
}

/// Why the connection to the server went down (it is being retried).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LostReason {
    /// The WebSocket could not be created; the browser's words.
    CannotOpen(String),
    /// The server could not be reached.
    Unreachable,
    /// The server stopped answering pings.
    StoppedAnswering,
    /// A frame could not be sent.
    SendingFailed,
    /// The connection closed without a close frame.
    Closed,
    /// The server is restarting (close 1012).
    Restarting,
    /// The connection closed with another code.
    ClosedWithCode(u16),
    /// A probe went unanswered: the network changed under the connection.
    Quiet,
    /// The server answered `join` with an error worth retrying.
    Server {
        /// The server's code.
        code: ErrorCode,
        /// The server's sentence.
        message: String,
    },
}

impl LostReason {
    /// The reason in a few words (it goes into a sentence of the connection banner).
    pub fn text(&self, s: &Strings) -> String {
        let c = &s.connection;
        match self {
            LostReason::CannotOpen(detail) => (c.cannot_open)(detail),
            LostReason::Unreachable => c.unreachable.into(),
            LostReason::StoppedAnswering => c.stopped_answering.into(),
            LostReason::SendingFailed => c.sending_failed.into(),
            LostReason::Closed => c.closed.into(),
            LostReason::Restarting => c.restarting.into(),
            LostReason::ClosedWithCode(code) => (c.closed_with_code)(*code),
            LostReason::Quiet => c.quiet.into(),
            LostReason::Server { code, message } => s.errors.text(*code, message),
        }
    }
}
