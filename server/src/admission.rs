//! The join policy: which join frames are passed on to a room at all, and with which name and
//! role. Plain data in, a decision out; no actix, unit-tested here.
//!
//! The checks run in this order, and the first that fails is the answer:
//! 1. on a server with tokens, a token (in the frame or the upgrade URL) is required and must
//!    verify for the room; it then decides the display name and the role;
//! 2. the room password fits [`limits::check_password`] (bytes, not characters);
//! 3. the room name and 4. the display name fit the server's configured lengths.
//!
//! What depends on the room's state (capacity, lock, password, resume) is decided by the room
//! itself ([`crate::room`]).

use std::sync::Arc;

use treff_shared::limits::{self, PasswordTooLong};
use treff_shared::{DisplayName, ErrorCode, MediaState, Role, RoomName};

use crate::auth::{TokenError, TokenVerifier};

/// The server's rules for letting a join frame through to its room.
#[derive(Debug, Clone)]
pub struct JoinPolicy {
    /// Longest display name, in characters (may be stricter than the protocol's limit).
    pub max_name_chars: usize,
    /// Longest room name, in characters (may be stricter than the protocol's limit).
    pub max_room_chars: usize,
    /// When set, every join needs a token this verifier accepts, and the token, not the frame,
    /// names the member and gives its role.
    pub tokens: Option<Arc<TokenVerifier>>,
}

/// The fields of a decoded `join` frame.
#[derive(Debug, Clone)]
pub struct JoinFields {
    /// The room to join.
    pub room: RoomName,
    /// The display name the client asks for.
    pub name: DisplayName,
    /// Token from an earlier welcome, when reconnecting.
    pub resume_token: Option<String>,
    /// Initial media state.
    pub media: MediaState,
    /// Room password, if the client gave one.
    pub password: Option<String>,
    /// Signed join token, if the client put one in the frame.
    pub token: Option<String>,
}

/// A join the policy lets through, as the room is to see it.
#[derive(Debug, Clone, PartialEq)]
pub struct AdmittedJoin {
    /// The room to join.
    pub room: RoomName,
    /// The display name: the token's on a server with tokens, else the frame's.
    pub name: DisplayName,
    /// The role a verified token grants; `None` lets the room decide.
    pub role: Option<Role>,
    /// Token from an earlier welcome, when reconnecting.
    pub resume_token: Option<String>,
    /// Initial media state.
    pub media: MediaState,
    /// Room password, if the client gave one (checked by the room).
    pub password: Option<String>,
    /// A token lets the joiner past the waiting room.
    pub skip_waiting_room: bool,
}

