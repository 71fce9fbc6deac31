//! End-to-end encryption of `private-encrypted-` channels (PROTOCOL.md §2.8).
//!
//! The app's master key never leaves the app. Each channel's key is derived from it by the
//! protocol crate; pusher-js receives that key in the channel authorization and decrypts with
//! NaCl secretbox, so the Pusher server only ever relays ciphertext.

use std::fmt;

use base64::{engine::general_purpose::STANDARD, Engine as _};
use crypto_secretbox::{
    aead::{Aead, AeadCore, KeyInit, OsRng},
    Key, XSalsa20Poly1305,
};
use pusherable_protocol::sign::encrypted_shared_secret;
use serde::Serialize;

use crate::error::InvalidInput;

/// The app's 32-byte encryption master key.
#[derive(Clone)]
pub(crate) struct MasterKey([u8; 32]);

/// The REST `data` of an encrypted event, in the member order pusher-js and the official
/// libraries use.
#[derive(Serialize)]
struct Sealed {
    nonce: String,
    ciphertext: String,
}

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
        encrypted_shared_secret(channel, &self.0)
    }

    /// Encrypts `plaintext` for `channel` under a fresh random nonce, giving the REST `data`
    /// string `{"nonce":"<b64>","ciphertext":"<b64>"}`.
    pub(crate) fn seal(&self, channel: &str, plaintext: &str) -> String {
        let cipher = XSalsa20Poly1305::new(&self.channel_key(channel));
        let nonce = XSalsa20Poly1305::generate_nonce(&mut OsRng);
        // Encryption into a Vec fails only when the buffer cannot grow, which aborts anyway.
        let ciphertext = cipher
            .encrypt(&nonce, plaintext.as_bytes())
            .unwrap_or_else(|_| unreachable!("secretbox encryption into a Vec cannot fail"));
        let sealed = Sealed {
            nonce: STANDARD.encode(nonce),
            ciphertext: STANDARD.encode(ciphertext),
        };
        // Two strings always serialize.
        serde_json::to_string(&sealed).unwrap_or_default()
    }

    fn channel_key(&self, channel: &str) -> Key {
        let secret = self.shared_secret(channel);
        let mut key = Key::default();
        // The protocol crate encodes exactly 32 bytes, so this decodes into the 32-byte key.
        let written = STANDARD
            .decode_slice(secret.as_bytes(), key.as_mut_slice())
            .unwrap_or(0);
        debug_assert_eq!(written, 32);
        key
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use crypto_secretbox::Nonce;
    use serde_json::Value;

    use super::*;

    const MASTER: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";

    fn open(key: &MasterKey, channel: &str, data: &str) -> Option<String> {
        let v: Value = serde_json::from_str(data).ok()?;
        let nonce = STANDARD.decode(v["nonce"].as_str()?).ok()?;
        let ciphertext = STANDARD.decode(v["ciphertext"].as_str()?).ok()?;
        let cipher = XSalsa20Poly1305::new(&key.channel_key(channel));
        let plain = cipher
            .decrypt(Nonce::from_slice(&nonce), ciphertext.as_slice())
            .ok()?;
        String::from_utf8(plain).ok()
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

    /// NaCl's layout: the 16-byte tag comes first, then the encrypted bytes. Checked against
    /// tweetnacl's `nacl.secretbox` for the same key, nonce and message.
    #[test]
    fn ciphertext_layout_matches_tweetnacl() {
        let key = MasterKey::from_base64(MASTER).unwrap();
        let cipher = XSalsa20Poly1305::new(&key.channel_key("private-encrypted-secret"));
        let nonce = Nonce::from_slice(&[9u8; 24]);
        let ciphertext = cipher.encrypt(nonce, b"hello".as_slice()).unwrap();
        assert_eq!(STANDARD.encode(ciphertext), TWEETNACL_HELLO);
    }

    /// `nacl.secretbox(utf8("hello"), 24 bytes of 9, base64-decoded shared secret of
    /// private-encrypted-secret)` from tweetnacl 1.0.3, base64-encoded.
    const TWEETNACL_HELLO: &str = "fCSD79l4lx4NXq7ArwBVh1g6TEud";
}
