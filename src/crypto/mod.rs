//! Keys and authenticated encryption, with no storage and no I/O: associated data
//! binds a ciphertext to where it belongs, and HKDF-SHA256 derives purpose keys
//! from a user's data key. Three formats, told apart by their first byte:
//! - v1, XChaCha20-Poly1305 with a fresh random 192-bit nonce: wrapped data keys,
//!   and the replies sealed by the first version with encryption;
//! - v2, AES-256-GCM-SIV with a fresh random 96-bit nonce: entry fields sealed
//!   before v3, still opened;
//! - v3, AES-256-GCM with a fresh random 96-bit nonce, for entry fields
//!   ([`FieldKey`]). Its key schedule and hash key are computed once per key, where
//!   GCM-SIV derives and expands a new AES key for every message; that setup was
//!   half the cost of opening a short field, three times per entry read. What is
//!   given up: under GCM a repeated nonce would reveal the XOR of the two texts and
//!   the hash key, with which a holder of the database could alter that user's
//!   fields undetected; under GCM-SIV it revealed only that two texts were equal.
//!   Nonces come from the operating system's generator, and random 96-bit nonces
//!   keep the chance of any repeat under 2^-32 for up to 2^32 seals per key (NIST
//!   SP 800-38D); each key is one user's, and a journal seals some thousands of
//!   fields a year. v3 runs under its own key derived from the field key, so GCM
//!   and GCM-SIV never use one AES key.

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
const FORMAT_V3: u8 = 3;
/// The nonce of formats v2 and v3.
const NONCE96_BYTES: usize = 12;
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

/// What the v3 key is derived for (from the field key given to [`FieldKey::new`]).
const GCM_PURPOSE: &[u8] = b"serene/field/v3-aes-256-gcm";

/// A key prepared for sealing and opening many short fields (format v3), and still
/// able to open what formats v1 and v2 sealed under the same key. Both AES keys are
/// expanded once, here, so a field costs no key setup of its own. The expanded
/// keys (about 2 KB) are shared: a user's keys are cloned for every request.
#[derive(Clone)]
pub struct FieldKey(std::sync::Arc<Ciphers>);

struct Ciphers {
    gcm: aes_gcm::Aes256Gcm,
    siv: aes_gcm_siv::Aes256GcmSiv,
    key: Key,
}

impl FieldKey {
    pub fn new(key: &Key) -> Self {
        use aes_gcm::KeyInit as _;
        Self(std::sync::Arc::new(Ciphers {
            gcm: aes_gcm::Aes256Gcm::new(key.derive(GCM_PURPOSE).as_bytes().into()),
            siv: aes_gcm_siv::Aes256GcmSiv::new(key.as_bytes().into()),
            key: key.clone(),
        }))
    }

    /// # Errors
    /// Only when the system's random number generator fails.
    pub fn seal(&self, associated: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        seal_nonce96(&self.0.gcm, FORMAT_V3, associated, plaintext)
    }

    /// # Errors
    /// `Integrity` for a wrong key, other associated data, or any altered byte.
    pub fn open(&self, associated: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match sealed.first() {
            Some(&FORMAT_V3) => open_nonce96(&self.0.gcm, associated, sealed),
            Some(&FORMAT_V2) => open_nonce96(&self.0.siv, associated, sealed),
            _ => open_plain(&self.0.key, associated, sealed),
        }
    }
}

