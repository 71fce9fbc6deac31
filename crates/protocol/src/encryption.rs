//! End-to-end encryption of `private-encrypted-` channels (PROTOCOL.md §2.8).
//!
//! An event's data travels as the envelope `{"nonce":"<base64>","ciphertext":"<base64>"}`:
//! NaCl secretbox (XSalsa20-Poly1305) under the channel's key and a 24-byte nonce, so that
//! pusher-js (with tweetnacl) and the official server libraries open what pusherable seals, and
//! the other way round. The Pusher server only relays the envelope; it never holds a key.
//!
//! The channel's key is derived from the app's master key ([`ChannelKey::derive`], which only
//! app servers can do) or read from the `shared_secret` that the channel authorization hands to
//! a subscriber ([`ChannelKey::from_shared_secret`]).
//!
//! Sealing takes its nonce from the caller: this crate draws no randomness, and a caller must
//! never use one nonce twice with the same key.

use std::fmt;

use base64::{engine::general_purpose::STANDARD, Engine as _};
use crypto_secretbox::{
    aead::{Aead, KeyInit},
    Key, Nonce, XSalsa20Poly1305,
};
use serde::{Deserialize, Serialize};

use crate::sign;

/// Length of a secretbox nonce, in bytes.
pub const NONCE_LEN: usize = 24;

/// The data of an event on an encrypted channel, with both members in base64, in the member
/// order pusher-js and the official libraries use.
///
/// ```
/// use pusherable_protocol::encryption::Envelope;
/// let e: Envelope = serde_json::from_str(r#"{"nonce":"AQ==","ciphertext":"Ag=="}"#)?;
/// assert_eq!(e.nonce, "AQ==");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The 24-byte nonce, base64.
    pub nonce: String,
    /// The secretbox output (the 16-byte tag, then the encrypted bytes), base64.
    pub ciphertext: String,
}

/// The 32-byte secretbox key of one encrypted channel.
///
/// ```
/// use pusherable_protocol::encryption::ChannelKey;
/// let key = ChannelKey::derive("private-encrypted-secret", &[7; 32]);
/// assert_eq!(key.shared_secret(), "UAtCvJamCEHHG1IgBLMYROcAFJ7gVBOQ00E/rIDypBQ=");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ChannelKey([u8; 32]);

/// Why a channel key could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a channel key must be the base64 of exactly 32 bytes")]
pub struct KeyError;

/// Why an envelope did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// The data is not a `{"nonce","ciphertext"}` object.
    #[error("data is not {{\"nonce\",\"ciphertext\"}}")]
    NotAnEnvelope,
    /// The nonce is not the base64 of 24 bytes.
    #[error("the nonce is not base64 of 24 bytes")]
    Nonce,
    /// The ciphertext is not base64.
    #[error("the ciphertext is not base64")]
    Ciphertext,
    /// The key is not the one it was sealed with, or the envelope was altered.
    #[error("wrong key, or the data was altered")]
    Forged,
    /// The plaintext is not UTF-8 text.
    #[error("the plaintext is not UTF-8")]
    NotText,
}

impl ChannelKey {
    /// The key of `channel` for the app whose master key is `master_key`:
    /// `SHA256(channel ‖ master_key)`, as the official server libraries derive it.
    pub fn derive(channel: &str, master_key: &[u8; 32]) -> Self {
        Self(sign::encrypted_channel_key(channel, master_key))
    }

    /// Reads the `shared_secret` of a channel authorization (base64 of 32 bytes).
    ///
    /// ```
    /// use pusherable_protocol::encryption::ChannelKey;
    /// let key = ChannelKey::derive("private-encrypted-a", &[1; 32]);
    /// assert_eq!(ChannelKey::from_shared_secret(&key.shared_secret()), Ok(key));
    /// assert!(ChannelKey::from_shared_secret("c2hvcnQ=").is_err());
    /// ```
    pub fn from_shared_secret(shared_secret: &str) -> Result<Self, KeyError> {
        let bytes = STANDARD.decode(shared_secret).map_err(|_| KeyError)?;
        bytes.try_into().map(Self).map_err(|_| KeyError)
    }

