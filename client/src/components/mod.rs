//! The UI: components only render [`crate::state::AppState`] and report what the person did as
//! one [`UserAction`]; the call itself lives in the call core (`crate::core`) and its IO layer
//! (`crate::io`). Every text they show comes from the page's language table
//! ([`crate::i18n::use_strings`]).

mod app;
mod chat;
mod confirm;
mod controls;
mod grid;
mod icons;
mod join;
mod language;
mod notices;
mod participants;
mod room;
mod video;

pub use app::App;

use crate::core::Intent;
use crate::state::{NoticeAction, Panel};

/// Everything the person can do on the room page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserAction {
    /// Something for the call (microphone, chat, moderation, leave).
    Call(Intent),
    /// Open or close a side panel.
    Panel(Panel),
    /// Hide a notice.
    Dismiss(u32),
    /// The button of a notice.
    NoticeAction(u32, NoticeAction),
    /// "Copy link".
    CopyLink,
}
