//! Server nonces (RFC 9449 §8, §9), remembered per origin: the last
//! `DPoP-Nonce` an authorization server or API sent goes into the next
//! proof for that origin.

use std::collections::HashMap;
use std::sync::Mutex;

use clientcreds_jwt::dpop::normalize_url;

/// How many origins a client remembers a nonce for; past it, one is
/// forgotten (the server then asks again, costing one retry).
const MAX_ORIGINS: usize = 256;

/// The longest nonce remembered, in bytes.
const MAX_NONCE_LEN: usize = 1024;

/// Nonces by origin (`scheme://host[:port]`, normalized as `htu` is).
#[derive(Default)]
pub(crate) struct NonceStore {
    by_origin: Mutex<HashMap<String, String>>,
}

impl NonceStore {
    /// The nonce last seen from `url`'s origin.
    pub(crate) fn get(&self, url: &str) -> Option<String> {
        let origin = origin(url)?;
        self.by_origin.lock().ok()?.get(&origin).cloned()
    }

    /// Remembers `nonce` for `url`'s origin; ignores a value that is not
    /// an RFC 9449 nonce (`1*NQCHAR`) or is too long. Whether it was kept.
    pub(crate) fn remember(&self, url: &str, nonce: &http::HeaderValue) -> bool {
        let Some(nonce) = valid(nonce) else {
            tracing::debug!("DPoP-Nonce ignored: not a nonce");
            return false;
        };
        let Some(origin) = origin(url) else {
            return false;
        };
        let Ok(mut map) = self.by_origin.lock() else {
            return false;
        };
        if map.get(&origin).is_some_and(|known| known == nonce) {
            return true;
        }
        if map.len() >= MAX_ORIGINS
            && !map.contains_key(&origin)
            && let Some(evicted) = map.keys().next().cloned()
        {
            map.remove(&evicted);
        }
        map.insert(origin, nonce.to_owned());
        true
    }
}

/// `scheme://authority` of an absolute http(s) URL, as `htu` normalizes
/// it (lower case, default port dropped).
fn origin(url: &str) -> Option<String> {
    let mut normalized = normalize_url(url)?;
    let after_scheme = normalized.find("://")? + 3;
    let path = normalized
        .get(after_scheme..)?
        .find('/')
        .map_or(normalized.len(), |i| after_scheme + i);
    normalized.truncate(path);
    Some(normalized)
}

/// The header's text if it is `1*NQCHAR` (RFC 9449 §8.1) and not too long.
fn valid(value: &http::HeaderValue) -> Option<&str> {
    let text = value.to_str().ok()?;
    let nqchar = |c: char| matches!(c, '\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e');
    (!text.is_empty() && text.len() <= MAX_NONCE_LEN && text.chars().all(nqchar)).then_some(text)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn nonces_are_per_origin_and_checked() {
        let store = NonceStore::default();
        let value = |s: &str| http::HeaderValue::from_str(s).unwrap();
        assert!(store.remember("https://AS.example:443/oauth/token?x", &value("n-1")));
        assert_eq!(
            store.get("https://as.example/other").as_deref(),
            Some("n-1")
        );
        assert_eq!(store.get("https://as.example:8443/oauth/token"), None);
        assert_eq!(store.get("http://as.example/oauth/token"), None);
        assert!(!store.remember("https://as.example/", &value("has space")));
        assert!(!store.remember("https://as.example/", &value("quote\"")));
        assert!(!store.remember("https://as.example/", &value(&"n".repeat(1025))));
        assert!(!store.remember("/relative", &value("n-2")));
        assert_eq!(store.get("https://as.example/").as_deref(), Some("n-1"));
        assert!(store.remember("https://as.example/", &value("n-3")));
        assert_eq!(store.get("https://as.example/x").as_deref(), Some("n-3"));
    }

    #[test]
    fn the_store_is_bounded() {
        let store = NonceStore::default();
        let nonce = http::HeaderValue::from_static("n");
        for port in 0..(MAX_ORIGINS + 10) {
            store.remember(&format!("https://h.example:{}/", port + 1000), &nonce);
        }
        assert_eq!(store.by_origin.lock().unwrap().len(), MAX_ORIGINS);
    }
}
