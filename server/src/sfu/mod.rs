//! The media server in treff (an SFU): rooms that grew beyond a few members send their media
//! here once, and it forwards each member's media to the others.
//!
//! | part | module |
//! |---|---|
//! | which connection a datagram on the media port belongs to (sans-IO) | [`demux`] |
//! | one room epoch's forwarding: str0m links, layers, keyframes (sans-IO) | [`engine`] |
//! | layer choice and the active speaker (plain functions) | [`choice`] |
//! | the actor around an engine, and the UDP port shared by all rooms | [`media`] |

pub mod choice;
pub mod demux;
pub mod engine;
pub mod media;

#[cfg(test)]
mod tests;
