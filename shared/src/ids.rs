//! Validated names and ids: a value of these types is always acceptable on the wire.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a room name, display name or peer id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidId {
    /// The room name is empty, too long or contains a character other than letters, digits,
    /// `-`, `_` and `.`.
    #[error(
        "A room name must be 1 to {max} letters, digits, '-', '_' or '.' (no spaces or slashes).",
        max = RoomName::MAX_CHARS
    )]
    Room,
    /// The display name is empty after trimming, too long, or contains control characters.
    #[error(
        "A display name must be 1 to {max} characters without control characters.",
        max = DisplayName::MAX_CHARS
    )]
    Name,
    /// The peer id is not one the server could have assigned.
    #[error("A peer id is 1 to 32 letters, digits, '-' or '_'.")]
    Peer,
}

/// A room's name: what appears in `/room/<name>`. Stored in lower case so that "Team" and
/// "team" are the same room.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoomName(String);

impl RoomName {
    /// Longest room name, in characters.
    pub const MAX_CHARS: usize = crate::limits::MAX_ROOM_CHARS;

    /// Validates and normalises (trims, lower-cases) a room name.
    pub fn new(raw: &str) -> Result<RoomName, InvalidId> {
        let name = raw.trim().to_lowercase();
        let count = name.chars().count();
        let ok_char = |c: char| c.is_alphanumeric() || matches!(c, '-' | '_' | '.');
        if count == 0
            || count > Self::MAX_CHARS
            || !name.chars().all(ok_char)
            || name == "."
            || name == ".."
        {
            return Err(InvalidId::Room);
        }
        Ok(RoomName(name))
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How a participant is shown to the others.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DisplayName(String);

impl DisplayName {
    /// Longest display name, in characters.
    pub const MAX_CHARS: usize = crate::limits::MAX_NAME_CHARS;

    /// Validates and trims a display name.
    pub fn new(raw: &str) -> Result<DisplayName, InvalidId> {
        let name = raw.trim();
        let count = name.chars().count();
        if count == 0 || count > Self::MAX_CHARS || name.chars().any(char::is_control) {
            return Err(InvalidId::Name);
        }
        Ok(DisplayName(name.to_owned()))
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A member's id, assigned by the server.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PeerId(String);

impl PeerId {
    /// Validates a peer id.
    pub fn new(raw: &str) -> Result<PeerId, InvalidId> {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_');
        if raw.is_empty() || raw.len() > 32 || !raw.chars().all(ok_char) {
            return Err(InvalidId::Peer);
        }
        Ok(PeerId(raw.to_owned()))
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_newtype {
    ($t:ty) => {
        impl TryFrom<String> for $t {
            type Error = InvalidId;
            fn try_from(s: String) -> Result<Self, InvalidId> {
                <$t>::new(&s)
            }
        }
        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.0
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_newtype!(RoomName);
string_newtype!(DisplayName);
string_newtype!(PeerId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names_are_normalised_and_bounded() {
        assert_eq!(RoomName::new("  Team-1 ").unwrap().as_str(), "team-1");
        assert_eq!(RoomName::new("Küche").unwrap().as_str(), "küche");
        assert!(RoomName::new("").is_err());
        assert!(RoomName::new("a/b").is_err());
        assert!(RoomName::new("a b").is_err());
        assert!(RoomName::new("..").is_err());
        assert!(RoomName::new(&"x".repeat(64)).is_ok());
        assert!(RoomName::new(&"x".repeat(65)).is_err());
    }

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::new(" Ada ").unwrap().as_str(), "Ada");
        assert!(DisplayName::new("Zoë 🎉").is_ok());
        assert!(DisplayName::new("\t").is_err());
        assert!(DisplayName::new("a\nb").is_err());
        assert!(DisplayName::new(&"é".repeat(41)).is_err());
    }

    #[test]
    fn peer_ids_reject_odd_characters() {
        assert!(PeerId::new("aB3-_").is_ok());
        assert!(PeerId::new("").is_err());
        assert!(PeerId::new("a b").is_err());
        assert!(PeerId::new(&"a".repeat(33)).is_err());
    }
}
