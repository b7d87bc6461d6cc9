//! Master keys: the root of every key the issuer derives.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::hash::validate_key_id;
use crate::{Error, PepperKey, SecretHasher};

/// Shortest master key accepted, in bytes.
pub const MIN_MASTER_KEY_LEN: usize = 32;
/// Length of a key made by [`MasterKeys::generate_entry`], in bytes.
pub const GENERATED_MASTER_KEY_LEN: usize = 32;
/// Most entries one master key text may hold.
pub const MAX_MASTER_KEYS: usize = 16;
/// The variable [`MasterKeys::from_env`] reads the keys from.
pub const MASTER_KEYS_VAR: &str = "CLIENTCREDS_MASTER_KEYS";
/// The variable naming a file that holds the keys (a mounted secret), for
/// [`MasterKeys::from_env`].
pub const MASTER_KEYS_FILE_VAR: &str = "CLIENTCREDS_MASTER_KEYS_FILE";

const HKDF_SALT: &[u8] = b"clientcreds master key v1";
const PEPPER_LABEL: &[u8] = b"clientcreds/v1/secret-pepper";
const KEK_LABEL: &[u8] = b"clientcreds/v1/signing-key-encryption";
const SEALED_SCHEME: &str = "aes256gcm";
const SEALED_VERSION: &str = "v1";
/// Longest master key accepted (decoded), in bytes: keeps a pasted file
/// from being taken for a key.
const MAX_MASTER_KEY_LEN: usize = 1024;

/// One master key, already derived: the raw key bytes are not kept.
struct MasterKey {
    id: String,
    pepper: Zeroizing<[u8; 32]>,
    kek: LessSafeKey,
}

/// The deployment's master keys: one current key and any number of older
/// ones, each with an id.
///
/// A deployment holds one small set of master keys in its secret manager
/// (never in the database). Everything else is derived from them with
/// HKDF-SHA256 (RFC 5869), each use under its own label:
///
/// | derived key | label (`info`) | used for |
/// |---|---|---|
/// | pepper | `clientcreds/v1/secret-pepper` | HMAC-SHA256 secret hashes; its key id is the master key's id |
/// | key-encryption key | `clientcreds/v1/signing-key-encryption` | AES-256-GCM sealing of stored signing keys |
///
/// Rotating the master key means putting a new entry first and keeping the
/// old one after it: new hashes and sealed keys use the new key, old ones
/// still verify and open, and a secret verified under an old pepper reports
/// [`Verification::ValidNeedsRehash`](crate::Verification::ValidNeedsRehash)
/// so the registry upgrades its hash on next use.
///
/// # Text form
///
/// `id:base64url[,id:base64url…]`: comma-separated entries, the first is
/// current. An id is 1 to 64 characters of `[A-Za-z0-9._-]`; a key is at
/// least 32 bytes once decoded (URL-safe base64, padding optional).
/// [`MasterKeys::generate_entry`] makes a fresh entry. A parse error names
/// the entry by its position (and its id, which is not secret), never any
/// key byte.
///
/// ```
/// use clientcreds_secret::{MasterKeys, Secret, Verification};
///
/// let k1 = MasterKeys::generate_entry("k1")?;
/// let old = MasterKeys::parse(&k1)?;
/// let hash = old.secret_hasher()?.hash(&Secret::from("acme_secret_x"))?;
///
/// // Rotate: a new current key first, the old one kept after it.
/// let k2 = MasterKeys::generate_entry("k2")?;
/// let rotated = MasterKeys::parse(&format!("{},{}", *k2, *k1))?;
/// assert_eq!(rotated.current_id(), "k2");
/// assert_eq!(
///     rotated.secret_hasher()?.verify(&Secret::from("acme_secret_x"), &hash)?,
///     Verification::ValidNeedsRehash,
/// );
///
/// // Sealed data opens under the set that holds its key, and only with the
/// // same associated data.
/// let sealed = old.seal(b"kid=abc", b"private key bytes")?;
/// assert_eq!(&*rotated.open(b"kid=abc", &sealed)?, b"private key bytes");
/// assert!(rotated.open(b"kid=xyz", &sealed).is_err());
/// assert_eq!(format!("{rotated:?}"), r#"MasterKeys { current: "k2", ids: ["k2", "k1"], keys: [redacted] }"#);
/// # Ok::<(), clientcreds_secret::Error>(())
/// ```
///
/// `Debug` shows the ids only. The raw key bytes are zeroized as soon as
/// the derived keys are made, and the derived pepper bytes are zeroized on
/// drop; the AES key schedule lives inside ring's key type.
pub struct MasterKeys {
    current: MasterKey,
    older: Vec<MasterKey>,
    rng: SystemRandom,
}

