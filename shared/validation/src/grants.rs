//! `grant_types` and `response_types`, and their consistency (RFC 7591 §2.1,
//! OIDC DCR §2).
//!
//! | response type contains | needs grant |
//! |---|---|
//! | `code` | `authorization_code` |
//! | `token` or `id_token`, without `code` | `implicit` |
//! | `token` or `id_token`, with `code` (hybrid) | `implicit` too, unless the profile says otherwise |
//! | `none` (alone) | nothing |
//!
//! and, the other way round, `authorization_code` needs a response type with
//! `code` and `implicit` one with `token` or `id_token`. UK-OB and AU-CDR
//! register `code id_token` with only `authorization_code` (their grant lists
//! have no `implicit`), so their profiles turn the hybrid row off.
//!
//! `client_credentials` needs a client that can authenticate at the token
//! endpoint: a public client (`token_endpoint_auth_method: none`) may not
//! register it (RFC 6749 §4.4: "MUST only be used by confidential clients").

use crate::document::Draft;
use crate::error::MetadataError;
use crate::profile::ProfileRules;
use crate::vocab::{AUTHORIZATION_CODE, CLIENT_CREDENTIALS, IMPLICIT, PUBLIC_METHOD, ResponseType};

/// Base rule: grants and response types agree (table in the module doc).
pub(crate) fn check(d: &Draft, p: &ProfileRules) -> Result<(), MetadataError> {
    let rts = d.response_types();
    let (code_grant, implicit_grant) = (d.has_grant(AUTHORIZATION_CODE), d.has_grant(IMPLICIT));
    for &(i, rt) in &rts {
        let at = format!("response_types[{i}]");
        if rt.has_code() && !code_grant {
            return Err(MetadataError::metadata(
                &at,
                "needs grant type authorization_code",
            ));
        }
        if rt.needs_implicit(p.metadata.hybrid_needs_implicit) && !implicit_grant {
            return Err(MetadataError::metadata(&at, "needs grant type implicit"));
        }
    }
    if code_grant && !rts.iter().any(|(_, rt)| rt.has_code()) {
        return Err(MetadataError::metadata(
            "grant_types",
            "authorization_code needs a response type containing code",
        ));
    }
    if implicit_grant && !rts.iter().any(|(_, rt)| rt.serves_implicit()) {
        return Err(MetadataError::metadata(
            "grant_types",
            "implicit needs a response type containing token or id_token",
        ));
    }
    if d.has_grant(CLIENT_CREDENTIALS) && d.auth_method() == PUBLIC_METHOD {
        return Err(MetadataError::metadata(
            "grant_types",
            "client_credentials is for confidential clients only (RFC 6749 §4.4); \
             a client with token_endpoint_auth_method none cannot use it",
        ));
    }
    Ok(())
}

/// The default `grant_types` for the given response types: the grants they
/// need, or `authorization_code` (RFC 7591 default) when they need none.
pub(crate) fn default_grants(response_types: &[&str], p: &ProfileRules) -> Vec<&'static str> {
    let rts: Vec<ResponseType> = response_types
        .iter()
        .filter_map(|s| ResponseType::parse(s).ok())
        .collect();
    let mut grants = Vec::new();
    if rts.iter().any(|rt| rt.has_code()) {
        grants.push(AUTHORIZATION_CODE);
    }
    if rts
        .iter()
        .any(|rt| rt.needs_implicit(p.metadata.hybrid_needs_implicit))
    {
        grants.push(IMPLICIT);
    }
    if grants.is_empty() {
        grants.push(AUTHORIZATION_CODE);
    }
    grants
}

