//! The bodies of clientcreds' fuzz targets, one function per target.
//!
//! Every parser of clientcreds that reads bytes an attacker controls has an
//! entry here: `fn(&[u8])`, which feeds the bytes to the parser through its
//! public API and checks, besides "no panic", the properties that are cheap
//! to check (parse → format → parse round trips, typed errors that map to a
//! 4xx answer, no forged verification). A broken property panics, which is
//! what a fuzzer reports as a crash.
//!
//! Two callers use the same functions:
//! - the cargo-fuzz targets in `fuzz/fuzz_targets/`, each a one-line call
//!   (`cargo fuzz run token_request`, see `fuzz/README.md`);
//! - this crate's test `tests/corpus.rs`, which replays every file of the
//!   committed seed corpus `fuzz/corpus/<target>/` on the stable toolchain,
//!   so `cargo test --workspace` catches a reintroduced crash without a
//!   fuzzer.
//!
//! ```
//! // Any bytes at all: an entry never panics on input, only on a broken property.
//! for (_name, entry) in clientcreds_fuzz_entries::TARGETS {
//!     let _ = entry(b"");
//!     let _ = entry(b"Basic Og==\n\ngrant_type=client_credentials");
//!     let _ = entry(&[0xff, 0x00, b'%']);
//! }
//! ```

#![forbid(unsafe_code)]
// A broken property must crash the fuzzer: assertions are the point here.
#![allow(clippy::panic)]

mod admin_side;
mod assertion_oracle;
mod assertion_side;
mod dpop_side;
mod http_side;
mod jwt_side;
mod proxy_side;
mod resource_side;
mod secret_side;

pub use admin_side::admin_json;
pub use assertion_side::client_assertion;
pub use dpop_side::{DPOP_ENDPOINT, DPOP_NOW, dpop_proof};
pub use http_side::{basic_credentials, bearer_header, introspection_request, token_request};
pub use jwt_side::{jwks_import, jwt_verify};
pub use proxy_side::forwarded_header;
pub use resource_side::dpop_resource;
pub use secret_side::{master_keys, secret_text, stored_hash};

/// A fuzz entry: takes arbitrary bytes, panics only when a property breaks,
/// and says what the parser made of them.
pub type Entry = fn(&[u8]) -> Outcome;

/// What the parser under test made of an input. The fuzzer ignores it; the
/// corpus test uses it to check that every target's seeds reach both the
/// accepting and the refusing paths (so a broken fixture or a rotten seed
/// cannot make the replay pass vacuously).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The parser accepted the input (and the property checks ran on it).
    Accepted,
    /// The parser refused the input with a typed error.
    Refused,
    /// The input never reached the parser (not UTF-8, not a header value,
    /// not the entry's layout).
    Skipped,
}

impl Outcome {
    fn of<T, E>(result: &Result<T, E>) -> Self {
        if result.is_ok() {
            Self::Accepted
        } else {
            Self::Refused
        }
    }

    /// The better of two outcomes: accepted over refused over skipped.
    fn or(self, other: Self) -> Self {
        match (self, other) {
            (Self::Accepted, _) | (_, Self::Accepted) => Self::Accepted,
            (Self::Refused, _) | (_, Self::Refused) => Self::Refused,
            _ => Self::Skipped,
        }
    }
}

/// Every target by its cargo-fuzz name (the `[[bin]]` names of
/// `fuzz/Cargo.toml` and the folders of `fuzz/corpus/`).
pub const TARGETS: &[(&str, Entry)] = &[
    ("token_request", token_request),
    ("basic_credentials", basic_credentials),
    ("bearer_header", bearer_header),
    ("introspection_request", introspection_request),
    ("secret_text", secret_text),
    ("stored_hash", stored_hash),
    ("jwt_verify", jwt_verify),
    ("jwks_import", jwks_import),
    ("master_keys", master_keys),
    ("admin_json", admin_json),
    ("forwarded_header", forwarded_header),
    ("client_assertion", client_assertion),
    ("dpop_proof", dpop_proof),
    ("dpop_resource", dpop_resource),
];