/// Why a join frame was refused before reaching its room. The message is the sentence the
/// client is shown.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The server needs a token and neither the frame nor the URL carried one.
    #[error(
        "This server admits only with a signed token (from your organisation's login); none was given."
    )]
    TokenRequired,
    /// The token did not verify (forged, expired, for another room, bad name).
    #[error(transparent)]
    InvalidToken(#[from] TokenError),
    /// The room password has more bytes than any room accepts.
    #[error(transparent)]
    PasswordTooLong(#[from] PasswordTooLong),
    /// The room name is longer than this server allows; the limit in characters.
    #[error("A room name on this server has at most {0} characters.")]
    RoomTooLong(usize),
    /// The display name is longer than this server allows; the limit in characters.
    #[error("A display name on this server has at most {0} characters.")]
    NameTooLong(usize),
}

impl Refusal {
    /// The protocol error code for this refusal.
    pub fn code(&self) -> ErrorCode {
        match self {
            Refusal::TokenRequired => ErrorCode::TokenRequired,
            Refusal::InvalidToken(_) => ErrorCode::InvalidToken,
            Refusal::PasswordTooLong(_) => ErrorCode::InvalidFrame,
            Refusal::RoomTooLong(_) => ErrorCode::InvalidRoom,
            Refusal::NameTooLong(_) => ErrorCode::InvalidName,
        }
    }
}

impl JoinPolicy {
    /// Decides a join frame. `query_token` is a token from the upgrade URL (`/ws?token=...`),
    /// for clients that cannot put it in the frame; one in the frame wins.
    pub fn admit(
        &self,
        join: JoinFields,
        query_token: Option<&str>,
    ) -> Result<AdmittedJoin, Refusal> {
        let token = join.token.or_else(|| query_token.map(str::to_owned));
        let (name, role, skip_waiting_room) = match (&self.tokens, token) {
            (None, _) => (join.name, None, false),
            (Some(_), None) => return Err(Refusal::TokenRequired),
            (Some(tokens), Some(token)) => {
                let grant = tokens.grant(&token, &join.room)?;
                (grant.name, Some(grant.role), grant.skip_waiting_room)
            }
        };
        if let Some(password) = &join.password {
            limits::check_password(password)?;
        }
        if join.room.as_str().chars().count() > self.max_room_chars {
            return Err(Refusal::RoomTooLong(self.max_room_chars));
        }
        if name.as_str().chars().count() > self.max_name_chars {
            return Err(Refusal::NameTooLong(self.max_name_chars));
        }
        Ok(AdmittedJoin {
            room: join.room,
            name,
            role,
            resume_token: join.resume_token,
            media: join.media,
            password: join.password,
            skip_waiting_room,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::auth::mint_token;

    const SECRET: &str = "policy-secret";

    fn open_policy() -> JoinPolicy {
        JoinPolicy {
            max_name_chars: 10,
            max_room_chars: 8,
            tokens: None,
        }
    }

    fn token_policy() -> JoinPolicy {
        JoinPolicy {
            tokens: Some(Arc::new(TokenVerifier::hs256(
                SECRET,
                Duration::from_secs(5),
            ))),
            ..open_policy()
        }
    }

    fn fields(room: &str, name: &str) -> JoinFields {
        JoinFields {
            // unwrap: the tests use valid names.
            room: RoomName::new(room).unwrap(),
            name: DisplayName::new(name).unwrap(),
            resume_token: None,
            media: MediaState::default(),
            password: None,
            token: None,
        }
    }

    fn token(room: &str, name: &str, role: Role) -> String {
        mint_token(SECRET, room, name, role, Duration::from_secs(60))
    }

    /// The refusal's code and sentence, as the client sees them.
    fn refused(result: Result<AdmittedJoin, Refusal>) -> (ErrorCode, String) {
        let refusal = result.expect_err("refused");
        (refusal.code(), refusal.to_string())
    }

    #[test]
    fn an_open_server_passes_the_frame_through() {
        let mut join = fields("team", "Ada");
        join.password = Some("north star".into());
        join.resume_token = Some("abc".into());
        let admitted = open_policy().admit(join, None).unwrap();
        assert_eq!(admitted.name.as_str(), "Ada");
        assert_eq!(admitted.role, None, "the room decides");
        assert_eq!(admitted.password.as_deref(), Some("north star"));
        assert_eq!(admitted.resume_token.as_deref(), Some("abc"));
    }

    #[test]
    fn a_token_server_requires_a_token() {
        assert_eq!(
            refused(token_policy().admit(fields("team", "Ada"), None)),
            (
                ErrorCode::TokenRequired,
                "This server admits only with a signed token (from your organisation's login); \
                 none was given."
                    .into()
            )
        );
    }

    #[test]
    fn an_invalid_token_is_refused() {
        let mut join = fields("team", "Eve");
        join.token = Some(mint_token(
            "guess",
            "team",
            "Eve",
            Role::Moderator,
            Duration::from_secs(60),
        ));
        let (code, message) = refused(token_policy().admit(join, None));
        assert_eq!(code, ErrorCode::InvalidToken);
        assert!(message.starts_with("The token is not valid"), "{message}");

        let mut join = fields("team", "Eve");
        join.token = Some(token("other", "Eve", Role::Moderator));
        assert_eq!(
            refused(token_policy().admit(join, None)),
            (
                ErrorCode::InvalidToken,
                "The token is for room \"other\", not this one.".into()
            )
        );
    }

    #[test]
    fn the_token_overrides_the_name_and_assigns_the_role() {
        let mut join = fields("team", "Mallory");
        join.token = Some(token("team", "Ada", Role::Viewer));
        let admitted = token_policy().admit(join, None).unwrap();
        assert_eq!(admitted.name.as_str(), "Ada");
        assert_eq!(admitted.role, Some(Role::Viewer));

        // From the URL when the frame has none; the frame's wins when both are given.
        let url = token("team", "Bob", Role::Moderator);
        let admitted = token_policy()
            .admit(fields("team", "x"), Some(&url))
            .unwrap();
        assert_eq!(
            (admitted.name.as_str(), admitted.role),
            ("Bob", Some(Role::Moderator))
        );
        let mut join = fields("team", "x");
        join.token = Some(token("team", "Cy", Role::Participant));
        let admitted = token_policy().admit(join, Some(&url)).unwrap();
        assert_eq!(admitted.name.as_str(), "Cy");
    }

    #[test]
    fn a_password_is_measured_in_bytes() {
        let mut join = fields("team", "Ada");
        join.password = Some("ä".repeat(limits::MAX_PASSWORD_BYTES / 2));
        assert!(open_policy().admit(join.clone(), None).is_ok());
        join.password = Some("ä".repeat(limits::MAX_PASSWORD_BYTES / 2 + 1));
        let bytes = 2 * (limits::MAX_PASSWORD_BYTES / 2 + 1);
        assert_eq!(
            refused(open_policy().admit(join, None)),
            (ErrorCode::InvalidFrame, PasswordTooLong(bytes).to_string())
        );
    }

    #[test]
    fn room_and_display_names_fit_the_configured_lengths() {
        assert!(open_policy().admit(fields("eightchr", "Ada"), None).is_ok());
        assert_eq!(
            refused(open_policy().admit(fields("ninechars", "Ada"), None)),
            (
                ErrorCode::InvalidRoom,
                "A room name on this server has at most 8 characters.".into()
            )
        );
        // Characters, not bytes.
        assert!(open_policy()
            .admit(fields("team", "ÄäÄäÄäÄäÄä"), None)
            .is_ok());
        assert_eq!(
            refused(open_policy().admit(fields("team", "Elevenchars"), None)),
            (
                ErrorCode::InvalidName,
                "A display name on this server has at most 10 characters.".into()
            )
        );
    }

    #[test]
    fn a_name_from_a_token_must_fit_too() {
        let mut join = fields("team", "Ada");
        join.token = Some(token("team", "Bartholomew", Role::Participant));
        assert_eq!(
            refused(token_policy().admit(join, None)).0,
            ErrorCode::InvalidName
        );
    }
}
