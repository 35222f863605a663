//! The input limits every part of treff agrees on: the server's defaults, the decoder, the web
//! app's join form and chat field all read them from here.
//!
//! The server may be configured stricter (`--max-name-chars`, `--max-room-chars`,
//! `--max-chat-chars`); it then refuses longer input with an error frame that says its own limit.

/// Longest room name, in characters (`/room/<name>`).
pub const MAX_ROOM_CHARS: usize = 64;

/// Longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 40;

/// Longest chat message, in characters.
pub const MAX_CHAT_CHARS: usize = 2000;

/// Longest room password, in bytes of UTF-8 (what the server hashes), not in characters: a
/// password of 256 'ä' is 512 bytes and too long.
pub const MAX_PASSWORD_BYTES: usize = 256;

/// Why a room password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("A room password has at most {MAX_PASSWORD_BYTES} bytes (fewer characters if it has accents or emoji); this one has {0}.")]
pub struct PasswordTooLong(pub usize);

/// Checks a room password's length in bytes.
pub fn check_password(password: &str) -> Result<(), PasswordTooLong> {
    match password.len() {
        n if n > MAX_PASSWORD_BYTES => Err(PasswordTooLong(n)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_counted_in_bytes() {
        assert!(check_password(&"a".repeat(256)).is_ok());
        assert!(check_password(&"a".repeat(257)).is_err());
        assert_eq!(check_password(&"ä".repeat(129)), Err(PasswordTooLong(258)));
        assert!(check_password(&"ä".repeat(128)).is_ok());
    }
}
