//! Editors' passwords, hashed with Argon2id (PHC strings in the database), and random tokens.

use argon2::{
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use base64::Engine as _;
use rand::RngCore as _;

/// Hashing failed; only a broken stored hash or parameters cause it.
#[derive(Debug, thiserror::Error)]
#[error("password hash: {0}")]
pub struct PasswordError(argon2::password_hash::Error);

/// A PHC string for `password` with a fresh random salt.
///
/// ```
/// let stored = newsroom::password::hash("newsroom")?;
/// assert!(newsroom::password::verify("newsroom", &stored));
/// assert!(!newsroom::password::verify("newsroon", &stored));
/// # Ok::<(), newsroom::password::PasswordError>(())
/// ```
pub fn hash(password: &str) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(PasswordError)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(PasswordError)
}

/// Whether `password` matches `stored`; a stored value that is not a PHC string never matches.
///
/// ```
/// assert!(!newsroom::password::verify("newsroom", "not a hash"));
/// ```
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A random, URL-safe token of 32 bytes: session ids, CSRF tokens, app secrets.
///
/// ```
/// let a = newsroom::password::token();
/// assert_eq!(a.len(), 43);
/// assert_ne!(a, newsroom::password::token());
/// ```
pub fn token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