impl MasterKeys {
    /// Parses the text form `id:base64url,id:base64url,…` (first entry
    /// current). Whitespace around entries is ignored.
    ///
    /// # Errors
    /// [`Error::NoMasterKeys`] for an empty text;
    /// [`Error::MalformedMasterKey`] for an entry that is not
    /// `id:base64url`, has an invalid id, or is not base64url;
    /// [`Error::WeakMasterKey`] for a key shorter than
    /// [`MIN_MASTER_KEY_LEN`] bytes; [`Error::DuplicateKeyId`] for an id
    /// used twice; [`Error::TooManyMasterKeys`] past [`MAX_MASTER_KEYS`].
    pub fn parse(text: &str) -> Result<Self, Error> {
        let entries: Vec<&str> = text
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .collect();
        if entries.is_empty() {
            return Err(Error::NoMasterKeys);
        }
        if entries.len() > MAX_MASTER_KEYS {
            return Err(Error::TooManyMasterKeys {
                count: entries.len(),
                max: MAX_MASTER_KEYS,
            });
        }
        let mut keys = Vec::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            let position = index + 1;
            let malformed = |reason| Error::MalformedMasterKey { position, reason };
            let (id, encoded) = entry
                .split_once(':')
                .ok_or_else(|| malformed("expected `id:base64url`"))?;
            let id = id.trim();
            validate_key_id(id)
                .map_err(|_| malformed("the id must be 1 to 64 characters of [A-Za-z0-9._-]"))?;
            let encoded = encoded.trim();
            if encoded.len() > MAX_MASTER_KEY_LEN * 2 {
                return Err(malformed("the key is longer than 1024 bytes"));
            }
            let engine = if encoded.ends_with('=') {
                &URL_SAFE
            } else {
                &URL_SAFE_NO_PAD
            };
            let bytes = Zeroizing::new(
                engine
                    .decode(encoded)
                    .map_err(|_| malformed("the key is not URL-safe base64"))?,
            );
            if bytes.len() < MIN_MASTER_KEY_LEN {
                return Err(Error::WeakMasterKey {
                    position,
                    id: id.to_owned(),
                    len: bytes.len(),
                });
            }
            if keys.iter().any(|k: &MasterKey| k.id == id) {
                return Err(Error::DuplicateKeyId {
                    key_id: id.to_owned(),
                });
            }
            keys.push(
                MasterKey::derive(id, &bytes)
                    .ok_or_else(|| malformed("no key could be derived"))?,
            );
        }
        let mut keys = keys.into_iter();
        let current = keys.next().ok_or(Error::NoMasterKeys)?;
        Ok(Self {
            current,
            older: keys.collect(),
            rng: SystemRandom::new(),
        })
    }

    /// The master keys from the environment: the text of
    /// [`MASTER_KEYS_VAR`] (`CLIENTCREDS_MASTER_KEYS`), or the contents of
    /// the file [`MASTER_KEYS_FILE_VAR`] (`CLIENTCREDS_MASTER_KEYS_FILE`)
    /// names, such as a mounted secret. Whitespace around the text and
    /// its entries (a file's trailing newline) is ignored. No error ever
    /// shows a key byte.
    ///
    /// # Errors
    /// [`Error::MasterKeysNotSet`], [`Error::MasterKeysSetTwice`],
    /// [`Error::MasterKeysNotUnicode`], [`Error::MasterKeysFile`], and
    /// [`Error::MasterKeysInvalid`] whose source is what
    /// [`MasterKeys::parse`] said.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_vars(|name| std::env::var_os(name))
    }

    /// As [`MasterKeys::from_env`], with the variables looked up by
    /// `lookup` (a host's own configuration source, or a test's map).
    ///
    /// ```
    /// use clientcreds_secret::{MASTER_KEYS_VAR, MasterKeys};
    ///
    /// let entry = MasterKeys::generate_entry("2026-11")?;
    /// let text = format!("  {}\n", entry.as_str());
    /// let keys = MasterKeys::from_vars(|name| (name == MASTER_KEYS_VAR).then(|| text.clone().into()))?;
    /// assert_eq!(keys.current_id(), "2026-11");
    /// # Ok::<(), clientcreds_secret::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`MasterKeys::from_env`].
    pub fn from_vars(lookup: impl Fn(&str) -> Option<std::ffi::OsString>) -> Result<Self, Error> {
        let (var, file_var) = (MASTER_KEYS_VAR, MASTER_KEYS_FILE_VAR);
        let unicode = |name: &'static str, value: std::ffi::OsString| {
            value
                .into_string()
                .map(Zeroizing::new)
                .map_err(|_| Error::MasterKeysNotUnicode { var: name })
        };
        let (from, text) = match (lookup(var), lookup(file_var)) {
            (Some(_), Some(_)) => return Err(Error::MasterKeysSetTwice { var, file_var }),
            (None, None) => return Err(Error::MasterKeysNotSet { var, file_var }),
            (Some(text), None) => (var, unicode(var, text)?),
            (None, Some(path)) => {
                let path = std::path::PathBuf::from(path);
                let bytes = Zeroizing::new(std::fs::read(&path).map_err(|error| {
                    Error::MasterKeysFile {
                        file_var,
                        path: path.display().to_string(),
                        kind: error.kind(),
                    }
                })?);
                let text = std::str::from_utf8(&bytes)
                    .map_err(|_| Error::MasterKeysNotUnicode { var: file_var })?;
                (file_var, Zeroizing::new(text.to_owned()))
            }
        };
        Self::parse(text.trim()).map_err(|source| Error::MasterKeysInvalid {
            from,
            source: Box::new(source),
        })
    }

    /// A fresh entry `id:base64url` of [`GENERATED_MASTER_KEY_LEN`] random
    /// bytes, for a secret manager. Prepend it to the existing text to
    /// rotate.
    ///
    /// The same entry without a Rust program or a checkout of this
    /// repository, from a shell with coreutils (any 32 random bytes in
    /// URL-safe base64 make a key; `k1` is the id):
    ///
    /// ```sh
    /// printf 'k1:%s\n' "$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidKeyId`]; [`Error::Random`] if the system random
    /// number generator fails.
    pub fn generate_entry(id: &str) -> Result<Zeroizing<String>, Error> {
        validate_key_id(id)?;
        let mut key = Zeroizing::new([0u8; GENERATED_MASTER_KEY_LEN]);
        SystemRandom::new()
            .fill(key.as_mut())
            .map_err(|_| Error::Random)?;
        let mut entry = Zeroizing::new(String::with_capacity(id.len() + 44));
        entry.push_str(id);
        entry.push(':');
        URL_SAFE_NO_PAD.encode_string(key.as_ref(), &mut entry);
        Ok(entry)
    }

    /// A set of one random key that lives only as long as this process:
    /// for an in-memory deployment or a test, never for a database.
    ///
    /// # Errors
    /// [`Error::Random`] if the system random number generator fails.
    pub fn ephemeral() -> Result<Self, Error> {
        Self::parse(&Self::generate_entry("ephemeral")?)
    }

    /// The current key's id: it names the pepper of new hashes and the key
    /// that seals new signing keys.
    #[must_use]
    pub fn current_id(&self) -> &str {
        self.current.id.as_str()
    }

    /// Every id, current first.
    #[must_use]
    pub fn ids(&self) -> Vec<&str> {
        self.all().map(|k| k.id.as_str()).collect()
    }

    /// An HMAC-SHA256 [`SecretHasher`] whose current pepper derives from the
    /// current master key (key id = its id), and which verifies hashes made
    /// under the older keys' peppers (asking for a rehash).
    ///
    /// # Errors
    /// [`Error::Random`] if the hasher's dummy hash cannot be drawn.
    pub fn secret_hasher(&self) -> Result<SecretHasher, Error> {
        let current = &self.current;
        let mut hasher =
            SecretHasher::hmac_sha256(PepperKey::new(&current.id, current.pepper.as_ref())?)?;
        for older in &self.older {
            hasher = hasher
                .with_verify_only_pepper(PepperKey::new(&older.id, older.pepper.as_ref())?)?;
        }
        Ok(hasher)
    }

    /// Encrypts `plaintext` with AES-256-GCM under the current master key's
    /// key-encryption key, with a random 96-bit nonce, binding `aad` (for a
    /// signing key: its kid and algorithm). The result is text:
    /// `aes256gcm$v1$<master id>$<base64url(nonce ‖ ciphertext ‖ tag)>`.
    ///
    /// # Errors
    /// [`Error::Random`] if no nonce can be drawn.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<String, Error> {
        let key = &self.current;
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| Error::Random)?;
        // nonce ‖ ciphertext ‖ tag, sealed in place after the nonce.
        let mut buffer = Vec::with_capacity(NONCE_LEN + plaintext.len() + AES_256_GCM.tag_len());
        buffer.extend_from_slice(&nonce);
        let mut body = Zeroizing::new(plaintext.to_vec());
        key.kek
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut *body,
            )
            .map_err(|_| Error::Random)?;
        buffer.extend_from_slice(&body);
        Ok(format!(
            "{SEALED_SCHEME}${SEALED_VERSION}${}${}",
            key.id,
            URL_SAFE_NO_PAD.encode(buffer.as_slice())
        ))
    }

    /// Decrypts text made by [`MasterKeys::seal`] with the master key it
    /// names, checking `aad`.
    ///
    /// # Errors
    /// [`Error::MalformedSealed`] for text not made by `seal`;
    /// [`Error::UnknownMasterKey`] when this set lacks the key it names;
    /// [`Error::SealedDataRejected`] when the key with that id does not
    /// open it (a different key under the same id, other associated data,
    /// or altered text).
    pub fn open(&self, aad: &[u8], sealed: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
        let (key_id, body) = parse_sealed(sealed)?;
        let key = self
            .all()
            .find(|k| k.id == key_id)
            .ok_or_else(|| Error::UnknownMasterKey {
                key_id: key_id.to_owned(),
            })?;
        let mut bytes = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(body)
                .map_err(|_| Error::MalformedSealed)?,
        );
        if bytes.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(Error::MalformedSealed);
        }
        let mut ciphertext = Zeroizing::new(bytes.split_off(NONCE_LEN));
        let nonce = Nonce::try_assume_unique_for_key(&bytes).map_err(|_| Error::MalformedSealed)?;
        let plaintext_len = key
            .kek
            .open_in_place(nonce, Aad::from(aad), &mut ciphertext)
            .map_err(|_| Error::SealedDataRejected {
                key_id: key_id.to_owned(),
            })?
            .len();
        ciphertext.truncate(plaintext_len);
        Ok(ciphertext)
    }

    /// The id of the master key that sealed `sealed`, if it is sealed text.
    /// Data sealed under an older key can be re-sealed under the current one.
    #[must_use]
    pub fn sealed_key_id(sealed: &str) -> Option<&str> {
        parse_sealed(sealed).ok().map(|(id, _)| id)
    }

    /// A 32-byte key for `purpose` (for example `"dpop-nonce"`), derived
    /// one way (HKDF-SHA256, its own label) from the current master key:
    /// every replica with the same master keys derives the same key, and
    /// the derived key reveals neither the master key nor the pepper.
    ///
    /// # Errors
    /// [`Error::KeyDerivation`] if the derivation fails (it does not with ring).
    pub fn derive_key(&self, purpose: &str) -> Result<Zeroizing<[u8; 32]>, Error> {
        let mut out = Zeroizing::new([0u8; 32]);
        let mut info = b"clientcreds derived key v1: ".to_vec();
        info.extend_from_slice(purpose.as_bytes());
        hkdf_sha256(HKDF_SALT, self.current.pepper.as_ref(), &info, out.as_mut())
            .ok_or(Error::KeyDerivation)?;
        Ok(out)
    }

    fn all(&self) -> impl Iterator<Item = &MasterKey> {
        std::iter::once(&self.current).chain(&self.older)
    }
}