    /// The key as base64: the `shared_secret` an authorization hands to pusher-js.
    pub fn shared_secret(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Seals `plaintext` under `nonce`, giving the envelope's JSON text: the `data` of the
    /// event to trigger.
    ///
    /// ```
    /// use pusherable_protocol::encryption::ChannelKey;
    /// let key = ChannelKey::derive("private-encrypted-a", &[1; 32]);
    /// let data = key.seal(&[9; 24], r#"{"hello":"world"}"#);
    /// assert!(data.starts_with(r#"{"nonce":""#));
    /// assert_eq!(key.open(&data).as_deref(), Ok(r#"{"hello":"world"}"#));
    /// ```
    pub fn seal(&self, nonce: &[u8; NONCE_LEN], plaintext: &str) -> String {
        // Encryption into a Vec fails only when the buffer cannot grow, which aborts anyway.
        let ciphertext = self
            .cipher()
            .encrypt(Nonce::from_slice(nonce), plaintext.as_bytes())
            .unwrap_or_else(|_| unreachable!("secretbox encryption into a Vec cannot fail"));
        let envelope = Envelope {
            nonce: STANDARD.encode(nonce),
            ciphertext: STANDARD.encode(ciphertext),
        };
        // Two strings always serialize.
        serde_json::to_string(&envelope).unwrap_or_default()
    }

    /// Opens the envelope `data` of an event on this key's channel.
    pub fn open(&self, data: &str) -> Result<String, OpenError> {
        let envelope: Envelope =
            serde_json::from_str(data).map_err(|_| OpenError::NotAnEnvelope)?;
        let nonce = STANDARD
            .decode(envelope.nonce)
            .ok()
            .filter(|n| n.len() == NONCE_LEN)
            .ok_or(OpenError::Nonce)?;
        let ciphertext = STANDARD
            .decode(envelope.ciphertext)
            .map_err(|_| OpenError::Ciphertext)?;
        let plaintext = self
            .cipher()
            .decrypt(Nonce::from_slice(&nonce), ciphertext.as_slice())
            .map_err(|_| OpenError::Forged)?;
        String::from_utf8(plaintext).map_err(|_| OpenError::NotText)
    }

    fn cipher(&self) -> XSalsa20Poly1305 {
        XSalsa20Poly1305::new(Key::from_slice(&self.0))
    }
}

impl fmt::Debug for ChannelKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChannelKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASTER: [u8; 32] = [7; 32];

    #[test]
    fn derived_key_matches_the_vector() {
        assert_eq!(
            ChannelKey::derive("private-encrypted-secret", &MASTER).shared_secret(),
            "UAtCvJamCEHHG1IgBLMYROcAFJ7gVBOQ00E/rIDypBQ="
        );
        assert_eq!(
            ChannelKey::from_shared_secret("UAtCvJamCEHHG1IgBLMYROcAFJ7gVBOQ00E/rIDypBQ="),
            Ok(ChannelKey::derive("private-encrypted-secret", &MASTER))
        );
        for bad in [
            "not base64!",
            &STANDARD.encode([1u8; 31]),
            &STANDARD.encode([1u8; 33]),
        ] {
            assert_eq!(ChannelKey::from_shared_secret(bad), Err(KeyError), "{bad}");
        }
    }

    #[test]
    fn sealed_data_opens_with_the_channel_key_only() {
        let key = ChannelKey::derive("private-encrypted-a", &MASTER);
        for plaintext in ["", r#"{"hello":"world"}"#, "é ☃ 😀 \"\\\n"] {
            let data = key.seal(&[1; 24], plaintext);
            assert_eq!(key.open(&data).as_deref(), Ok(plaintext));
            let other = ChannelKey::derive("private-encrypted-b", &MASTER);
            assert_eq!(other.open(&data), Err(OpenError::Forged));
        }
        // Another nonce, another envelope.
        assert_ne!(key.seal(&[1; 24], "x"), key.seal(&[2; 24], "x"));
    }

    #[test]
    fn bad_envelopes_say_why() {
        let key = ChannelKey::derive("private-encrypted-a", &MASTER);
        let good: Envelope = serde_json::from_str(&key.seal(&[1; 24], "hi")).unwrap();
        let with = |nonce: &str, ciphertext: &str| {
            serde_json::to_string(&Envelope {
                nonce: nonce.into(),
                ciphertext: ciphertext.into(),
            })
            .unwrap()
        };
        assert_eq!(key.open("plain"), Err(OpenError::NotAnEnvelope));
        assert_eq!(
            key.open(r#"{"nonce":"AQ=="}"#),
            Err(OpenError::NotAnEnvelope)
        );
        assert_eq!(
            key.open(&with("AQ==", &good.ciphertext)),
            Err(OpenError::Nonce)
        );
        assert_eq!(
            key.open(&with(&good.nonce, "*")),
            Err(OpenError::Ciphertext)
        );
        let mut altered = STANDARD.decode(&good.ciphertext).unwrap();
        altered[17] ^= 1;
        assert_eq!(
            key.open(&with(&good.nonce, &STANDARD.encode(altered))),
            Err(OpenError::Forged)
        );
        let binary = XSalsa20Poly1305::new(Key::from_slice(&key.0))
            .encrypt(Nonce::from_slice(&[1; 24]), [0xff_u8, 0xfe].as_slice())
            .unwrap();
        assert_eq!(
            key.open(&with(&good.nonce, &STANDARD.encode(binary))),
            Err(OpenError::NotText)
        );
    }

    /// NaCl's layout: the 16-byte tag comes first, then the encrypted bytes. Checked against
    /// tweetnacl's `nacl.secretbox` for the same key, nonce and message.
    #[test]
    fn ciphertext_layout_matches_tweetnacl() {
        let key = ChannelKey::derive("private-encrypted-secret", &MASTER);
        let envelope: Envelope = serde_json::from_str(&key.seal(&[9; 24], "hello")).unwrap();
        assert_eq!(envelope.ciphertext, TWEETNACL_HELLO);
        assert_eq!(envelope.nonce, STANDARD.encode([9u8; 24]));
    }

    /// `nacl.secretbox(utf8("hello"), 24 bytes of 9, base64-decoded shared secret of
    /// private-encrypted-secret)` from tweetnacl 1.0.3, base64-encoded.
    const TWEETNACL_HELLO: &str = "fCSD79l4lx4NXq7ArwBVh1g6TEud";
}
