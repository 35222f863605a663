//! Join tokens as the web app sees them. A login system links people to
//! `/room/<name>?token=<JWT>`; the token goes into every `join` (reconnects included) and the
//! server verifies it and takes the display name and role from it.
//!
//! The web app only *peeks* at the payload, never trusting it: to prefill the join form with the
//! name the others will see, and to know before asking for a camera that a viewer will only
//! watch (a viewer's browser must never call `getUserMedia`). The server's `welcome` has the
//! final word on the role.

pub use treff_shared::JoinClaims as Claims;

/// Reads the payload of a JWT (`header.payload.signature`) without checking the signature.
/// `None` when it is not a readable token; the server will say why when it refuses it.
pub fn peek(token: &str) -> Option<Claims> {
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    let json = base64url_decode(payload)?;
    serde_json::from_slice(&json).ok()
}

/// Decodes unpadded (or padded) base64url, the encoding of JWT parts.
fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for byte in text.bytes() {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    // A single leftover character cannot encode a byte.
    (bits < 6).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use treff_shared::Role;

    #[test]
    fn base64url_decodes_every_tail_length() {
        assert_eq!(base64url_decode("").unwrap(), b"");
        assert_eq!(base64url_decode("YQ").unwrap(), b"a");
        assert_eq!(base64url_decode("YWI").unwrap(), b"ab");
        assert_eq!(base64url_decode("YWJj").unwrap(), b"abc");
        assert_eq!(base64url_decode("YWJjZA==").unwrap(), b"abcd");
        assert_eq!(base64url_decode("_-8").unwrap(), [0xff, 0xef]);
        assert_eq!(base64url_decode("Y"), None);
        assert_eq!(
            base64url_decode("a+b/"),
            None,
            "standard base64 is not base64url"
        );
    }

    #[test]
    fn claims_of_a_minted_token_are_read() {
        // A token as `treff token --room r --name Vera --role viewer` prints it (HS256).
        let token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.\
                     eyJyb29tIjoiciIsIm5hbWUiOiJWZXJhIiwicm9sZSI6InZpZXdlciIsImV4cCI6NDEwMjQ0NDgwMH0.\
                     c2lnbmF0dXJl";
        let claims = peek(token).expect("readable token");
        assert_eq!(claims.specific_room(), Some("r"));
        assert_eq!(claims.name, "Vera");
        assert_eq!(claims.role, Role::Viewer);
    }

    #[test]
    fn unreadable_tokens_and_any_room_give_nothing_to_prefill() {
        assert_eq!(peek("not a token"), None);
        assert_eq!(peek("a.!!!.c"), None);
        // {"room":"*"}: not a whole set of claims, so nothing is trusted from it.
        assert_eq!(peek("e30.eyJyb29tIjoiKiJ9.c2ln"), None);
        // {"room":"*","name":"Vera","role":"participant","exp":4102444800}
        let claims = peek("e30.eyJyb29tIjoiKiIsIm5hbWUiOiJWZXJhIiwicm9sZSI6InBhcnRpY2lwYW50IiwiZXhwIjo0MTAyNDQ0ODAwfQ.c2ln").expect("readable token");
        assert_eq!(claims.specific_room(), None);
        assert_eq!(claims.role, Role::Participant);
    }
}
