//! End-to-end encryption of `private-encrypted-` channels (PROTOCOL.md §2.8).
//!
//! The app's master key never leaves the app. Each channel's key is derived from it, and events
//! are sealed, by the protocol crate; pusher-js receives that key in the channel authorization
//! and decrypts with NaCl secretbox, so the Pusher server only ever relays ciphertext. What this
//! module adds is the one thing the protocol crate leaves to its caller: a fresh random nonce
//! for every event.

use std::fmt;

use base64::{engine::general_purpose::STANDARD, Engine as _};
use crypto_secretbox::{
    aead::{AeadCore, OsRng},
    XSalsa20Poly1305,
};
use pusherable_protocol::encryption::ChannelKey;

use crate::error::InvalidInput;

/// The app's 32-byte encryption master key.
#[derive(Clone)]
pub(crate) struct MasterKey([u8; 32]);

impl MasterKey {
    pub(crate) fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub(crate) fn from_base64(text: &str) -> Result<Self, InvalidInput> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| InvalidInput::EncryptionKey)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| InvalidInput::EncryptionKey)?;
        Ok(Self(bytes))
    }

    /// The channel's key as base64: what an authorization hands to pusher-js as `shared_secret`.
    pub(crate) fn shared_secret(&self, channel: &str) -> String {
        self.channel_key(channel).shared_secret()
    }

    /// Encrypts `plaintext` for `channel` under a fresh random nonce, giving the REST `data`
    /// string `{"nonce":"<b64>","ciphertext":"<b64>"}`.
    pub(crate) fn seal(&self, channel: &str, plaintext: &str) -> String {
        let nonce = XSalsa20Poly1305::generate_nonce(&mut OsRng);
        self.channel_key(channel).seal(&nonce.into(), plaintext)
    }

    fn channel_key(&self, channel: &str) -> ChannelKey {
        ChannelKey::derive(channel, &self.0)
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASTER: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";

    fn open(key: &MasterKey, channel: &str, data: &str) -> Option<String> {
        key.channel_key(channel).open(data).ok()
    }

    #[test]
    fn master_key_must_be_32_bytes_of_base64() {
        assert!(MasterKey::from_base64(MASTER).is_ok());
        assert!(MasterKey::from_base64("not base64!").is_err());
        assert!(MasterKey::from_base64(&STANDARD.encode([1u8; 31])).is_err());
        assert!(MasterKey::from_base64(&STANDARD.encode([1u8; 33])).is_err());
    }

    #[test]
    fn shared_secret_matches_the_vector() {
        let key = MasterKey::from_base64(MASTER).unwrap();
        assert_eq!(
            key.shared_secret("private-encrypted-secret"),
            "UAtCvJamCEHHG1IgBLMYROcAFJ7gVBOQ00E/rIDypBQ="
        );
    }

    #[test]
    fn sealed_data_opens_with_the_channel_key_only() {
        let key = MasterKey::from_base64(MASTER).unwrap();
        let data = key.seal("private-encrypted-a", r#"{"hello":"world"}"#);
        assert!(data.starts_with(r#"{"nonce":""#), "{data}");
        assert_eq!(
            open(&key, "private-encrypted-a", &data).as_deref(),
            Some(r#"{"hello":"world"}"#)
        );
        assert_eq!(open(&key, "private-encrypted-b", &data), None);
        // A fresh nonce each time.
        assert_ne!(
            data,
            key.seal("private-encrypted-a", r#"{"hello":"world"}"#)
        );
    }
}