/// Formats v2 and v3 share a layout: `format`, a fresh random 96-bit nonce, the
/// ciphertext and its 128-bit tag.
fn seal_nonce96<C>(
    cipher: &C,
    format: u8,
    associated: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError>
where
    C: aes_gcm::aead::AeadInPlace<
        NonceSize = aes_gcm::aead::consts::U12,
        TagSize = aes_gcm::aead::consts::U16,
    >,
{
    let mut nonce = [0u8; NONCE96_BYTES];
    getrandom::fill(&mut nonce).map_err(|e| CryptoError::Random(e.to_string()))?;
    let mut out = Vec::with_capacity(1 + NONCE96_BYTES + plaintext.len() + TAG_BYTES);
    out.push(format);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let tag = cipher
        .encrypt_in_place_detached(&nonce.into(), associated, &mut out[1 + NONCE96_BYTES..])
        .map_err(|_| CryptoError::Integrity)?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Opens what [`seal_nonce96`] sealed with the same cipher; the format byte has
/// chosen the cipher already.
fn open_nonce96<C>(cipher: &C, associated: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError>
where
    C: aes_gcm::aead::AeadInPlace<
        NonceSize = aes_gcm::aead::consts::U12,
        TagSize = aes_gcm::aead::consts::U16,
    >,
{
    let body = match sealed.split_first() {
        Some((_, body)) if body.len() >= NONCE96_BYTES + TAG_BYTES => body,
        _ => return Err(CryptoError::Integrity),
    };
    let (nonce, rest) = body.split_at(NONCE96_BYTES);
    let (ciphertext, tag) = rest.split_at(rest.len() - TAG_BYTES);
    let nonce: [u8; NONCE96_BYTES] = nonce.try_into().map_err(|_| CryptoError::Integrity)?;
    let tag: [u8; TAG_BYTES] = tag.try_into().map_err(|_| CryptoError::Integrity)?;
    let mut buffer = ciphertext.to_vec();
    cipher
        .decrypt_in_place_detached(&nonce.into(), associated, &mut buffer, &tag.into())
        .map_err(|_| CryptoError::Integrity)?;
    Ok(buffer)
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
    fn a_field_key_seals_v3_and_still_opens_v1_and_v2() {
        let k = key();
        let field = FieldKey::new(&k);
        let sealed = field.seal(b"place", b"dear diary").expect("seal");
        assert_eq!(sealed[0], FORMAT_V3);
        assert!(!sealed.windows(10).any(|w| w == b"dear diary"));
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
        let v2 = seal_nonce96(&field.0.siv, FORMAT_V2, b"place", b"last week").expect("seal");
        assert_eq!(field.open(b"place", &v2).expect("open"), b"last week");
        assert_eq!(field.open(b"elsewhere", &v2), Err(CryptoError::Integrity));
    }

    /// Stored values made by the ciphers' own one-call `encrypt` (ciphertext, then
    /// tag), not by [`seal_nonce96`]: the layout rows already hold must keep opening.
    #[test]
    fn values_laid_out_as_stored_open_in_both_formats() {
        use aes_gcm::aead::Aead as _;
        use aes_gcm::KeyInit as _;
        let k = key();
        let field = FieldKey::new(&k);
        let nonce = [9u8; NONCE96_BYTES];
        let payload = || aes_gcm::aead::Payload {
            msg: b"dear diary".as_slice(),
            aad: b"place".as_slice(),
        };
        let stored = |format: u8, sealed: Vec<u8>| [&[format][..], &nonce, &sealed].concat();
        let siv = aes_gcm_siv::Aes256GcmSiv::new(k.as_bytes().into());
        let v2 = stored(
            FORMAT_V2,
            siv.encrypt(&nonce.into(), payload()).expect("seal"),
        );
        assert_eq!(field.open(b"place", &v2).expect("open"), b"dear diary");
        let gcm = aes_gcm::Aes256Gcm::new(k.derive(GCM_PURPOSE).as_bytes().into());
        let v3 = stored(
            FORMAT_V3,
            gcm.encrypt(&nonce.into(), payload()).expect("seal"),
        );
        assert_eq!(field.open(b"place", &v3).expect("open"), b"dear diary");
        // Under the field key itself (not the derived one), v3 does not open.
        let underived = aes_gcm::Aes256Gcm::new(k.as_bytes().into());
        let wrong = stored(
            FORMAT_V3,
            underived.encrypt(&nonce.into(), payload()).expect("seal"),
        );
        assert_eq!(field.open(b"place", &wrong), Err(CryptoError::Integrity));
    }

    #[test]
    fn every_seal_takes_a_fresh_nonce() {
        let field = FieldKey::new(&key());
        let nonces: std::collections::HashSet<Vec<u8>> = (0..100)
            .map(|_| {
                field.seal(b"place", b"same words").expect("seal")[1..1 + NONCE96_BYTES].to_vec()
            })
            .collect();
        assert_eq!(nonces.len(), 100);
        let empty = field.seal(b"place", b"").expect("seal");
        assert_eq!(empty.len(), 1 + NONCE96_BYTES + TAG_BYTES);
        assert_eq!(field.open(b"place", &empty).expect("open"), b"");
    }

    #[test]
    fn short_or_empty_values_of_every_format_are_integrity_errors() {
        let field = FieldKey::new(&key());
        for format in [FORMAT_V1, FORMAT_V2, FORMAT_V3, 0, 255] {
            for len in 0..=1 + NONCE96_BYTES + TAG_BYTES {
                let mut hostile = vec![0u8; len];
                if let Some(first) = hostile.first_mut() {
                    *first = format;
                }
                assert_eq!(
                    field.open(b"place", &hostile),
                    Err(CryptoError::Integrity),
                    "format {format}, {len} bytes"
                );
            }
        }
    }

    #[test]
    fn a_format_byte_never_makes_one_cipher_open_anothers_bytes() {
        let field = FieldKey::new(&key());
        let v3 = field.seal(b"place", b"dear diary").expect("seal");
        let v2 = seal_nonce96(&field.0.siv, FORMAT_V2, b"place", b"dear diary").expect("seal");
        let relabelled = |sealed: &[u8], format: u8| {
            let mut out = sealed.to_vec();
            out[0] = format;
            out
        };
        let v1 = seal(&field.0.key, b"place", b"dear diary").expect("seal");
        for (sealed, other) in [
            (&v3, FORMAT_V2),
            (&v2, FORMAT_V3),
            (&v3, FORMAT_V1),
            (&v3, 4),
            (&v1, FORMAT_V2),
            (&v1, FORMAT_V3),
        ] {
            assert_eq!(
                field.open(b"place", &relabelled(sealed, other)),
                Err(CryptoError::Integrity)
            );
        }
        for sealed in [&v3, &v2] {
            for index in 0..sealed.len() {
                let mut altered = sealed.clone();
                altered[index] ^= 0x01;
                assert_eq!(
                    field.open(b"place", &altered),
                    Err(CryptoError::Integrity),
                    "byte {index}"
                );
            }
            assert_eq!(
                FieldKey::new(&key()).open(b"place", sealed),
                Err(CryptoError::Integrity)
            );
        }
        // One byte short of the shortest value: a format byte, a nonce and a tag.
        let short = &v3[..NONCE96_BYTES + TAG_BYTES];
        assert_eq!(field.open(b"place", short), Err(CryptoError::Integrity));
        assert_eq!(field.open(b"place", &[]), Err(CryptoError::Integrity));
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
        /// Mean time of one call of `work` over many.
        fn ns_per(mut work: impl FnMut()) -> u128 {
            let rounds = 200_000;
            let started = std::time::Instant::now();
            for _ in 0..rounds {
                work();
            }
            started.elapsed().as_nanos() / rounds
        }
        let open_ns = ns_per(|| {
            std::hint::black_box(open(&key, b"ad", &sealed).expect("open"));
        });
        let seal_ns = ns_per(|| {
            std::hint::black_box(seal(&key, b"ad", reply).expect("seal"));
        });
        eprintln!(
            "open {open_ns} ns, seal {seal_ns} ns per {}-byte reply",
            reply.len()
        );
        let field = FieldKey::new(&key);
        // An entry's associated data is about 90 bytes: context, user, entry, field.
        let ad = [7u8; 90];
        let sealed_v2 = seal_nonce96(&field.0.siv, FORMAT_V2, &ad, reply).expect("seal");
        let open_v2_ns = ns_per(|| {
            std::hint::black_box(field.open(&ad, &sealed_v2).expect("open"));
        });
        let seal_v2_ns = ns_per(|| {
            std::hint::black_box(seal_nonce96(&field.0.siv, FORMAT_V2, &ad, reply).expect("seal"));
        });
        eprintln!("v2 (AES-256-GCM-SIV): open {open_v2_ns} ns, seal {seal_v2_ns} ns");
        let sealed_v3 = field.seal(&ad, reply).expect("seal");
        let open_v3_ns = ns_per(|| {
            std::hint::black_box(field.open(&ad, &sealed_v3).expect("open"));
        });
        let seal_v3_ns = ns_per(|| {
            std::hint::black_box(field.seal(&ad, reply).expect("seal"));
        });
        eprintln!("v3 (AES-256-GCM): open {open_v3_ns} ns, seal {seal_v3_ns} ns");
        let tokens = TokenKey::new(&key);
        let token_ns = ns_per(|| {
            std::hint::black_box(tokens.token(b'w', std::hint::black_box("evening")));
        });
        eprintln!("token {token_ns} ns per word");
    }
}
