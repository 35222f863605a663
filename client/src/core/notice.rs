//! What the call tells the person: notices shown in the page and the reasons a call ended. They
//! are typed, not sentences, so that the wording lives in one place ([`Notice::text`],
//! [`Rejection::text`]) and the rules that raise them can be tested without it.

use treff_shared::ErrorCode;

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
    pub fn text(&self) -> String {
        match self {
            MediaProblem::Denied => "Access to the camera or microphone was denied. Allow it in \
                the browser's site settings and rejoin to be seen and heard."
                .into(),
            MediaProblem::NotFound => "No camera or microphone was found.".into(),
            MediaProblem::InUse => "The camera or microphone is in use by another program.".into(),
            MediaProblem::Unavailable => {
                "This browser offers no camera or microphone on this page; open it over https."
                    .into()
            }
            MediaProblem::Other(detail) => {
                format!("The browser could not start the device ({detail}).")
            }
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
    pub fn label(self) -> &'static str {
        match self {
            NoticeAction::MuteMicrophone => "Turn microphone off",
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
    pub fn text(&self) -> String {
        match self {
            Notice::Capture {
                problem,
                audio_only: true,
            } => format!("{} You joined with your microphone only.", problem.text()),
            Notice::Capture { problem, .. } => format!(
                "{} You can see and hear the others, but they cannot see or hear you.",
                problem.text()
            ),
            Notice::NoDevice { video: true } => "There is no camera to turn on.".into(),
            Notice::NoDevice { video: false } => "There is no microphone to turn on.".into(),
            Notice::DeviceFailed(problem) | Notice::ScreenFailed(problem) => problem.text(),
            Notice::ChatNotSent => {
                "The message was not sent: the connection to the server is down.".into()
            }
            Notice::NotDelivered => {
                "That did not reach the room: the connection to the server is down.".into()
            }
            Notice::Rejoined => "The server was restarted; you rejoined the room.".into(),
            Notice::Locked(true) => "The room is locked: nobody new can join.".into(),
            Notice::Locked(false) => "The room is unlocked: others can join again.".into(),
            Notice::WaitingRoom(true) => {
                "The waiting room is on: a moderator lets each newcomer in.".into()
            }
            Notice::RecordingNotAllowed => {
                "Only moderators may record in this room; a moderator can allow everyone.".into()
            }
            Notice::RecordingStopped => {
                "Your recording stopped: only moderators may record now. What was recorded is saved."
                    .into()
            }
            Notice::RecorderFailed(reason) => format!("The call could not be recorded: {reason}"),
            Notice::WaitingRoom(false) => "The waiting room is off: newcomers join at once.".into(),
            Notice::NowModerator => "You are now a moderator of this room.".into(),
            Notice::MuteRequested { on: true } => {
                "A moderator asks you to turn your microphone off.".into()
            }
            Notice::MuteRequested { on: false } => {
                "A moderator asked you to turn your microphone off; it is off.".into()
            }
            Notice::Server { message, .. } => message.clone(),
            Notice::LinkCopied(link) => format!("Link copied: {link}"),
            Notice::LinkNotCopied(link) => format!("Copying was not allowed. The link is {link}"),
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
    pub fn text(&self) -> String {
        match self {
            Rejection::Refused { message, .. } => message.clone(),
            Rejection::Removed => "A moderator removed you from the room.".into(),
            Rejection::Ended { by_us: true } => "You ended the room for everyone.".into(),
            Rejection::Ended { by_us: false } => "A moderator ended the room for everyone.".into(),
            Rejection::Replaced => "This call was taken over by another tab or window.".into(),
        }
    }
}
