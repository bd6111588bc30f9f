//! One-use records for `jti`s, for the store port `remember_once(key, expires_at)`.

use sha2::{Digest, Sha256};

/// What to remember so a token is accepted once: pass to `remember_once`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    /// `jti:{kind}:{sha256(iss, jti) as hex}`: fixed length, no client text.
    pub key: String,
    /// Until when: the token's `exp` plus the clock skew, since the token is
    /// accepted until then.
    pub expires_at: i64,
}

impl Replay {
    /// The record of a `jti` from `iss` (the `jti` is unique per issuer, RFC 7519 §4.1.7).
    pub(crate) fn new(kind: &str, iss: Option<&str>, jti: &str, exp: i64, skew: i64) -> Replay {
        let mut hash = Sha256::new();
        hash.update(iss.unwrap_or("").as_bytes());
        hash.update([0u8]);
        hash.update(jti.as_bytes());
        let hex: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Replay {
            key: format!("jti:{kind}:{hex}"),
            expires_at: exp.saturating_add(skew.max(0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_scoped_by_issuer_and_kind() {
        let a = Replay::new("request", Some("a"), "1", 100, 60);
        assert_eq!(a.expires_at, 160);
        assert!(a.key.starts_with("jti:request:"));
        assert_eq!(a.key.len(), "jti:request:".len() + 64);
        assert_ne!(a.key, Replay::new("request", Some("b"), "1", 100, 60).key);
        assert_ne!(a.key, Replay::new("statement", Some("a"), "1", 100, 60).key);
        assert_eq!(a, Replay::new("request", Some("a"), "1", 100, 60));
    }
}
