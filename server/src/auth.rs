//! Who may join: room passwords (argon2), the per-address limit on wrong guesses, and signed
//! tokens (JWT) for integration with an existing login.
//!
//! Passwords are kept only as argon2id PHC strings and checked with argon2's own verification,
//! which compares in constant time. Hashing and checking are slow on purpose, so callers run
//! them on the blocking thread pool, never on an actor's thread.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use treff_shared::{DisplayName, JoinClaims as Claims, Role, RoomName};

use crate::limits::TokenBucket;

/// The PHC string (argon2id, random salt) of `password`.
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    // unwrap: hashing with default parameters and a fresh salt cannot fail.
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .unwrap()
        .to_string()
}

/// True when `password` matches the PHC string `hash` (constant-time comparison).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Wrong password guesses allowed per client address: a burst, then a slow refill.
#[derive(Debug)]
pub struct GuessLimiter {
    rate: f32,
    burst: f32,
    buckets: Mutex<HashMap<IpAddr, TokenBucket>>,
}

impl GuessLimiter {
    /// `burst` guesses at once, then `per_minute` a minute.
    pub fn new(per_minute: f32, burst: f32) -> GuessLimiter {
        GuessLimiter {
            rate: per_minute / 60.0,
            burst,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// True when `ip` may try a password now (it has wrong guesses left).
    pub fn may_guess(&self, ip: IpAddr, now: Instant) -> bool {
        // unwrap: nothing in this lock can panic.
        let buckets = self.buckets.lock().unwrap();
        buckets.get(&ip).is_none_or(|b| b.has_token(now))
    }

    /// Counts a wrong guess from `ip`. Right passwords cost nothing, so a school joining from
    /// one address is not slowed down by its own members.
    pub fn wrong_guess(&self, ip: IpAddr, now: Instant) {
        // unwrap: nothing in this lock can panic.
        let mut buckets = self.buckets.lock().unwrap();
        if buckets.len() > 10_000 {
            // Bound the memory: forget addresses that guessed long ago.
            buckets.retain(|_, b| !b.is_full(now));
        }
        buckets
            .entry(ip)
            .or_insert_with(|| TokenBucket::new(self.rate, self.burst, now))
            .try_take(now);
    }
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Bad signature, malformed, expired or not yet valid.
    #[error("The token is not valid: {0}.")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    /// Valid, but for another room.
    #[error("The token is for room {0:?}, not this one.")]
    WrongRoom(String),
    /// Valid, but its name is not an acceptable display name.
    #[error("The token's name is not a valid display name.")]
    BadName,
}

/// Why the token configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TokenKeyError {
    /// The public key file could not be read.
    #[error("cannot read the token public key {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is neither an RSA nor an EC public key in PEM.
    #[error("the token public key {0} is not an RSA or EC public key in PEM form")]
    Pem(String),
}

/// Verifies join tokens.
pub struct TokenVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("algorithms", &self.validation.algorithms)
            .finish_non_exhaustive()
    }
}

impl TokenVerifier {
    /// Tokens signed with HS256 and `secret`.
    pub fn hs256(secret: &str, leeway: Duration) -> TokenVerifier {
        Self::with(
            DecodingKey::from_secret(secret.as_bytes()),
            Algorithm::HS256,
            leeway,
        )
    }

    /// Tokens signed with the private half of the RSA (RS256) or EC P-256 (ES256) public key
    /// in the PEM file `path`.
    pub fn public_key(path: &Path, leeway: Duration) -> Result<TokenVerifier, TokenKeyError> {
        let pem = std::fs::read(path).map_err(|source| TokenKeyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        if let Ok(key) = DecodingKey::from_rsa_pem(&pem) {
            return Ok(Self::with(key, Algorithm::RS256, leeway));
        }
        if let Ok(key) = DecodingKey::from_ec_pem(&pem) {
            return Ok(Self::with(key, Algorithm::ES256, leeway));
        }
        Err(TokenKeyError::Pem(path.display().to_string()))
    }

    fn with(key: DecodingKey, algorithm: Algorithm, leeway: Duration) -> TokenVerifier {
        let mut validation = Validation::new(algorithm);
        validation.leeway = leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp"]);
        TokenVerifier { key, validation }
    }

    /// The display name and role `token` grants in `room`.
    pub fn verify(&self, token: &str, room: &RoomName) -> Result<(DisplayName, Role), TokenError> {
        self.grant(token, room)
            .map(|grant| (grant.name, grant.role))
    }

    /// Everything `token` grants in `room`.
    pub fn grant(&self, token: &str, room: &RoomName) -> Result<Grant, TokenError> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)?.claims;
        let for_room =
            claims.room == "*" || RoomName::new(&claims.room).is_ok_and(|claimed| &claimed == room);
        if !for_room {
            return Err(TokenError::WrongRoom(claims.room));
        }
        let name = DisplayName::new(&claims.name).map_err(|_| TokenError::BadName)?;
        Ok(Grant {
            name,
            role: claims.role,
            skip_waiting_room: claims.skip_waiting_room,
        })
    }
}

