//! `token_endpoint_auth_method` against the keys and certificate names the
//! client registered (RFC 7591 §2, RFC 8705 §2.1.2 / §2.2).

use crate::document::Draft;
use crate::error::MetadataError;
use crate::profile::ProfileRules;

/// The RFC 8705 §2.1.2 fields naming the expected client certificate.
pub(crate) const TLS_SUBJECT_FIELDS: &[&str] = &[
    "tls_client_auth_subject_dn",
    "tls_client_auth_san_dns",
    "tls_client_auth_san_uri",
    "tls_client_auth_san_ip",
    "tls_client_auth_san_email",
];

/// Base rule: `jwks` XOR `jwks_uri`; key-based methods have keys;
/// `tls_client_auth` names exactly one certificate subject.
pub(crate) fn check(d: &Draft, _p: &ProfileRules) -> Result<(), MetadataError> {
    if d.has("jwks") && d.has("jwks_uri") {
        return Err(MetadataError::metadata(
            "jwks",
            "must not be used together with jwks_uri",
        ));
    }
    let method = d.auth_method();
    match method {
        "private_key_jwt" | "self_signed_tls_client_auth" if !d.has_keys() => {
            Err(MetadataError::metadata(
                "token_endpoint_auth_method",
                format!("{method} needs jwks or jwks_uri"),
            ))
        }
        "tls_client_auth" => {
            let named = TLS_SUBJECT_FIELDS.iter().filter(|f| d.has(f)).count();
            if named == 1 {
                Ok(())
            } else {
                Err(MetadataError::metadata(
                    "token_endpoint_auth_method",
                    format!(
                        "tls_client_auth needs exactly one of {} (got {named})",
                        TLS_SUBJECT_FIELDS.join(", ")
                    ),
                ))
            }
        }
        _ => Ok(()),
    }
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
    fn jwks_xor_jwks_uri() {
        assert!(run(json!({"jwks_uri": "https://a.example/jwks"})).is_ok());
        assert!(run(json!({"jwks": {"keys": []}})).is_ok());
        let e =
            run(json!({"jwks_uri": "https://a.example/jwks", "jwks": {"keys": []}})).unwrap_err();
        assert_eq!(
            e.description,
            "jwks: must not be used together with jwks_uri"
        );
    }

    #[test]
    fn key_based_methods_need_keys() {
        for m in ["private_key_jwt", "self_signed_tls_client_auth"] {
            assert!(
                run(json!({"token_endpoint_auth_method": m, "jwks_uri": "https://a.example/j"}))
                    .is_ok()
            );
            let e = run(json!({"token_endpoint_auth_method": m})).unwrap_err();
            assert!(e.description.contains("needs jwks or jwks_uri"), "{m}");
        }
        assert!(run(json!({"token_endpoint_auth_method": "client_secret_basic"})).is_ok());
    }

    #[test]
    fn tls_client_auth_needs_exactly_one_subject() {
        for f in TLS_SUBJECT_FIELDS {
            assert!(
                run(json!({"token_endpoint_auth_method": "tls_client_auth", *f: "x"})).is_ok(),
                "{f}"
            );
        }
        assert!(run(json!({"token_endpoint_auth_method": "tls_client_auth"})).is_err());
        let two = json!({"token_endpoint_auth_method": "tls_client_auth",
            "tls_client_auth_subject_dn": "CN=a", "tls_client_auth_san_dns": "a.example"});
        let e = run(two).unwrap_err();
        assert!(e.description.contains("got 2"));
    }
}
