//! The text format of client ids and secrets: generation and offline parsing.
//!
//! A credential reads `<prefix><kind>_<body><checksum>`:
//!
//! | part | client id | secret |
//! |---|---|---|
//! | prefix | chosen by the host, e.g. `acme_` | same |
//! | kind | `client` | `secret` |
//! | body | 20 random base62 characters (119 bits) | 8-character public secret id, then 43 random base62 characters (256 bits) |
//! | checksum | 6 base62 characters of CRC32 over everything before it | same |
//!
//! The checksum lets [`CredentialFormat::parse_secret`] catch a typo or a
//! truncation without touching the database or a hash, and, with the fixed
//! prefix, lets secret scanners find leaked secrets with few false positives
//! (the model is GitHub's token format). The regular expression that matches
//! any secret is [`SECRET_REGEX`]; [`CredentialFormat::secret_regex`] gives the
//! one for a single prefix.

use std::fmt;

use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::{Error, Secret};

/// The base62 alphabet, in ASCII order.
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Random characters in a client id's body: 20 × log2(62) ≈ 119 bits.
pub const CLIENT_ID_BODY_LEN: usize = 20;
/// Characters of the public secret id at the start of a secret's body.
pub const SECRET_ID_LEN: usize = 8;
/// Random characters after the secret id: 43 × log2(62) ≈ 256.03 bits.
pub const SECRET_KEY_LEN: usize = 43;
/// Characters of the CRC32 checksum (62⁶ > 2³², so every CRC value fits).
pub const CHECKSUM_LEN: usize = 6;
const SECRET_BODY_LEN: usize = SECRET_ID_LEN + SECRET_KEY_LEN;
const MAX_PREFIX_LEN: usize = 16;

/// A regular expression that matches a secret of any prefix this crate
/// accepts, for secret scanners and log scrubbers.
///
/// ```
/// assert_eq!(
///     clientcreds_secret::SECRET_REGEX,
///     r"\b[a-z][a-z0-9]{0,14}_secret_[0-9A-Za-z]{57}\b",
/// );
/// ```
pub const SECRET_REGEX: &str = r"\b[a-z][a-z0-9]{0,14}_secret_[0-9A-Za-z]{57}\b";

/// What a credential is: the public client id or the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A client id (`<prefix>client_…`), public.
    ClientId,
    /// A client secret (`<prefix>secret_…`), confidential.
    Secret,
}

impl Kind {
    /// The kind's marker in the text, without the trailing underscore.
    #[must_use]
    pub const fn marker(self) -> &'static str {
        match self {
            Self::ClientId => "client",
            Self::Secret => "secret",
        }
    }

    const fn body_len(self) -> usize {
        match self {
            Self::ClientId => CLIENT_ID_BODY_LEN,
            Self::Secret => SECRET_BODY_LEN,
        }
    }

    pub(crate) const fn describe(self) -> &'static str {
        match self {
            Self::ClientId => "client id",
            Self::Secret => "client secret",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// A validated client id, such as `acme_client_4fZ0…`. Public: it may be
/// printed, logged and stored.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(String);

impl ClientId {
    /// The id's text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id's text, owned.
    #[must_use]
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ClientId").field(&self.0).finish()
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ClientId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The public id of one secret record: the first 8 characters of a secret's
/// body. It names the record to verify against, so a presented secret costs
/// exactly one hash. Not confidential.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretId([u8; SECRET_ID_LEN]);

impl SecretId {
    /// Parses a stored secret id (8 base62 characters).
    ///
    /// # Errors
    /// [`Error::InvalidSecretId`] for any other text.
    ///
    /// ```
    /// let id = clientcreds_secret::SecretId::parse("Ab3dE9fK")?;
    /// assert_eq!(id.as_str(), "Ab3dE9fK");
    /// # Ok::<(), clientcreds_secret::Error>(())
    /// ```
    pub fn parse(text: &str) -> Result<Self, Error> {
        let bytes: [u8; SECRET_ID_LEN] = text
            .as_bytes()
            .try_into()
            .map_err(|_| Error::InvalidSecretId)?;
        if bytes.iter().all(|b| is_base62(*b)) {
            Ok(Self(bytes))
        } else {
            Err(Error::InvalidSecretId)
        }
    }

    /// The id's text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Only ever built from base62 bytes, which are ASCII.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for SecretId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SecretId").field(&self.as_str()).finish()
    }
}

impl fmt::Display for SecretId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A freshly generated secret with its public parts. The plaintext exists
/// only here: show it once, hash it, and drop this value.
pub struct IssuedSecret {
    id: SecretId,
    display_prefix: String,
    secret: Secret,
}

impl IssuedSecret {
    /// The public id of the secret's record.
    #[must_use]
    pub fn secret_id(&self) -> SecretId {
        self.id
    }

    /// The short, non-secret text to store for UI and audit, such as
    /// `acme_secret_Ab3dE9fK`: prefix, kind and secret id, and not one
    /// character of the 256 random bits.
    #[must_use]
    pub fn display_prefix(&self) -> &str {
        &self.display_prefix
    }

    /// The plaintext secret.
    #[must_use]
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// Takes the plaintext secret, dropping the rest.
    #[must_use]
    pub fn into_secret(self) -> Secret {
        self.secret
    }
}

impl fmt::Debug for IssuedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedSecret")
            .field("secret_id", &self.id)
            .field("display_prefix", &self.display_prefix)
            .field("secret", &self.secret)
            .finish()
    }
}

