//! Keys and authenticated encryption, with no storage and no I/O: associated data
//! binds a ciphertext to where it belongs, and HKDF-SHA256 derives purpose keys
//! from a user's data key. Two formats, told apart by their first byte:
//! - v1, XChaCha20-Poly1305 with a fresh random 192-bit nonce: wrapped data keys,
//!   and the replies sealed by the first version with encryption;
//! - v2, AES-256-GCM-SIV with a fresh random 96-bit nonce, for entry fields
//!   ([`FieldKey`]): its key schedule is computed once per key and AES runs in
//!   hardware, so a short field opens in a fraction of v1's time; SIV keeps a
//!   repeated random nonce from revealing more than that the same text was sealed.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

pub const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;
/// The first byte of every sealed value, so a later format can be told apart.
const FORMAT_V1: u8 = 1;
const FORMAT_V2: u8 = 2;
const SIV_NONCE_BYTES: usize = 12;
const TAG_BYTES: usize = 16;
/// What a data key is wrapped for: the user it belongs to is appended.
const WRAP_CONTEXT: &[u8] = b"serene/data-key/v1\0";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    /// Wrong key, wrong place (associated data), or altered bytes.
    #[error("the ciphertext does not open: wrong key, wrong place, or altered")]
    Integrity,
    #[error("a key must be {KEY_BYTES} bytes (base64: 44 characters)")]
    KeyLength,
    #[error("the system's random number generator failed: {0}")]
    Random(String),
}

/// A 256-bit secret key, wiped from memory when dropped.
#[derive(Clone)]
pub struct Key(Zeroizing<[u8; KEY_BYTES]>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

impl Key {
    /// # Errors
    /// The operating system cannot give random bytes.
    pub fn generate() -> Result<Self, CryptoError> {
        let mut bytes = Zeroizing::new([0u8; KEY_BYTES]);
        getrandom::fill(bytes.as_mut()).map_err(|e| CryptoError::Random(e.to_string()))?;
        Ok(Self(bytes))
    }

    /// # Errors
    /// `KeyLength` unless exactly 32 bytes.
    pub fn from_bytes(raw: &[u8]) -> Result<Self, CryptoError> {
        let bytes: [u8; KEY_BYTES] = raw.try_into().map_err(|_| CryptoError::KeyLength)?;
        Ok(Self(Zeroizing::new(bytes)))
    }

    /// # Errors
    /// `KeyLength` for text that is not the base64 of 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        let raw = Zeroizing::new(
            BASE64
                .decode(text.trim())
                .map_err(|_| CryptoError::KeyLength)?,
        );
        Self::from_bytes(&raw)
    }

    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(BASE64.encode(self.0.as_ref()))
    }

    pub fn as_bytes(&self) -> &[u8; KEY_BYTES] {
        &self.0
    }

    /// A key for one purpose, derived with HKDF-SHA256 (so one stored key can feed
    /// several uses without any two sharing a key).
    pub fn derive(&self, purpose: &[u8]) -> Self {
        let hkdf = hkdf::Hkdf::<sha2::Sha256>::new(None, self.0.as_ref());
        let mut out = Zeroizing::new([0u8; KEY_BYTES]);
        // 32 bytes is far below HKDF-SHA256's output limit, so expand cannot fail.
        if hkdf.expand(purpose, out.as_mut()).is_err() {
            unreachable!("HKDF-SHA256 gives 32 bytes");
        }
        Self(out)
    }
}

/// A key prepared for sealing and opening many short fields (format v2), and still
/// able to open what format v1 sealed under the same key.
#[derive(Clone)]
pub struct FieldKey {
    siv: aes_gcm_siv::Aes256GcmSiv,
    key: Key,
}

impl FieldKey {
    pub fn new(key: &Key) -> Self {
        use aes_gcm_siv::KeyInit as _;
        Self {
            siv: aes_gcm_siv::Aes256GcmSiv::new(key.as_bytes().into()),
            key: key.clone(),
        }
    }

