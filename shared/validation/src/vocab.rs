//! The shared vocabulary of the metadata rules: the names every layer speaks
//! (grant types, response types, auth methods, algorithm lists, server-owned
//! members) and [`Kind`], what a field's value must look like. It depends on
//! nothing but the error type and the limits, so the rule modules (fields,
//! kinds, grants, redirect, auth, algs, ciba, policy, profile, defaults) all
//! import from here and none of them from another in a circle.

use crate::error::{ErrorCode, MetadataError, shown};

// ---- members ----------------------------------------------------------------

/// Members of client information that only the server sets (RFC 7591 §3.2.1, RFC 7592 §3).
pub const SERVER_OWNED: &[&str] = &[
    "client_id",
    "client_secret",
    "client_id_issued_at",
    "client_secret_expires_at",
    "registration_access_token",
    "registration_client_uri",
];

// ---- grant types (RFC 7591 §2, OpenID CIBA Core §4) ---------------------------

/// The authorization code grant.
pub(crate) const AUTHORIZATION_CODE: &str = "authorization_code";
/// The implicit grant.
pub(crate) const IMPLICIT: &str = "implicit";
/// The client credentials grant (RFC 6749 §4.4).
pub(crate) const CLIENT_CREDENTIALS: &str = "client_credentials";

/// Known `grant_types` values.
pub(crate) const GRANT_TYPES: &[&str] = &[
    AUTHORIZATION_CODE,
    IMPLICIT,
    "password",
    CLIENT_CREDENTIALS,
    "refresh_token",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
    "urn:ietf:params:oauth:grant-type:saml2-bearer",
    "urn:ietf:params:oauth:grant-type:device_code",
    "urn:openid:params:grant-type:ciba",
    "urn:ietf:params:oauth:grant-type:token-exchange",
];

/// The CIBA grant type.
pub(crate) const CIBA_GRANT: &str = "urn:openid:params:grant-type:ciba";

/// `backchannel_token_delivery_mode` values.
pub(crate) const DELIVERY_MODES: &[&str] = &["poll", "ping", "push"];

// ---- response types (RFC 7591 §2, OAuth 2.0 Multiple Response Types) ---------

/// A parsed response type: which of the four parts it combines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ResponseType {
    code: bool,
    token: bool,
    id_token: bool,
    none: bool,
}

impl ResponseType {
    /// Parses `code`, `token`, `id_token`, `none` joined by single spaces,
    /// each at most once, `none` alone.
    pub(crate) fn parse(s: &str) -> Result<Self, String> {
        let mut rt = ResponseType::default();
        for part in s.split(' ') {
            let slot = match part {
                "code" => &mut rt.code,
                "token" => &mut rt.token,
                "id_token" => &mut rt.id_token,
                "none" => &mut rt.none,
                "" => return Err("parts must be separated by single spaces".into()),
                other => return Err(format!("unsupported response type {}", shown(other))),
            };
            if *slot {
                return Err(format!("{} appears twice", shown(part)));
            }
            *slot = true;
        }
        if rt.none && (rt.code || rt.token || rt.id_token) {
            return Err("\"none\" must be used alone".into());
        }
        Ok(rt)
    }

    /// The parts in a fixed order, space-separated (for set comparisons).
    pub(crate) fn canonical(self) -> String {
        let parts = [
            (self.code, "code"),
            (self.id_token, "id_token"),
            (self.token, "token"),
            (self.none, "none"),
        ];
        let names: Vec<&str> = parts.iter().filter(|p| p.0).map(|p| p.1).collect();
        names.join(" ")
    }

    /// Whether it issues a code (needs and serves `authorization_code`).
    pub(crate) fn has_code(self) -> bool {
        self.code
    }

    /// Whether it issues a token from the authorization endpoint (serves `implicit`).
    pub(crate) fn serves_implicit(self) -> bool {
        self.token || self.id_token
    }

    /// Whether it needs the `implicit` grant; `hybrid` is the profile's hybrid row.
    pub(crate) fn needs_implicit(self, hybrid: bool) -> bool {
        self.serves_implicit() && (!self.code || hybrid)
    }
}

/// Response types in canonical form (unparseable ones are skipped).
pub(crate) fn canonical_all(values: &[impl AsRef<str>]) -> Vec<String> {
    values
        .iter()
        .filter_map(|v| ResponseType::parse(v.as_ref()).ok())
        .map(ResponseType::canonical)
        .collect()
}

// ---- token endpoint auth methods (RFC 7591 §2, RFC 8705) ---------------------

/// The auth method of a public client.
pub(crate) const PUBLIC_METHOD: &str = "none";

