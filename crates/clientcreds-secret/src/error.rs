//! The crate's one error type.

use crate::format::Kind;

/// Everything that can go wrong in this crate.
///
/// No variant ever carries a secret, a hash or any part of a presented
/// credential: the messages are safe to log. Parsing failures
/// ([`Error::is_malformed_credential`]) are bad input from a caller; the
/// others are configuration mistakes, corrupt stored data, or a failure of
/// the operating system's random number generator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The prefix given to [`CredentialFormat::new`](crate::CredentialFormat::new)
    /// is not 2 to 16 characters of `[a-z][a-z0-9]*_`.
    #[error("invalid credential prefix: {reason}")]
    InvalidPrefix {
        /// Why the prefix was refused.
        reason: &'static str,
    },
    /// The credential does not start with the configured prefix.
    #[error("credential does not start with the expected prefix `{expected}`")]
    WrongPrefix {
        /// The prefix this format expects.
        expected: String,
    },
    /// The credential is of another kind (a client id where a secret was
    /// expected, or no known kind at all).
    #[error("expected a {expected}, found {}", found.map_or("credential of unknown kind", Kind::describe))]
    WrongKind {
        /// The kind the caller asked for.
        expected: Kind,
        /// The kind found in the text, if one was recognised.
        found: Option<Kind>,
    },
    /// The credential has the wrong number of characters (truncated or extended).
    #[error("credential has {found} characters, expected {expected}")]
    WrongLength {
        /// The length the format prescribes, in characters.
        expected: usize,
        /// The length found, in characters.
        found: usize,
    },
    /// A character outside the base62 alphabet appears in the body.
    #[error("credential has a character outside [0-9A-Za-z] at position {position}")]
    BadAlphabet {
        /// Zero-based character position of the first offending character.
        position: usize,
    },
    /// The CRC32 checksum does not match: the credential was mistyped or altered.
    #[error("credential checksum does not match (mistyped or altered)")]
    BadChecksum,
    /// A stored secret id is not 8 base62 characters.
    #[error("invalid secret id: expected 8 characters of [0-9A-Za-z]")]
    InvalidSecretId,
    /// A pepper key id is empty, longer than 64 bytes, or uses characters
    /// other than `[A-Za-z0-9._-]`.
    #[error("invalid pepper key id: use 1 to 64 characters of [A-Za-z0-9._-]")]
    InvalidKeyId,
    /// A pepper key is shorter than 32 bytes.
    #[error("pepper key is {len} bytes; at least 32 are required")]
    WeakPepper {
        /// The length that was given.
        len: usize,
    },
    /// Two pepper keys were given the same id.
    #[error("key id `{key_id}` is used twice")]
    DuplicateKeyId {
        /// The repeated key id.
        key_id: String,
    },
    /// A PBKDF2 iteration count is outside the accepted range.
    #[error("PBKDF2 iteration count {iterations} is outside {min}..={max}")]
    IterationsOutOfRange {
        /// The count that was given.
        iterations: u32,
        /// Smallest accepted count.
        min: u32,
        /// Largest accepted count.
        max: u32,
    },
    /// A stored hash string is not of the form `<algorithm>$<params>$<key id or salt>$<hash>`.
    #[error("stored secret hash is malformed")]
    MalformedHash,
    /// A stored hash names an algorithm this crate does not know.
    #[error("stored secret hash names an unknown algorithm")]
    UnknownAlgorithm,
    /// A stored hash was made with a pepper key this hasher does not hold.
    #[error("stored secret hash uses pepper key `{key_id}`, which this hasher does not hold")]
    UnknownKeyId {
        /// The key id named by the stored hash.
        key_id: String,
    },
    /// A master key text holds no entry.
    #[error(
        "no master key given: expected `id:base64url[,id:base64url…]` (make one with `MasterKeys::generate_entry`)"
    )]
    NoMasterKeys,
    /// A master key entry is not `id:base64url` with a valid id and base64url key.
    #[error("master key entry {position} is malformed: {reason}")]
    MalformedMasterKey {
        /// The entry's position, counting from 1.
        position: usize,
        /// What is wrong with it (never any key byte).
        reason: &'static str,
    },
    /// A master key is shorter than [`MIN_MASTER_KEY_LEN`](crate::MIN_MASTER_KEY_LEN) bytes.
    #[error("master key entry {position} (`{id}`) is {len} bytes; at least 32 are required")]
    WeakMasterKey {
        /// The entry's position, counting from 1.
        position: usize,
        /// The entry's id.
        id: String,
        /// The decoded length.
        len: usize,
    },
    /// More master keys than [`MAX_MASTER_KEYS`](crate::MAX_MASTER_KEYS).
    #[error("{count} master keys given; at most {max} are accepted (drop retired ones)")]
    TooManyMasterKeys {
        /// How many were given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// Sealed data names a master key this set does not hold.
    #[error("the data was sealed under master key `{key_id}`, which is not in the master key set")]
    UnknownMasterKey {
        /// The master key id the sealed data names.
        key_id: String,
    },
    /// Sealed data did not open under the master key of its id: the key
    /// bytes differ from the ones that sealed it, or the data was altered.
    #[error(
        "the data sealed under master key `{key_id}` does not open with the key of that id (wrong key, or altered data)"
    )]
    SealedDataRejected {
        /// The master key id the sealed data names.
        key_id: String,
    },
    /// Text given to [`MasterKeys::open`](crate::MasterKeys::open) was not made by `seal`.
    #[error("sealed data is malformed")]
    MalformedSealed,
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// HKDF refused to derive a key (it does not for 32-byte outputs).
    #[error("key derivation failed")]
    KeyDerivation,
    /// [`MasterKeys::from_env`](crate::MasterKeys::from_env) found neither
    /// variable set.
    #[error(
        "no master keys: set {var} to `id:base64url[,id:base64url…]`, or {file_var} to the path of a file holding it"
    )]
    MasterKeysNotSet {
        /// The variable holding the keys.
        var: &'static str,
        /// The variable naming a file that holds them.
        file_var: &'static str,
    },
    /// Both variables were set, and it is unclear which one is meant.
    #[error("both {var} and {file_var} are set; set one")]
    MasterKeysSetTwice {
        /// The variable holding the keys.
        var: &'static str,
        /// The variable naming a file that holds them.
        file_var: &'static str,
    },
    /// A variable is set but is not Unicode.
    #[error("{var} is not valid Unicode")]
    MasterKeysNotUnicode {
        /// The variable.
        var: &'static str,
    },
    /// The file named by the `_FILE` variable could not be read.
    #[error("cannot read the master keys file `{path}` named by {file_var} ({kind})")]
    MasterKeysFile {
        /// The variable that named it.
        file_var: &'static str,
        /// The path it named.
        path: String,
        /// Why it could not be read.
        kind: std::io::ErrorKind,
    },
    /// The text found in a variable or its file is not a master key set.
    /// The source names what is wrong (never a key byte).
    #[error("the master keys from {from} are not valid")]
    MasterKeysInvalid {
        /// The variable (or the `_FILE` variable) they came from.
        from: &'static str,
        /// What is wrong with them.
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// True when the error says a presented credential is malformed (wrong
    /// prefix, kind, length, alphabet or checksum): bad input from the caller,
    /// to be answered like a wrong secret, not a server fault.
    #[must_use]
    pub fn is_malformed_credential(&self) -> bool {
        matches!(
            self,
            Self::WrongPrefix { .. }
                | Self::WrongKind { .. }
                | Self::WrongLength { .. }
                | Self::BadAlphabet { .. }
                | Self::BadChecksum
        )
    }
}
