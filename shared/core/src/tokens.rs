//! Credentials: generation from the OS CSPRNG, hashing, constant-time comparison.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Random bytes in a `client_id` (128 bits).
pub const CLIENT_ID_BYTES: usize = 16;
/// Random bytes in a registration access token (256 bits); client secrets
/// are of the profile's size (`dcr_validation::profile`, 256 bits but uk-ob's).
pub const SECRET_BYTES: usize = 32;

/// `n` bytes from the OS CSPRNG, base64url without padding.
pub fn random_token(n: usize) -> Result<String, getrandom::Error> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf)?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// base64url SHA-256 of a token: the only form in which tokens are stored.
pub fn hash_token(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// Constant-time equality of two strings (length may leak, content does not).
pub fn ct_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_base64url_of_the_requested_entropy() {
        let t = random_token(SECRET_BYTES).unwrap();
        assert_eq!(t.len(), 43);
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(random_token(CLIENT_ID_BYTES).unwrap().len(), 22);
        let uk_ob = dcr_validation::Profile::UkOb.rules();
        assert_eq!(
            random_token(uk_ob.registration.client_secret_bytes)
                .unwrap()
                .len(),
            36
        );
    }

    #[test]
    fn tokens_differ() {
        assert_ne!(random_token(32).unwrap(), random_token(32).unwrap());
    }

    #[test]
    fn hash_is_sha256_base64url() {
        // SHA-256("abc") = ba7816bf...
        assert_eq!(
            hash_token("abc"),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
        assert_ne!(hash_token("abc"), hash_token("abd"));
    }

    #[test]
    fn ct_eq_compares_content() {
        assert!(ct_eq("same", "same"));
        assert!(!ct_eq("same", "sane"));
        assert!(!ct_eq("same", "same-longer"));
    }
}