/// Generates and parses client ids and secrets under one host-chosen prefix.
///
/// ```
/// use clientcreds_secret::{CredentialFormat, Kind};
///
/// let format = CredentialFormat::new("acme_")?;
/// let client_id = format.generate_client_id()?;
/// assert!(client_id.as_str().starts_with("acme_client_"));
///
/// let issued = format.generate_secret()?;
/// // A presented secret names its record before any hashing:
/// let id = format.parse_secret(issued.secret())?;
/// assert_eq!(id, issued.secret_id());
///
/// // A client id is not a secret:
/// let err = format.parse_secret(&client_id.as_str().into()).unwrap_err();
/// assert_eq!(
///     err,
///     clientcreds_secret::Error::WrongKind { expected: Kind::Secret, found: Some(Kind::ClientId) },
/// );
/// # Ok::<(), clientcreds_secret::Error>(())
/// ```
pub struct CredentialFormat {
    prefix: String,
    rng: SystemRandom,
}

impl fmt::Debug for CredentialFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialFormat")
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl CredentialFormat {
    /// A format with the given prefix: 2 to 16 characters, a lowercase
    /// letter, then lowercase letters or digits, then one `_` (e.g. `acme_`).
    ///
    /// # Errors
    /// [`Error::InvalidPrefix`] naming the rule broken.
    pub fn new(prefix: &str) -> Result<Self, Error> {
        validate_prefix(prefix)?;
        Ok(Self {
            prefix: prefix.to_owned(),
            rng: SystemRandom::new(),
        })
    }

    /// The prefix, with its trailing underscore.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A new random client id.
    ///
    /// # Errors
    /// [`Error::Random`] if the system random number generator fails.
    pub fn generate_client_id(&self) -> Result<ClientId, Error> {
        let mut text = String::with_capacity(self.len_of(Kind::ClientId));
        self.start(&mut text, Kind::ClientId);
        self.push_random(&mut text, CLIENT_ID_BODY_LEN)?;
        push_checksum(&mut text);
        Ok(ClientId(text))
    }

    /// A new random secret, with a new secret id.
    ///
    /// # Errors
    /// [`Error::Random`] if the system random number generator fails.
    pub fn generate_secret(&self) -> Result<IssuedSecret, Error> {
        let mut text = Zeroizing::new(String::with_capacity(self.len_of(Kind::Secret)));
        self.start(&mut text, Kind::Secret);
        let id_start = text.len();
        self.push_random(&mut text, SECRET_BODY_LEN)?;
        push_checksum(&mut text);
        let id = text
            .get(id_start..id_start + SECRET_ID_LEN)
            .ok_or(Error::InvalidSecretId)
            .and_then(SecretId::parse)?;
        Ok(IssuedSecret {
            id,
            display_prefix: self.display_prefix(id),
            secret: Secret::from_zeroizing(text),
        })
    }

    /// The display prefix of the secret with this id: `<prefix>secret_<id>`.
    #[must_use]
    pub fn display_prefix(&self, id: SecretId) -> String {
        format!("{}{}_{}", self.prefix, Kind::Secret.marker(), id)
    }

    /// Checks a presented client id offline: prefix, kind, length, alphabet
    /// and checksum.
    ///
    /// # Errors
    /// [`Error::WrongPrefix`], [`Error::WrongKind`], [`Error::WrongLength`],
    /// [`Error::BadAlphabet`] or [`Error::BadChecksum`].
    pub fn parse_client_id(&self, text: &str) -> Result<ClientId, Error> {
        self.check(text, Kind::ClientId)?;
        Ok(ClientId(text.to_owned()))
    }

    /// Checks a presented secret offline and returns the id of the record it
    /// names. Nothing of the secret is copied.
    ///
    /// # Errors
    /// [`Error::WrongPrefix`], [`Error::WrongKind`], [`Error::WrongLength`],
    /// [`Error::BadAlphabet`] or [`Error::BadChecksum`].
    pub fn parse_secret(&self, secret: &Secret) -> Result<SecretId, Error> {
        let body = self.check(secret.expose_secret(), Kind::Secret)?;
        body.get(..SECRET_ID_LEN)
            .ok_or(Error::InvalidSecretId)
            .and_then(SecretId::parse)
    }

    /// The regular expression matching this format's secrets, for secret
    /// scanning (the prefix needs no escaping).
    ///
    /// ```
    /// let format = clientcreds_secret::CredentialFormat::new("acme_")?;
    /// assert_eq!(format.secret_regex(), r"\bacme_secret_[0-9A-Za-z]{57}\b");
    /// # Ok::<(), clientcreds_secret::Error>(())
    /// ```
    #[must_use]
    pub fn secret_regex(&self) -> String {
        format!(
            r"\b{}secret_[0-9A-Za-z]{{{}}}\b",
            self.prefix,
            SECRET_BODY_LEN + CHECKSUM_LEN
        )
    }

    fn len_of(&self, kind: Kind) -> usize {
        self.prefix.len() + kind.marker().len() + 1 + kind.body_len() + CHECKSUM_LEN
    }

    fn start(&self, text: &mut String, kind: Kind) {
        text.push_str(&self.prefix);
        text.push_str(kind.marker());
        text.push('_');
    }

    /// Appends `count` uniform base62 characters (rejection sampling: bytes
    /// at or above 248 = 4 × 62 are discarded, so there is no modulo bias).
    fn push_random(&self, text: &mut String, count: usize) -> Result<(), Error> {
        let mut pool = Zeroizing::new([0u8; 64]);
        let mut pushed = 0;
        while pushed < count {
            self.rng.fill(pool.as_mut()).map_err(|_| Error::Random)?;
            for &byte in pool.iter().filter(|b| **b < 248) {
                if pushed == count {
                    break;
                }
                text.push(char::from(base62_digit(byte)));
                pushed += 1;
            }
        }
        Ok(())
    }

    /// Validates `text` as `kind` and returns its body (without checksum).
    fn check<'t>(&self, text: &'t str, kind: Kind) -> Result<&'t str, Error> {
        let rest = text
            .strip_prefix(self.prefix.as_str())
            .ok_or_else(|| Error::WrongPrefix {
                expected: self.prefix.clone(),
            })?;
        let found = [Kind::ClientId, Kind::Secret].into_iter().find(|k| {
            rest.strip_prefix(k.marker())
                .is_some_and(|r| r.starts_with('_'))
        });
        if found != Some(kind) {
            return Err(Error::WrongKind {
                expected: kind,
                found,
            });
        }
        let head = self.prefix.len() + kind.marker().len() + 1;
        let tail = text.get(head..).unwrap_or_default();
        let expected = kind.body_len() + CHECKSUM_LEN;
        let found_len = tail.chars().count();
        if found_len != expected {
            return Err(Error::WrongLength {
                expected: head + expected,
                found: head + found_len,
            });
        }
        if let Some(at) = tail.bytes().position(|b| !is_base62(b)) {
            return Err(Error::BadAlphabet {
                position: head + at,
            });
        }
        let split = text.len() - CHECKSUM_LEN;
        let (signed, checksum) = text.split_at(split);
        if decode_checksum(checksum) != Some(crc32(signed.as_bytes())) {
            return Err(Error::BadChecksum);
        }
        Ok(signed.get(head..).unwrap_or_default())
    }
}

