//! The [`Secret`] type: a string that never prints.

use std::fmt;

use zeroize::Zeroizing;

/// A client secret in plaintext: generated, or presented by a caller.
///
/// `Debug` and `Display` print `[redacted]`; the memory is zeroized on drop;
/// reading the text needs an explicit [`Secret::expose_secret`]. It
/// implements neither `Clone` nor `Serialize`, so it is not copied or
/// written out by accident.
///
/// ```
/// use clientcreds_secret::Secret;
///
/// let secret = Secret::from("acme_secret_hunter2");
/// assert_eq!(format!("{secret} {secret:?}"), "[redacted] Secret([redacted])");
/// assert_eq!(secret.expose_secret(), "acme_secret_hunter2");
/// ```
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret received as text (for example from a token request).
    #[must_use]
    pub fn new(text: String) -> Self {
        Self(Zeroizing::new(text))
    }

    pub(crate) fn from_zeroizing(text: Zeroizing<String>) -> Self {
        Self(text)
    }

    /// The plaintext. Call it only where the text must leave: to show it to
    /// its owner once, or to hash it.
    #[must_use]
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(text: String) -> Self {
        Self::new(text)
    }
}

impl From<&str> for Secret {
    fn from(text: &str) -> Self {
        Self::new(text.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}
