//! Public keys that must never be trusted, whichever backend verifies.
//!
//! - **Small-order Ed25519 keys.** Ed25519 has eight points of order
//!   dividing 8. With one of them as the public key `A`, the verification
//!   equation `[S]B = R + [k]A` holds for the constant signature
//!   `R = identity, S = 0` whatever the message (with the identity as
//!   `A`; the other points let a constant signature through for a fixed
//!   share of messages), so one signature "verifies" every token. The
//!   backends do not refuse such a key (the test `weak_keys` shows the
//!   forgery against ring's raw Ed25519), so this crate does, before the
//!   key reaches the backend. The list is libsodium's
//!   `ge25519_has_small_order` blocklist
//!   (`crypto_core/ed25519/ref10/ed25519_ref10.c`): seven 32-byte values
//!   (`y` = 0, 1, the two order-8 `y`s, `p - 1`, and the non-canonical
//!   `p` and `p + 1`) compared with the sign bit (bit 255) cleared, which
//!   covers both signs of each. That is the 14 encodings (8 points, 6
//!   non-canonical) of the *Taming the many `EdDSAs`* paper (Chalkias et
//!   al., 2020) and of the C2SP/CCTV Ed25519 vectors flagged `low_order_A`.
//! - **RSA public exponents below 65537, or even.** A small exponent (3 is
//!   the classic) opens the way to Bleichenbacher's 2006 forgery of
//!   PKCS#1 v1.5 signatures against lax verifiers and is refused by every
//!   current guideline (NIST SP 800-56B: `65537 ≤ e < 2^256`, odd); an even
//!   exponent is not a valid RSA key at all. ring refuses exponents below
//!   65537 for verification already; aws-lc-rs accepts 3. This check makes
//!   both backends agree.

use crate::KeyError;

/// The smallest RSA public exponent accepted (F4).
pub const MIN_RSA_EXPONENT: u64 = 65_537;

/// libsodium's blocklist of small-order Ed25519 encodings, compared with
/// bit 255 (the sign of x) cleared.
const SMALL_ORDER: [[u8; 32]; 7] = [
    // 0 (order 4).
    [0; 32],
    // 1: the identity (order 1).
    [
        0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0,
    ],
    // 2707385501144840649318225287225658788936804267575313519463743609750303402022 (order 8).
    [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
        0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
        0xfc, 0x05,
    ],
    // 55188659117513257062467267217118295137698188065244968500265048394206261417927 (order 8).
    [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
        0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
        0x03, 0x7a,
    ],
    // p - 1 (order 2).
    [
        0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x7f,
    ],
    // p, a non-canonical 0 (order 4).
    [
        0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x7f,
    ],
    // p + 1, a non-canonical 1 (order 1).
    [
        0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x7f,
    ],
];

/// Refuses a small-order Ed25519 public key (any of the 14 encodings).
///
/// A key's bytes are public, so the comparison need not be constant time.
pub(crate) fn check_ed25519(public: &[u8]) -> Result<(), KeyError> {
    let Ok(public) = <[u8; 32]>::try_from(public) else {
        return Err(KeyError::Jwk("x"));
    };
    let mut masked = public;
    if let Some(last) = masked.last_mut() {
        *last &= 0x7f;
    }
    if SMALL_ORDER.contains(&masked) {
        Err(KeyError::SmallOrderEd25519)
    } else {
        Ok(())
    }
}

/// Refuses an RSA public exponent (big-endian, leading zeros allowed) that
/// is even or below [`MIN_RSA_EXPONENT`].
pub(crate) fn check_rsa_exponent(e: &[u8]) -> Result<(), KeyError> {
    let first = e.iter().position(|b| *b != 0).unwrap_or(e.len());
    let digits = e.get(first..).unwrap_or_default();
    if digits.last().is_none_or(|low| low % 2 == 0) {
        return Err(KeyError::WeakRsaExponent("even"));
    }
    // Eight bytes or fewer fit a u64; more are far above 65537.
    if digits.len() <= 8 {
        let value = digits
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        if value < MIN_RSA_EXPONENT {
            return Err(WEAK_SMALL);
        }
    }
    Ok(())
}

const WEAK_SMALL: KeyError = KeyError::WeakRsaExponent("below 65537");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_exponents() {
        assert_eq!(check_rsa_exponent(&[1, 0, 1]), Ok(()));
        assert_eq!(check_rsa_exponent(&[0, 0, 1, 0, 1]), Ok(()));
        assert_eq!(check_rsa_exponent(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 1]), Ok(()));
        assert_eq!(check_rsa_exponent(&[3]), Err(WEAK_SMALL));
        assert_eq!(check_rsa_exponent(&[1]), Err(WEAK_SMALL));
        assert_eq!(check_rsa_exponent(&[0xff, 0xff]), Err(WEAK_SMALL));
        assert_eq!(
            check_rsa_exponent(&[]),
            Err(KeyError::WeakRsaExponent("even"))
        );
        assert_eq!(
            check_rsa_exponent(&[0]),
            Err(KeyError::WeakRsaExponent("even"))
        );
        assert_eq!(
            check_rsa_exponent(&[1, 0, 2]),
            Err(KeyError::WeakRsaExponent("even"))
        );
        assert_eq!(
            check_rsa_exponent(&[1, 0, 0]),
            Err(KeyError::WeakRsaExponent("even"))
        );
    }

    #[test]
    fn ed25519_wrong_length_is_a_jwk_error() {
        assert_eq!(check_ed25519(&[0; 31]), Err(KeyError::Jwk("x")));
    }
}