/// What a verified token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The holder's display name.
    pub name: DisplayName,
    /// The holder's role.
    pub role: Role,
    /// The holder enters past the waiting room.
    pub skip_waiting_room: bool,
}

/// Mints an HS256 token for `room`, `name` and `role`, valid for `ttl` (the `treff token`
/// command).
pub fn mint_token(secret: &str, room: &str, name: &str, role: Role, ttl: Duration) -> String {
    mint_token_with(secret, room, name, role, ttl, false)
}

/// [`mint_token`], with the right to skip the waiting room if `skip_waiting_room`.
pub fn mint_token_with(
    secret: &str,
    room: &str,
    name: &str,
    role: Role,
    ttl: Duration,
    skip_waiting_room: bool,
) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let claims = Claims {
        room: room.to_owned(),
        name: name.to_owned(),
        role,
        exp: now + ttl.as_secs(),
        iat: Some(now),
        nbf: None,
        skip_waiting_room,
    };
    // unwrap: HS256 signing of a serializable struct cannot fail.
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_and_hashes_are_salted() {
        let hash = hash_password("north star");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("north star", &hash));
        assert!(!verify_password("north sta", &hash));
        assert_ne!(hash, hash_password("north star"), "a fresh salt each time");
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn guesses_are_limited_per_address() {
        let limiter = GuessLimiter::new(6.0, 3.0);
        let t0 = Instant::now();
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "::1".parse().unwrap();
        for _ in 0..3 {
            assert!(limiter.may_guess(a, t0));
            limiter.wrong_guess(a, t0);
        }
        assert!(!limiter.may_guess(a, t0));
        assert!(limiter.may_guess(b, t0), "another address is not affected");
        assert!(limiter.may_guess(a, t0 + Duration::from_secs(10)));
    }

    #[test]
    fn tokens_round_trip_and_are_checked() {
        let verifier = TokenVerifier::hs256("s3cret", Duration::from_secs(5));
        let room = RoomName::new("team").unwrap();
        let token = mint_token(
            "s3cret",
            "Team",
            "Ada",
            Role::Moderator,
            Duration::from_secs(60),
        );
        let (name, role) = verifier.verify(&token, &room).unwrap();
        assert_eq!((name.as_str(), role), ("Ada", Role::Moderator));

        let other = RoomName::new("other").unwrap();
        assert!(matches!(
            verifier.verify(&token, &other),
            Err(TokenError::WrongRoom(_))
        ));
        let forged = mint_token(
            "guess",
            "team",
            "Ada",
            Role::Moderator,
            Duration::from_secs(60),
        );
        assert!(matches!(
            verifier.verify(&forged, &room),
            Err(TokenError::Invalid(_))
        ));
        let any = mint_token("s3cret", "*", "Bob", Role::Viewer, Duration::from_secs(60));
        assert_eq!(verifier.verify(&any, &other).unwrap().1, Role::Viewer);
    }

    #[test]
    fn expiry_has_a_few_seconds_of_leeway_and_no_more() {
        let verifier = TokenVerifier::hs256("s3cret", Duration::from_secs(5));
        let room = RoomName::new("team").unwrap();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let token_expired_at = |exp: u64| {
            let claims = Claims {
                room: "team".into(),
                name: "Ada".into(),
                role: Role::Participant,
                exp,
                iat: None,
                nbf: None,
                skip_waiting_room: false,
            };
            jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &claims,
                &EncodingKey::from_secret(b"s3cret"),
            )
            .unwrap()
        };
        assert!(
            verifier.verify(&token_expired_at(now - 2), &room).is_ok(),
            "within leeway"
        );
        assert!(verifier.verify(&token_expired_at(now - 30), &room).is_err());
    }
}
