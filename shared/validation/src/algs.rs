//! JOSE algorithm lists and the rules that tie algorithms to the auth method
//! and to the client's keys.
//!
//! Decisions: `none` is never a signing algorithm here; `RSA1_5` (padding
//! oracles, RFC 8725 §3.2) and `PBES2-*` (password-based) are not offered for
//! encryption. An HMAC signature or a symmetric key-wrap needs a client secret,
//! so it is refused for auth methods that get none; encrypting responses to
//! the client with an asymmetric `alg` needs the client's keys.

use crate::document::Draft;
use crate::error::{MetadataError, shown};
use crate::profile::ProfileRules;
use crate::vocab::{ENC_PAIRS, is_hmac, needs_secret};

/// Signing algorithms the server or client computes with a key it shares
/// with the client (so the client needs a secret).
const SIGNED_WITH_CLIENT_KEYS: &[&str] = &[
    "id_token_signed_response_alg",
    "userinfo_signed_response_alg",
    "request_object_signing_alg",
    "authorization_signed_response_alg",
];

/// Responses the server encrypts to the client's keys.
const ENCRYPTED_TO_CLIENT: &[&str] = &[
    "id_token_encrypted_response_alg",
    "userinfo_encrypted_response_alg",
    "authorization_encrypted_response_alg",
];

/// Whether a JWE `alg` uses a symmetric key (derived from the client secret).
fn is_symmetric_jwe(alg: &str) -> bool {
    alg == "dir" || (alg.starts_with('A') && alg.ends_with("KW"))
}

/// Base rule: algorithms agree with the auth method and the client's keys.
pub(crate) fn check(d: &Draft, _p: &ProfileRules) -> Result<(), MetadataError> {
    let method = d.auth_method();
    let secret = needs_secret(method);
    for &(alg_field, enc_field) in ENC_PAIRS {
        if d.has(enc_field) && !d.has(alg_field) {
            return Err(MetadataError::metadata(
                enc_field,
                format!("needs {alg_field}"),
            ));
        }
        if let Some(alg) = d.str(alg_field) {
            if is_symmetric_jwe(alg) && !secret {
                return Err(no_secret(alg_field, alg, method));
            }
            if !is_symmetric_jwe(alg) && ENCRYPTED_TO_CLIENT.contains(&alg_field) && !d.has_keys() {
                return Err(MetadataError::metadata(
                    alg_field,
                    format!("{} needs jwks or jwks_uri", shown(alg)),
                ));
            }
        }
    }
    for &field in SIGNED_WITH_CLIENT_KEYS {
        if let Some(alg) = d.str(field).filter(|a| is_hmac(a) && !secret) {
            return Err(no_secret(field, alg, method));
        }
    }
    if let Some(alg) = d.str("token_endpoint_auth_signing_alg") {
        let field = "token_endpoint_auth_signing_alg";
        if method == "private_key_jwt" && is_hmac(alg) {
            return Err(MetadataError::metadata(
                field,
                "must be an asymmetric algorithm for private_key_jwt",
            ));
        }
        if method == "client_secret_jwt" && !is_hmac(alg) {
            return Err(MetadataError::metadata(
                field,
                "must be an HS* algorithm for client_secret_jwt",
            ));
        }
    }
    Ok(())
}

fn no_secret(field: &str, alg: &str, method: &str) -> MetadataError {
    MetadataError::metadata(
        field,
        format!(
            "{} needs a client secret, which token_endpoint_auth_method {} does not have",
            shown(alg),
            shown(method)
        ),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};

    use super::*;
    use crate::profile::DEFAULT;

    fn run(v: Value) -> Result<(), MetadataError> {
        let map: Map<String, Value> = serde_json::from_value(v).unwrap();
        check(&Draft::new(&map), &DEFAULT)
    }

    #[test]
    fn token_endpoint_signing_alg_matches_method() {
        assert!(run(json!({"token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "PS256", "jwks_uri": "https://e.example/j"})).is_ok());
        assert!(run(json!({"token_endpoint_auth_method": "client_secret_jwt", "token_endpoint_auth_signing_alg": "HS256"})).is_ok());
        let e = run(json!({"token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "HS256"})).unwrap_err();
        assert!(
            e.description
                .starts_with("token_endpoint_auth_signing_alg: ")
        );
        assert!(run(json!({"token_endpoint_auth_method": "client_secret_jwt", "token_endpoint_auth_signing_alg": "RS256"})).is_err());
    }

    #[test]
    fn hmac_needs_a_secret() {
        assert!(run(json!({"token_endpoint_auth_method": "client_secret_basic", "id_token_signed_response_alg": "HS256"})).is_ok());
        let e = run(
            json!({"token_endpoint_auth_method": "none", "id_token_signed_response_alg": "HS256"}),
        )
        .unwrap_err();
        assert!(e.description.starts_with("id_token_signed_response_alg: "));
        assert!(run(json!({"token_endpoint_auth_method": "private_key_jwt", "request_object_signing_alg": "HS512"})).is_err());
    }

    #[test]
    fn symmetric_encryption_needs_a_secret() {
        assert!(run(json!({"token_endpoint_auth_method": "client_secret_post", "id_token_encrypted_response_alg": "A128KW"})).is_ok());
        assert!(run(json!({"token_endpoint_auth_method": "none", "request_object_encryption_alg": "dir"})).is_err());
    }

    #[test]
    fn asymmetric_response_encryption_needs_keys() {
        assert!(run(json!({"id_token_encrypted_response_alg": "RSA-OAEP", "jwks_uri": "https://e.example/j"})).is_ok());
        assert!(run(json!({"request_object_encryption_alg": "RSA-OAEP"})).is_ok());
        let e = run(json!({"userinfo_encrypted_response_alg": "ECDH-ES"})).unwrap_err();
        assert!(e.description.contains("jwks"));
    }

    #[test]
    fn enc_needs_alg() {
        assert!(run(json!({"token_endpoint_auth_method": "client_secret_basic", "id_token_encrypted_response_alg": "A256KW", "id_token_encrypted_response_enc": "A256GCM"})).is_ok());
        let e = run(json!({"id_token_encrypted_response_enc": "A256GCM"})).unwrap_err();
        assert_eq!(
            e.description,
            "id_token_encrypted_response_enc: needs id_token_encrypted_response_alg"
        );
    }
}
