//! CSRF protection (a signed double submit) and single-use forms.
//!
//! The browser holds a random value in an `HttpOnly; SameSite=Strict`
//! cookie; each form carries `HMAC(key, value ‖ administrator)` under a key
//! made for this console. A forged form from another site can neither read
//! the cookie nor compute the HMAC, and the token of one administrator's
//! browser is worthless in another's session.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use time::{Duration, OffsetDateTime};

use crate::Error;

/// The name of the console's CSRF cookie.
pub(crate) const COOKIE: &str = "clientcreds_console_csrf";
/// The form field of the CSRF token.
pub(crate) const FIELD: &str = "csrf";
/// The form field of a single-use form's id.
pub(crate) const FORM_ID: &str = "form_id";

const CONTEXT: &[u8] = b"clientcreds-console csrf v1\0";

/// The key that signs CSRF tokens.
pub(crate) struct Csrf {
    key: hmac::Key,
    random: SystemRandom,
}

impl Csrf {
    pub(crate) fn new() -> Result<Self, Error> {
        let random = SystemRandom::new();
        let key =
            hmac::Key::generate(hmac::HMAC_SHA256, &random).map_err(|_| Error::Unavailable)?;
        Ok(Self { key, random })
    }

    /// A key shared by replicas (at least 32 bytes), so that a form one
    /// replica rendered verifies on another.
    pub(crate) fn with_key(key: &[u8]) -> Result<Self, Error> {
        if key.len() < 32 {
            return Err(Error::Invalid {
                field: "csrf_key".into(),
                reason: "must be at least 32 bytes".into(),
            });
        }
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
            random: SystemRandom::new(),
        })
    }

    /// A fresh random value (the cookie's, or a form's id): 32 bytes,
    /// base64url.
    pub(crate) fn random_value(&self) -> Result<String, Error> {
        let mut bytes = [0u8; 32];
        self.random
            .fill(&mut bytes)
            .map_err(|_| Error::Unavailable)?;
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }

    fn message(cookie: &str, admin: &str) -> Vec<u8> {
        let mut message = Vec::with_capacity(CONTEXT.len() + cookie.len() + admin.len() + 1);
        message.extend_from_slice(CONTEXT);
        message.extend_from_slice(cookie.as_bytes());
        message.push(0);
        message.extend_from_slice(admin.as_bytes());
        message
    }

    /// The token forms carry for this cookie value and administrator.
    pub(crate) fn token(&self, cookie: &str, admin: &str) -> String {
        let tag = hmac::sign(&self.key, &Self::message(cookie, admin));
        URL_SAFE_NO_PAD.encode(tag.as_ref())
    }

    /// Whether `presented` is the token for this cookie value and
    /// administrator (constant time).
    pub(crate) fn verify(&self, cookie: &str, admin: &str, presented: &str) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(presented) else {
            return false;
        };
        hmac::verify(&self.key, &Self::message(cookie, admin), &tag).is_ok()
    }
}

/// The ids of create and rotate forms already submitted, so that a second
/// submission (back button, reload, "resubmit the form?") makes nothing
/// and shows nothing. Kept in memory for a day, at most
/// [`UsedForms::MAX`] ids.
#[derive(Debug, Default)]
pub(crate) struct UsedForms {
    used: Mutex<HashMap<String, OffsetDateTime>>,
}

impl UsedForms {
    /// Most ids remembered; past it the oldest day is forgotten early.
    pub(crate) const MAX: usize = 100_000;
    const KEEP: Duration = Duration::days(1);

    /// Marks `id` used at `now`: `false` if it already was.
    pub(crate) fn claim(&self, id: &str, now: OffsetDateTime) -> bool {
        let mut used = self
            .used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if used.len() >= Self::MAX {
            used.retain(|_, at| now - *at < Self::KEEP);
            if used.len() >= Self::MAX {
                used.clear();
            }
        }
        used.insert(id.to_owned(), now).is_none()
    }

    /// Forgets `id` after the registry refused what its form asked (an
    /// invalid field): nothing was made, so the same form may try again.
    pub(crate) fn release(&self, id: &str) {
        self.used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(id);
    }
}

/// Whether a form id looks like one [`Csrf::random_value`] made.
pub(crate) fn is_form_id(id: &str) -> bool {
    id.len() == 43
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_only_for_its_cookie_and_administrator() -> Result<(), Error> {
        let csrf = Csrf::new()?;
        let cookie = csrf.random_value()?;
        let token = csrf.token(&cookie, "root");
        assert!(csrf.verify(&cookie, "root", &token));
        assert!(!csrf.verify(&cookie, "admin@acme", &token));
        assert!(!csrf.verify(&csrf.random_value()?, "root", &token));
        assert!(!csrf.verify(&cookie, "root", ""));
        assert!(!csrf.verify(&cookie, "root", "not base64!"));
        // Another console's key does not accept it; a shared key does.
        assert!(!Csrf::new()?.verify(&cookie, "root", &token));
        let a = Csrf::with_key(&[9; 32])?;
        let b = Csrf::with_key(&[9; 32])?;
        assert!(b.verify(&cookie, "root", &a.token(&cookie, "root")));
        assert!(Csrf::with_key(&[9; 31]).is_err());
        Ok(())
    }

    #[test]
    fn a_form_id_is_claimed_once() -> Result<(), Error> {
        let forms = UsedForms::default();
        let id = Csrf::new()?.random_value()?;
        assert!(is_form_id(&id));
        let now = OffsetDateTime::UNIX_EPOCH;
        assert!(forms.claim(&id, now));
        assert!(!forms.claim(&id, now + Duration::hours(1)));
        forms.release(&id);
        assert!(forms.claim(&id, now));
        assert!(!is_form_id("short"));
        Ok(())
    }
}