/// The default `response_types` for the given grants: the profile's default
/// for `authorization_code`, `token` for `implicit` if that is not yet
/// served, and nothing when neither grant is present.
pub(crate) fn default_response_types(grants: &[&str], p: &ProfileRules) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    if grants.contains(&AUTHORIZATION_CODE) {
        out.extend_from_slice(p.metadata.default_response_types);
    }
    let served = out
        .iter()
        .filter_map(|s| ResponseType::parse(s).ok())
        .any(ResponseType::serves_implicit);
    if grants.contains(&IMPLICIT) && !served {
        out.push("token");
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};

    use super::*;
    use crate::profile::{AU_CDR, DEFAULT, UK_OB};

    fn run(v: Value, p: &ProfileRules) -> Result<(), MetadataError> {
        let map: Map<String, Value> = serde_json::from_value(v).unwrap();
        check(&Draft::new(&map), p)
    }

    #[test]
    fn response_type_parsing() {
        for ok in [
            "code",
            "token",
            "id_token",
            "code id_token",
            "id_token code",
            "code id_token token",
            "none",
        ] {
            assert!(ResponseType::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "code  token",
            " code",
            "code code",
            "none code",
            "device",
            "Code",
        ] {
            assert!(ResponseType::parse(bad).is_err(), "{bad}");
        }
        let rt = ResponseType::parse("token id_token code").unwrap();
        assert_eq!(rt.canonical(), "code id_token token");
    }

    #[test]
    fn consistent_combinations_pass() {
        for v in [
            json!({"grant_types": ["authorization_code"], "response_types": ["code"]}),
            json!({"grant_types": ["implicit"], "response_types": ["id_token token"]}),
            json!({"grant_types": ["authorization_code", "implicit"], "response_types": ["code id_token"]}),
            json!({"grant_types": ["client_credentials"], "response_types": []}),
            json!({"grant_types": ["client_credentials"]}),
            json!({"grant_types": ["authorization_code", "refresh_token"], "response_types": ["code", "none"]}),
        ] {
            assert!(run(v.clone(), &DEFAULT).is_ok(), "{v}");
        }
    }

    #[test]
    fn inconsistent_combinations_refused() {
        for (v, field) in [
            (
                json!({"grant_types": ["client_credentials"], "response_types": ["code"]}),
                "response_types[0]",
            ),
            (
                json!({"grant_types": ["authorization_code"], "response_types": ["code", "token"]}),
                "response_types[1]",
            ),
            (
                json!({"grant_types": ["authorization_code"], "response_types": ["code id_token"]}),
                "response_types[0]",
            ),
            (
                json!({"grant_types": ["authorization_code"], "response_types": []}),
                "grant_types",
            ),
            (
                json!({"grant_types": ["authorization_code", "implicit"], "response_types": ["code"]}),
                "grant_types",
            ),
        ] {
            let e = run(v.clone(), &DEFAULT).unwrap_err();
            assert!(e.description.starts_with(field), "{v}: {}", e.description);
        }
    }

    #[test]
    fn public_clients_cannot_use_client_credentials() {
        let public =
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"});
        let e = run(public, &DEFAULT).unwrap_err();
        assert_eq!(e.code, crate::error::ErrorCode::InvalidClientMetadata);
        assert!(
            e.description.starts_with("grant_types: "),
            "{}",
            e.description
        );
        let mixed = json!({"grant_types": ["authorization_code", "client_credentials"],
            "response_types": ["code"], "token_endpoint_auth_method": "none"});
        assert!(run(mixed, &DEFAULT).is_err());
        for method in ["client_secret_basic", "private_key_jwt", "tls_client_auth"] {
            let ok = json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": method});
            assert!(run(ok, &DEFAULT).is_ok(), "{method}");
        }
        let public_code = json!({"grant_types": ["authorization_code"], "response_types": ["code"],
            "token_endpoint_auth_method": "none"});
        assert!(run(public_code, &DEFAULT).is_ok());
    }

    #[test]
    fn hybrid_without_implicit_only_in_ob_profiles() {
        let v = json!({"grant_types": ["authorization_code"], "response_types": ["code id_token"]});
        assert!(run(v.clone(), &UK_OB).is_ok());
        assert!(run(v.clone(), &AU_CDR).is_ok());
        assert!(run(v, &DEFAULT).is_err());
    }

    #[test]
    fn defaults_follow_the_table() {
        assert_eq!(
            default_response_types(&["authorization_code"], &DEFAULT),
            ["code"]
        );
        assert_eq!(
            default_response_types(&["authorization_code"], &UK_OB),
            ["code id_token"]
        );
        assert_eq!(
            default_response_types(&["authorization_code", "implicit"], &DEFAULT),
            ["code", "token"]
        );
        assert_eq!(
            default_response_types(&["authorization_code", "implicit"], &UK_OB),
            ["code id_token"]
        );
        assert!(default_response_types(&["client_credentials"], &DEFAULT).is_empty());
        assert_eq!(
            default_grants(&["code id_token"], &DEFAULT),
            [AUTHORIZATION_CODE, IMPLICIT]
        );
        assert_eq!(
            default_grants(&["code id_token"], &UK_OB),
            [AUTHORIZATION_CODE]
        );
        assert_eq!(default_grants(&["id_token"], &DEFAULT), [IMPLICIT]);
        assert_eq!(default_grants(&[], &DEFAULT), [AUTHORIZATION_CODE]);
    }
}