    /// # Errors
    /// Only when the system's random number generator fails.
    pub fn seal(&self, associated: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        use aes_gcm_siv::AeadInPlace as _;
        let mut nonce = [0u8; SIV_NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(|e| CryptoError::Random(e.to_string()))?;
        let mut out = Vec::with_capacity(1 + SIV_NONCE_BYTES + plaintext.len() + TAG_BYTES);
        out.push(FORMAT_V2);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let tag = self
            .siv
            .encrypt_in_place_detached(&nonce.into(), associated, &mut out[1 + SIV_NONCE_BYTES..])
            .map_err(|_| CryptoError::Integrity)?;
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// # Errors
    /// `Integrity` for a wrong key, other associated data, or any altered byte.
    pub fn open(&self, associated: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        use aes_gcm_siv::AeadInPlace as _;
        match sealed.split_first() {
            Some((&FORMAT_V2, body)) if body.len() >= SIV_NONCE_BYTES + TAG_BYTES => {
                let (nonce, rest) = body.split_at(SIV_NONCE_BYTES);
                let (ciphertext, tag) = rest.split_at(rest.len() - TAG_BYTES);
                let nonce: [u8; SIV_NONCE_BYTES] =
                    nonce.try_into().map_err(|_| CryptoError::Integrity)?;
                let tag: [u8; TAG_BYTES] = tag.try_into().map_err(|_| CryptoError::Integrity)?;
                let mut buffer = ciphertext.to_vec();
                self.siv
                    .decrypt_in_place_detached(&nonce.into(), associated, &mut buffer, &tag.into())
                    .map_err(|_| CryptoError::Integrity)?;
                Ok(buffer)
            }
            _ => open_plain(&self.key, associated, sealed),
        }
    }
}

/// A keyed hash for tokens that must be equal for equal input and say nothing of
/// it without the key: HMAC-SHA256 truncated to 64 bits. The key's inner and outer
/// states are computed once and cloned for each token.
#[derive(Clone)]
pub struct TokenKey(hmac::Hmac<sha2::Sha256>);

impl TokenKey {
    pub fn new(key: &Key) -> Self {
        // HMAC takes a key of any length, so this cannot fail.
        match <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(key.as_bytes()) {
            Ok(mac) => Self(mac),
            Err(_) => unreachable!("HMAC accepts a 32-byte key"),
        }
    }

    /// The token of `text` within `domain` (a one-byte label, so the same text in
    /// two roles gives unrelated tokens).
    pub fn token(&self, domain: u8, text: &str) -> i64 {
        use hmac::Mac as _;
        let mut mac = self.0.clone();
        mac.update(&[domain]);
        mac.update(text.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        i64::from_be_bytes(first)
    }
}

/// Encrypts and authenticates `plaintext`; `associated` (not stored) must be
/// given again to open it.
///
/// # Errors
/// Only when the system's random number generator fails.
pub fn seal(key: &Key, associated: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let mut nonce = [0u8; NONCE_BYTES];
    getrandom::fill(&mut nonce).map_err(|e| CryptoError::Random(e.to_string()))?;
    let cipher = XChaCha20Poly1305::new(key.as_bytes().into());
    let sealed = cipher
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: plaintext,
                aad: associated,
            },
        )
        .map_err(|_| CryptoError::Integrity)?;
    let mut out = Vec::with_capacity(1 + NONCE_BYTES + sealed.len());
    out.push(FORMAT_V1);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// # Errors
/// `Integrity` for a wrong key, other associated data, or any altered byte.
pub fn open(
    key: &Key,
    associated: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    open_plain(key, associated, sealed).map(Zeroizing::new)
}

/// As [`open`], for text that goes on to the caller anyway (an entry's fields,
/// answered as JSON): decrypted in place in one buffer that is not wiped on drop.
///
/// # Errors
/// `Integrity` for a wrong key, other associated data, or any altered byte.
pub fn open_plain(key: &Key, associated: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    use chacha20poly1305::aead::AeadInPlace as _;
    let body = match sealed.split_first() {
        Some((&FORMAT_V1, body)) if body.len() >= NONCE_BYTES + 16 => body,
        _ => return Err(CryptoError::Integrity),
    };
    let (nonce, ciphertext) = body.split_at(NONCE_BYTES);
    let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| CryptoError::Integrity)?;
    let cipher = XChaCha20Poly1305::new(key.as_bytes().into());
    let mut buffer = ciphertext.to_vec();
    cipher
        .decrypt_in_place(&XNonce::from(nonce), associated, &mut buffer)
        .map_err(|_| CryptoError::Integrity)?;
    Ok(buffer)
}

fn wrap_context(user_id: &str) -> Vec<u8> {
    [WRAP_CONTEXT, user_id.as_bytes()].concat()
}

/// A user's data key sealed under the master key and bound to the user id, so a
/// wrapped key copied to another user's row does not open.
///
/// # Errors
/// Only when the system's random number generator fails.
pub fn wrap(master: &Key, user_id: &str, data_key: &Key) -> Result<Vec<u8>, CryptoError> {
    seal(master, &wrap_context(user_id), data_key.as_bytes())
}

/// # Errors
/// `Integrity` for another master key, another user, or altered bytes.
pub fn unwrap(master: &Key, user_id: &str, wrapped: &[u8]) -> Result<Key, CryptoError> {
    let raw = open(master, &wrap_context(user_id), wrapped)?;
    Key::from_bytes(&raw).map_err(|_| CryptoError::Integrity)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key::generate().expect("random")
    }

