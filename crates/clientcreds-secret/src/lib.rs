//! Client ids and secrets for OAuth 2.0 client credentials.
//!
//! This crate owns the credential itself, and nothing about storage or HTTP:
//!
//! - **Generation** with ring's `SystemRandom`: client ids of 119 random
//!   bits and secrets of 256 random bits ([`CredentialFormat`]).
//! - **A text format** `<prefix><kind>_<body><checksum>` with a CRC32
//!   checksum, so a mistyped or truncated credential is refused offline,
//!   before any hashing, and leaked secrets can be found by scanners with
//!   [`SECRET_REGEX`]. A secret's body starts with its public [`SecretId`],
//!   which names the one stored record to check it against.
//! - **Hashing** with [`SecretHasher`]: keyed HMAC-SHA256 by default,
//!   PBKDF2-HMAC-SHA256 on request, as self-describing strings that name
//!   their algorithm and key, verified in constant time, upgraded when the
//!   scheme or pepper changes, and a [`SecretHasher::verify_dummy`] that
//!   costs what a real check costs.
//! - **[`MasterKeys`]**: the deployment's root keys, from which the pepper
//!   and the key that seals stored signing keys are derived (HKDF-SHA256),
//!   rotatable without breaking old hashes or sealed keys.
//! - **[`Secret`]**, a string that prints `[redacted]`, is zeroized on drop
//!   and has no `Clone` or `Serialize`.
//!
//! # Quick start
//!
//! ```
//! use clientcreds_secret::{CredentialFormat, PepperKey, Secret, SecretHasher, Verification};
//!
//! // Once, at start-up. Load the pepper from your secret manager, not from code.
//! let format = CredentialFormat::new("acme_")?;
//! let hasher = SecretHasher::hmac_sha256(PepperKey::new("2026-11", &[0x5a; 32])?)?;
//!
//! // Creating a client: show the secret once, store only its hash.
//! let client_id = format.generate_client_id()?;
//! let issued = format.generate_secret()?;
//! let stored = (issued.secret_id(), hasher.hash(issued.secret())?, issued.display_prefix().to_owned());
//! let shown_once = issued.into_secret();
//!
//! // A caller presents the secret: check its text, find its record, verify.
//! let presented = Secret::from(shown_once.expose_secret());
//! let secret_id = format.parse_secret(&presented)?;
//! assert_eq!(secret_id, stored.0);
//! assert_eq!(hasher.verify(&presented, &stored.1)?, Verification::Valid);
//!
//! // A typo is caught before any hashing.
//! let typo = Secret::from(presented.expose_secret().replacen("secret_", "secret_x", 1));
//! assert!(format.parse_secret(&typo).unwrap_err().is_malformed_credential());
//! # let _ = client_id;
//! # Ok::<(), clientcreds_secret::Error>(())
//! ```
//!
//! # The text format
//!
//! A credential reads `<prefix><kind>_<body><checksum>`:
//!
//! | part | client id | secret |
//! |---|---|---|
//! | prefix | chosen by the host: `[a-z][a-z0-9]{0,14}_`, e.g. `acme_` | same |
//! | kind | `client` | `secret` |
//! | body | 20 random base62 characters (119 bits) | the 8-character public [`SecretId`], then 43 random base62 characters (256 bits) |
//! | checksum | 6 base62 characters of CRC32 over everything before it | same |
//!
//! Base62 is `[0-9A-Za-z]`: no character that URL, form or Basic encoding
//! changes, and a double click selects the whole credential. Random
//! characters are drawn by rejection sampling, so there is no modulo bias.
//! The parse checks run in the order prefix, kind, length, alphabet,
//! checksum, and each failure is its own [`Error`] variant; none repeats the
//! presented text. The *display prefix* stored for UI and audit is
//! `<prefix>secret_<secret id>` ([`IssuedSecret::display_prefix`]): it
//! identifies the secret to a human and reveals none of its random bits.
//!
//! # Matching leaked secrets
//!
//! Every secret matches [`SECRET_REGEX`],
//! `\b[a-z][a-z0-9]{0,14}_secret_[0-9A-Za-z]{57}\b`, and a format's own
//! secrets match [`CredentialFormat::secret_regex`], e.g.
//! `\bacme_secret_[0-9A-Za-z]{57}\b`. Register the latter with your secret
//! scanner; the checksum lets it drop look-alikes.
//!
//! # Why a fast hash
//!
//! Password-hashing speed (bcrypt, Argon2) protects low-entropy human
//! passwords. A 256-bit random secret has no dictionary to attack, so the
//! slowness buys nothing and costs every token request. The pepper keeps a
//! stolen database useless without the key, and the key id in each hash
//! lets the pepper rotate.

#![forbid(unsafe_code)]

mod error;
mod format;
mod hash;
mod master;
mod secret;

pub use error::Error;
pub use format::{
    CHECKSUM_LEN, CLIENT_ID_BODY_LEN, ClientId, CredentialFormat, IssuedSecret, Kind,
    SECRET_ID_LEN, SECRET_KEY_LEN, SECRET_REGEX, SecretId,
};
pub use hash::{
    DEFAULT_PBKDF2_ITERATIONS, MAX_PBKDF2_ITERATIONS, MIN_PBKDF2_ITERATIONS, MIN_PEPPER_LEN,
    PepperKey, SecretHash, SecretHasher, Verification,
};
pub use master::{
    GENERATED_MASTER_KEY_LEN, MASTER_KEYS_FILE_VAR, MASTER_KEYS_VAR, MAX_MASTER_KEYS,
    MIN_MASTER_KEY_LEN, MasterKeys,
};
pub use secret::Secret;