fn validate_prefix(prefix: &str) -> Result<(), Error> {
    let bytes = prefix.as_bytes();
    let reason = if bytes.len() < 2 || bytes.len() > MAX_PREFIX_LEN {
        Some("must be 2 to 16 characters long")
    } else if !bytes.first().is_some_and(u8::is_ascii_lowercase) {
        Some("must start with a lowercase ASCII letter")
    } else if bytes.last() != Some(&b'_') {
        Some("must end with `_`")
    } else if !bytes.split_last().is_some_and(|(_, head)| {
        head.iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    }) {
        Some("may use only lowercase ASCII letters and digits before the final `_`")
    } else {
        None
    };
    reason.map_or(Ok(()), |reason| Err(Error::InvalidPrefix { reason }))
}

fn base62_digit(value: u8) -> u8 {
    ALPHABET
        .get(usize::from(value % 62))
        .copied()
        .unwrap_or(b'0')
}

fn base62_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'A'..=b'Z' => Some(byte - b'A' + 10),
        b'a'..=b'z' => Some(byte - b'a' + 36),
        _ => None,
    }
}

fn is_base62(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
}

/// Appends CRC32 of everything so far as 6 base62 digits, most significant first.
fn push_checksum(text: &mut String) {
    let mut value = crc32(text.as_bytes());
    let mut digits = [b'0'; CHECKSUM_LEN];
    for digit in digits.iter_mut().rev() {
        // `value % 62` < 62, so the cast cannot truncate.
        *digit = base62_digit((value % 62) as u8);
        value /= 62;
    }
    text.extend(digits.iter().map(|d| char::from(*d)));
}