/// `token_endpoint_auth_method` values (IANA registry, RFC 7591 + RFC 8705).
pub(crate) const AUTH_METHODS: &[&str] = &[
    "none",
    "client_secret_basic",
    "client_secret_post",
    "client_secret_jwt",
    "private_key_jwt",
    "tls_client_auth",
    "self_signed_tls_client_auth",
];

/// Whether a token endpoint auth method uses a client secret.
pub fn needs_secret(method: &str) -> bool {
    matches!(
        method,
        "client_secret_basic" | "client_secret_post" | "client_secret_jwt"
    )
}

// ---- algorithms (RFC 7518, OIDC DCR §2) --------------------------------------

/// Known JWS algorithms (RFC 7518, RFC 8037, RFC 8812, RFC 9864); `none` excluded.
pub(crate) const JWS_ALGS: &[&str] = &[
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
    "ES384", "ES512", "ES256K", "EdDSA", "Ed25519", "Ed448",
];

/// Known JWE key-management algorithms.
pub(crate) const JWE_ALGS: &[&str] = &[
    "RSA-OAEP",
    "RSA-OAEP-256",
    "RSA-OAEP-384",
    "RSA-OAEP-512",
    "ECDH-ES",
    "ECDH-ES+A128KW",
    "ECDH-ES+A192KW",
    "ECDH-ES+A256KW",
    "A128KW",
    "A192KW",
    "A256KW",
    "A128GCMKW",
    "A192GCMKW",
    "A256GCMKW",
    "dir",
];

/// Known JWE content-encryption algorithms.
pub(crate) const JWE_ENCS: &[&str] = &[
    "A128CBC-HS256",
    "A192CBC-HS384",
    "A256CBC-HS512",
    "A128GCM",
    "A192GCM",
    "A256GCM",
];

/// The `enc` applied when only the `alg` is given (OIDC DCR §2).
pub(crate) const DEFAULT_ENC: &str = "A128CBC-HS256";

/// Whether a JWS algorithm is an HMAC.
pub(crate) fn is_hmac(alg: &str) -> bool {
    alg.starts_with("HS")
}

/// The `enc` field paired with each JWE `alg` field (OIDC DCR §2).
pub(crate) const ENC_PAIRS: &[(&str, &str)] = &[
    (
        "id_token_encrypted_response_alg",
        "id_token_encrypted_response_enc",
    ),
    (
        "userinfo_encrypted_response_alg",
        "userinfo_encrypted_response_enc",
    ),
    (
        "request_object_encryption_alg",
        "request_object_encryption_enc",
    ),
    (
        "authorization_encrypted_response_alg",
        "authorization_encrypted_response_enc",
    ),
];

// ---- field kinds ----------------------------------------------------------------

/// What a field's value must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A non-empty string without control characters, at most this many bytes.
    Text(usize),
    /// An e-mail-like string (`local@domain`).
    Email,
    /// An absolute URI of any safe scheme (fragment allowed).
    Uri,
    /// `https`, or `http` to a loopback host; `fragment` says whether one is allowed.
    WebUri { fragment: bool },
    /// A redirection URI: absolute, safe scheme, no fragment (app-type rules run later).
    RedirectUri,
    /// An IPv4 or IPv6 address.
    Ip,
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// A JWS algorithm other than `none`.
    SigningAlg,
    /// A JWE `alg`.
    EncAlg,
    /// A JWE `enc`.
    EncEnc,
    /// A JSON boolean.
    Bool,
    /// A non-negative JSON integer (seconds).
    Seconds,
    /// An RFC 6749 §3.3 scope string.
    Scope,
    /// A space-separated combination of `code`, `token`, `id_token`, `none`.
    ResponseType,
    /// A public JWK Set.
    Jwks,
    /// An array of `item`, with `min..=max` entries, no duplicates.
    List {
        /// The kind of each entry.
        item: &'static Kind,
        /// Fewest entries.
        min: usize,
        /// Most entries.
        max: usize,
    },
    /// A [`Kind::Text`] or an array of them (profile claims such as `software_roles`).
    TextOrList(usize, usize),
}

impl Kind {
    /// The RFC 7591 error code of a value of this kind that fails its check.
    pub(crate) fn code(self) -> ErrorCode {
        match self {
            Kind::RedirectUri => ErrorCode::InvalidRedirectUri,
            Kind::List { item, .. } => item.code(),
            _ => ErrorCode::InvalidClientMetadata,
        }
    }

    /// The one error constructor of the field layer.
    pub(crate) fn fail(self, path: &str, message: impl std::fmt::Display) -> MetadataError {
        MetadataError::new(self.code(), path, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_have_no_none_or_weak_algs() {
        assert!(!JWS_ALGS.contains(&"none"));
        assert!(!JWE_ALGS.contains(&"RSA1_5"));
        assert!(JWE_ENCS.contains(&DEFAULT_ENC));
    }
}