    #[test]
    fn a_field_key_seals_v2_and_still_opens_v1() {
        let k = key();
        let field = FieldKey::new(&k);
        let sealed = field.seal(b"place", b"dear diary").expect("seal");
        assert_eq!(sealed[0], FORMAT_V2);
        assert_eq!(field.open(b"place", &sealed).expect("open"), b"dear diary");
        assert_eq!(
            field.open(b"elsewhere", &sealed),
            Err(CryptoError::Integrity)
        );
        let mut altered = sealed.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert_eq!(field.open(b"place", &altered), Err(CryptoError::Integrity));
        assert_eq!(
            FieldKey::new(&key()).open(b"place", &sealed),
            Err(CryptoError::Integrity)
        );
        assert_eq!(
            field.open(b"place", &sealed[..10]),
            Err(CryptoError::Integrity)
        );
        let old = seal(&k, b"place", b"older words").expect("seal");
        assert_eq!(field.open(b"place", &old).expect("open"), b"older words");
    }

    #[test]
    fn a_sealed_value_opens_with_the_same_key_and_place() {
        let k = key();
        let sealed = seal(&k, b"user/entry/note", b"dear diary").expect("seal");
        assert_eq!(
            &open(&k, b"user/entry/note", &sealed).expect("open")[..],
            b"dear diary"
        );
        assert!(
            !sealed.windows(10).any(|w| w == b"dear diary"),
            "no plaintext inside"
        );
    }

    #[test]
    fn another_key_another_place_or_one_altered_byte_does_not_open() {
        let k = key();
        let sealed = seal(&k, b"a", b"secret").expect("seal");
        assert_eq!(open(&key(), b"a", &sealed), Err(CryptoError::Integrity));
        assert_eq!(open(&k, b"b", &sealed), Err(CryptoError::Integrity));
        for index in 0..sealed.len() {
            let mut altered = sealed.clone();
            altered[index] ^= 0x01;
            assert_eq!(
                open(&k, b"a", &altered),
                Err(CryptoError::Integrity),
                "byte {index}"
            );
        }
        assert_eq!(open(&k, b"a", &sealed[..10]), Err(CryptoError::Integrity));
        assert_eq!(open(&k, b"a", &[]), Err(CryptoError::Integrity));
    }