fn decode_checksum(text: &str) -> Option<u32> {
    let value = text.bytes().try_fold(0u64, |acc, b| {
        base62_value(b).map(|v| acc * 62 + u64::from(v))
    })?;
    u32::try_from(value).ok()
}

/// CRC-32/ISO-HDLC (the zlib and PNG CRC): reflected polynomial 0xEDB88320.
#[expect(
    clippy::indexing_slicing,
    reason = "the index is masked to 0..=255 and the table has 256 entries"
)]
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |crc, &b| {
        CRC_TABLE[((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8)
    })
}

#[expect(
    clippy::indexing_slicing,
    reason = "const evaluation: an out-of-range index fails the build"
)]
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 == 1 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        // The catalogue check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
    }

    #[test]
    fn checksum_round_trips_extremes() {
        for value in [0u32, 1, 61, 62, u32::MAX] {
            let mut digits = [b'0'; CHECKSUM_LEN];
            let mut v = value;
            for d in digits.iter_mut().rev() {
                *d = base62_digit((v % 62) as u8);
                v /= 62;
            }
            let text = std::str::from_utf8(&digits).unwrap();
            assert_eq!(decode_checksum(text), Some(value));
        }
        assert_eq!(decode_checksum("zzzzzz"), None, "62^6-1 exceeds u32");
    }

    #[test]
    fn prefixes() {
        for ok in ["a_", "ab_", "acme_", "x1_", "abcdefghijklmno_"] {
            assert!(CredentialFormat::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "_",
            "a",
            "acme",
            "Acme_",
            "1acme_",
            "ac-me_",
            "ac_me_",
            "abcdefghijklmnop_",
            "acmé_",
        ] {
            assert!(
                matches!(CredentialFormat::new(bad), Err(Error::InvalidPrefix { .. })),
                "{bad}"
            );
        }
    }
}