impl fmt::Debug for MasterKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKeys")
            .field("current", &self.current_id())
            .field("ids", &self.ids())
            .field("keys", &format_args!("[redacted]"))
            .finish()
    }
}

impl MasterKey {
    /// Derives the pepper and the key-encryption key; `None` only if ring
    /// refuses a 32-byte AES key, which it does not.
    fn derive(id: &str, ikm: &[u8]) -> Option<Self> {
        let mut pepper = Zeroizing::new([0u8; 32]);
        let mut kek = Zeroizing::new([0u8; 32]);
        hkdf_sha256(HKDF_SALT, ikm, PEPPER_LABEL, pepper.as_mut())?;
        hkdf_sha256(HKDF_SALT, ikm, KEK_LABEL, kek.as_mut())?;
        let kek = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, kek.as_ref()).ok()?);
        Some(Self {
            id: id.to_owned(),
            pepper,
            kek,
        })
    }
}

/// An output length for ring's HKDF.
struct OutputLen(usize);

impl hkdf::KeyType for OutputLen {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-SHA256 (RFC 5869): fills `out` (at most 255 × 32 bytes).
fn hkdf_sha256(salt: &[u8], ikm: &[u8], info: &[u8], out: &mut [u8]) -> Option<()> {
    hkdf::Salt::new(hkdf::HKDF_SHA256, salt)
        .extract(ikm)
        .expand(&[info], OutputLen(out.len()))
        .ok()?
        .fill(out)
        .ok()
}

fn parse_sealed(sealed: &str) -> Result<(&str, &str), Error> {
    let mut parts = sealed.splitn(4, '$');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(SEALED_SCHEME), Some(SEALED_VERSION), Some(id), Some(body))
            if validate_key_id(id).is_ok() && !body.is_empty() =>
        {
            Ok((id, body))
        }
        _ => Err(Error::MalformedSealed),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(text.get(i..i + 2).unwrap(), 16).unwrap())
            .collect()
    }

    /// RFC 5869 appendix A, test cases 1 and 3 (SHA-256), through the
    /// helper the derivation uses.
    #[test]
    fn hkdf_sha256_known_answers() {
        let mut okm = [0u8; 42];
        hkdf_sha256(
            &hex("000102030405060708090a0b0c"),
            &[0x0b; 22],
            &hex("f0f1f2f3f4f5f6f7f8f9"),
            &mut okm,
        )
        .unwrap();
        assert_eq!(
            okm.to_vec(),
            hex(
                "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
            )
        );
        hkdf_sha256(&[], &[0x0b; 22], &[], &mut okm).unwrap();
        assert_eq!(
            okm.to_vec(),
            hex(
                "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
            )
        );
    }

    /// The two derived keys differ from each other and from the input.
    #[test]
    fn labels_separate_the_derived_keys() {
        let key = MasterKey::derive("k", &[7; 32]).unwrap();
        assert_ne!(key.pepper.as_ref(), &[7; 32]);
        let mut kek = [0u8; 32];
        hkdf_sha256(HKDF_SALT, &[7; 32], KEK_LABEL, &mut kek).unwrap();
        assert_ne!(key.pepper.as_ref(), &kek);
    }
}