    #[test]
    fn the_same_plaintext_seals_differently_every_time() {
        let k = key();
        assert_ne!(
            seal(&k, b"", b"same").expect("seal"),
            seal(&k, b"", b"same").expect("seal")
        );
    }

    #[test]
    fn a_wrapped_key_opens_only_for_its_user_under_its_master_key() {
        let (master, data) = (key(), key());
        let wrapped = wrap(&master, "user-1", &data).expect("wrap");
        assert_eq!(
            unwrap(&master, "user-1", &wrapped)
                .expect("unwrap")
                .as_bytes(),
            data.as_bytes()
        );
        assert!(unwrap(&master, "user-2", &wrapped).is_err());
        assert!(unwrap(&key(), "user-1", &wrapped).is_err());
    }

    #[test]
    fn keys_round_trip_through_base64_and_refuse_other_lengths() {
        let k = key();
        let again = Key::from_base64(&k.to_base64()).expect("parse");
        assert_eq!(again.as_bytes(), k.as_bytes());
        assert_eq!(
            Key::from_base64("c2hvcnQ=").err(),
            Some(CryptoError::KeyLength)
        );
        assert_eq!(
            Key::from_base64("not base64!").err(),
            Some(CryptoError::KeyLength)
        );
    }

    #[test]
    fn derived_keys_differ_by_purpose_and_are_stable() {
        let k = key();
        assert_eq!(
            k.derive(b"search").as_bytes(),
            k.derive(b"search").as_bytes()
        );
        assert_ne!(
            k.derive(b"search").as_bytes(),
            k.derive(b"other").as_bytes()
        );
        assert_ne!(k.derive(b"search").as_bytes(), k.as_bytes());
    }

    #[test]
    fn debug_never_shows_a_key() {
        assert_eq!(format!("{:?}", key()), "Key(<redacted>)");
    }
}

#[cfg(test)]
mod timing {
    use super::*;

    #[test]
    #[ignore = "a measurement, run by hand with --release"]
    fn cost_of_sealing_and_opening_a_reply() {
        let key = Key::generate().expect("key");
        let reply = "It sounds like a full day. Be gentle with yourself tonight.".as_bytes();
        let sealed = seal(&key, b"ad", reply).expect("seal");
        let rounds = 200_000;
        let started = std::time::Instant::now();
        for _ in 0..rounds {
            std::hint::black_box(open(&key, b"ad", &sealed).expect("open"));
        }
        let open_ns = started.elapsed().as_nanos() / rounds;
        let started = std::time::Instant::now();
        for _ in 0..rounds {
            std::hint::black_box(seal(&key, b"ad", reply).expect("seal"));
        }
        let seal_ns = started.elapsed().as_nanos() / rounds;
        eprintln!(
            "open {open_ns} ns, seal {seal_ns} ns per {}-byte reply",
            reply.len()
        );
        let field = FieldKey::new(&key);
        let sealed_v2 = field.seal(b"ad", reply).expect("seal");
        let started = std::time::Instant::now();
        for _ in 0..rounds {
            std::hint::black_box(field.open(b"ad", &sealed_v2).expect("open"));
        }
        let open_v2_ns = started.elapsed().as_nanos() / rounds;
        let started = std::time::Instant::now();
        for _ in 0..rounds {
            std::hint::black_box(field.seal(b"ad", reply).expect("seal"));
        }
        let seal_v2_ns = started.elapsed().as_nanos() / rounds;
        eprintln!("v2 (AES-256-GCM-SIV): open {open_v2_ns} ns, seal {seal_v2_ns} ns");
        let tokens = TokenKey::new(&key);
        let started = std::time::Instant::now();
        for _ in 0..rounds {
            std::hint::black_box(tokens.token(b'w', std::hint::black_box("evening")));
        }
        let token_ns = started.elapsed().as_nanos() / rounds;
        eprintln!("token {token_ns} ns per word");
    }
}
