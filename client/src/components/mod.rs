//! The UI: components only render [`crate::state::AppState`] and report what the person did
//! through `on*` callbacks; the call itself lives in [`crate::call`].

mod app;
mod chat;
mod confirm;
mod controls;
mod grid;
mod icons;
mod join;
mod notices;
mod participants;
mod room;
mod video;

pub use app::App;
