//! The claims of a join token (a JWT): what a login system puts into an invitation link. The
//! server verifies the signature and takes the name and role from it; the web app only peeks at
//! them to prefill the join form and to know that a viewer must not ask for a camera.

use serde::{Deserialize, Serialize};

use crate::Role;

/// The payload of a join token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinClaims {
    /// The room this token admits to, or `*` for any room.
    pub room: String,
    /// The display name the member gets (the join frame's name is ignored).
    pub name: String,
    /// The member's role.
    pub role: Role,
    /// Expiry, Unix seconds.
    pub exp: u64,
    /// Issued at, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Not before, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// The holder enters at once even while the room has its waiting room on (moderators
    /// always do).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_waiting_room: bool,
}

impl JoinClaims {
    /// The room this token names, unless it admits to any room (`*`).
    pub fn specific_room(&self) -> Option<&str> {
        Some(self.room.as_str()).filter(|room| *room != "*")
    }
}
