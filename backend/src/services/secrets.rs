//! The secrets Troupe hands out (API keys `trp_…`, service keys `trs_…`): a recognisable
//! prefix and 40 random base62 characters (238 bits). Only their first characters (to find
//! them, and to show) and their SHA-256 (compared in constant time) are stored; the secret
//! is random enough that a fast hash is the right one.

use rand::{Rng, distr::Alphanumeric};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const RANDOM_CHARS: usize = 40;
/// How many random characters the stored prefix keeps after the kind's own prefix.
const SHOWN_RANDOM_CHARS: usize = 8;

/// A new secret of the kind that starts with `kind` (`trp_`, `trs_`).
pub fn generate(kind: &str) -> String {
    let random: String = rand::rng().sample_iter(Alphanumeric).take(RANDOM_CHARS).map(char::from).collect();
    format!("{kind}{random}")
}

/// The part of a secret of kind `kind` that is stored in the clear, to find it by.
pub fn stored_prefix<'a>(kind: &str, secret: &'a str) -> Option<&'a str> {
    secret.get(..kind.len() + SHOWN_RANDOM_CHARS)
}

pub fn hash(secret: &str) -> String {
    format!("{:x}", Sha256::digest(secret.as_bytes()))
}

/// Whether `secret` hashes to `stored_hash`, in constant time.
pub fn matches(secret: &str, stored_hash: &str) -> bool {
    hash(secret).as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_and_recognisable() {
        let (a, b) = (generate("trp_"), generate("trp_"));
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + RANDOM_CHARS);
        assert!(a.starts_with("trp_") && a[4..].chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(stored_prefix("trp_", &a).unwrap().len(), 12);
        assert_eq!(hash(&a).len(), 64);
        assert!(matches(&a, &hash(&a)) && !matches(&b, &hash(&a)));
    }
}
