//! The signature algorithms this crate will ever verify.
//!
//! Only asymmetric JWS algorithms exist in [`Alg`], so an allowlist cannot name
//! `none` or an HMAC algorithm: a token whose header says `none`, `HS256`,
//! `HS384` or `HS512` fails [`Alg::parse`] and is refused whatever the policy
//! (the classic "HMAC keyed with the public key" confusion cannot happen).

use std::fmt;

use jsonwebtoken::Algorithm;

/// An asymmetric JWS algorithm (RFC 7518 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
}

/// Every supported algorithm: the default allowlist where a use names none.
pub const ALL_ALGS: &[Alg] = &[
    Alg::RS256,
    Alg::RS384,
    Alg::RS512,
    Alg::PS256,
    Alg::PS384,
    Alg::PS512,
    Alg::ES256,
    Alg::ES384,
];

/// The key a JWS algorithm needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    /// An RSA key (`kty: RSA`).
    Rsa,
    /// An EC key on P-256.
    P256,
    /// An EC key on P-384.
    P384,
}

impl Alg {
    /// The algorithm a JOSE `alg` value names; `None` for `none`, HMAC and anything unknown.
    pub fn parse(name: &str) -> Option<Alg> {
        ALL_ALGS.iter().copied().find(|a| a.name() == name)
    }

    /// Parses a configured list (e.g. `software_statement_validation.signing_algs`).
    pub fn parse_list<S: AsRef<str>>(names: &[S]) -> Result<Vec<Alg>, String> {
        names
            .iter()
            .map(|n| {
                Alg::parse(n.as_ref())
                    .ok_or_else(|| format!("`{}` is not an accepted algorithm", n.as_ref()))
            })
            .collect()
    }

    /// The JOSE name (`PS256`).
    pub fn name(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::RS512 => "RS512",
            Alg::PS256 => "PS256",
            Alg::PS384 => "PS384",
            Alg::PS512 => "PS512",
            Alg::ES256 => "ES256",
            Alg::ES384 => "ES384",
        }
    }

    /// The kind of key that can verify this algorithm.
    pub(crate) fn key_kind(self) -> KeyKind {
        match self {
            Alg::ES256 => KeyKind::P256,
            Alg::ES384 => KeyKind::P384,
            _ => KeyKind::Rsa,
        }
    }

    /// The jsonwebtoken algorithm.
    pub(crate) fn jwt(self) -> Algorithm {
        match self {
            Alg::RS256 => Algorithm::RS256,
            Alg::RS384 => Algorithm::RS384,
            Alg::RS512 => Algorithm::RS512,
            Alg::PS256 => Algorithm::PS256,
            Alg::PS384 => Algorithm::PS384,
            Alg::PS512 => Algorithm::PS512,
            Alg::ES256 => Algorithm::ES256,
            Alg::ES384 => Algorithm::ES384,
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The algorithms in `configured` that `restriction` (a profile's list) also allows.
pub(crate) fn intersect(configured: &[Alg], restriction: Option<&[&str]>) -> Vec<Alg> {
    match restriction {
        None => configured.to_vec(),
        Some(r) => configured
            .iter()
            .copied()
            .filter(|a| r.contains(&a.name()))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_refuses_none_and_hmac() {
        for bad in [
            "none", "None", "NONE", "HS256", "HS384", "HS512", "EdDSA", "",
        ] {
            assert_eq!(Alg::parse(bad), None, "{bad}");
        }
        for a in ALL_ALGS {
            assert_eq!(Alg::parse(a.name()), Some(*a));
        }
    }

    #[test]
    fn parse_list_names_the_bad_entry() {
        assert_eq!(
            Alg::parse_list(&["PS256", "ES256"]),
            Ok(vec![Alg::PS256, Alg::ES256])
        );
        let e = Alg::parse_list(&["PS256", "HS256"]).unwrap_err();
        assert!(e.contains("HS256"));
    }

    #[test]
    fn intersect_with_profile() {
        assert_eq!(
            intersect(&[Alg::RS256, Alg::PS256], Some(&["PS256", "ES256"])),
            vec![Alg::PS256]
        );
        assert_eq!(intersect(&[Alg::RS256], None), vec![Alg::RS256]);
    }

    /// The profile table names algorithms as text: every name must be one of
    /// ours, or a restriction would silently drop it.
    #[test]
    fn the_profile_table_names_only_known_algorithms() {
        for profile in dcr_validation::Profile::ALL {
            let rules = profile.rules();
            for names in [rules.statement.algs, rules.request_object.algs]
                .into_iter()
                .flatten()
            {
                for name in names {
                    assert!(Alg::parse(name).is_some(), "{profile:?}: {name}");
                }
            }
        }
    }
}
