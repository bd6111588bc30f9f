//! The profile layer of [`crate::validate`], run after the base rules and the
//! policy: a profile row's metadata rules ([`crate::profile`], the table).

use crate::document::Draft;
use crate::error::{MetadataError, shown};
use crate::profile::{PROFILE_ALG_FIELDS, ProfileRules};
use crate::uri;
use crate::vocab::canonical_all;

/// The profile layer: runs after the base rules and the policy.
pub(crate) fn check(d: &Draft, p: &ProfileRules) -> Result<(), MetadataError> {
    let refused = |field: &str, value: &str| {
        MetadataError::metadata(
            field,
            format!("{} is not allowed by the {} profile", shown(value), p.name),
        )
    };
    let method = d.auth_method();
    if p.metadata
        .auth_methods
        .is_some_and(|allowed| !allowed.contains(&method))
    {
        return Err(refused("token_endpoint_auth_method", method));
    }
    if let Some(allowed) = p.metadata.grant_types {
        for (i, grant) in d.strs("grant_types").into_iter().enumerate() {
            if !allowed.contains(&grant) {
                return Err(refused(&format!("grant_types[{i}]"), grant));
            }
        }
    }
    if let Some(allowed) = p.metadata.response_types {
        let allowed: Vec<String> = canonical_all(allowed);
        for (i, rt) in d.response_types() {
            if !allowed.contains(&rt.canonical()) {
                return Err(refused(&format!("response_types[{i}]"), &rt.canonical()));
            }
        }
    }
    if let Some(allowed) = p.metadata.signing_algs {
        for field in PROFILE_ALG_FIELDS {
            if let Some(alg) = d.str(field).filter(|a| !allowed.contains(a)) {
                return Err(refused(field, alg));
            }
        }
    }
    if p.metadata.tls_client_auth_needs_subject_dn
        && method == "tls_client_auth"
        && !d.has("tls_client_auth_subject_dn")
    {
        return Err(MetadataError::metadata(
            "tls_client_auth_subject_dn",
            format!("required for tls_client_auth by the {} profile", p.name),
        ));
    }
    if p.metadata.https_redirects_only {
        for field in ["redirect_uris", "post_logout_redirect_uris"] {
            for (i, raw) in d.strs(field).into_iter().enumerate() {
                let https = uri::parse_absolute(raw).is_ok_and(|u| u.scheme() == "https");
                if !https {
                    return Err(MetadataError::redirect(
                        &format!("{field}[{i}]"),
                        format!("the {} profile requires https", p.name),
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};

    use super::*;
    use crate::error::ErrorCode;
    use crate::profile::{AU_CDR, DEFAULT, FAPI, FAPI_ADVANCED, Profile, UK_OB};

    fn run(v: Value, p: &ProfileRules) -> Result<(), MetadataError> {
        let map: Map<String, Value> = serde_json::from_value(v).unwrap();
        check(&Draft::new(&map), p)
    }

    #[test]
    fn rows_by_profile() {
        assert_eq!(Profile::Default.rules().name, "default");
        assert_eq!(Profile::Fapi.rules().name, "fapi");
        assert_eq!(Profile::FapiAdvanced.rules().name, "fapi-advanced");
        assert_eq!(Profile::UkOb.rules().name, "uk-ob");
        assert_eq!(Profile::AuCdr.rules().name, "au-cdr");
    }

    #[test]
    fn fapi_is_ibms_fapi_default_the_default_rules() {
        for v in [
            json!({"token_endpoint_auth_method": "client_secret_basic", "redirect_uris": ["http://127.0.0.1/cb"]}),
            json!({"token_endpoint_auth_method": "none", "response_types": ["code token"]}),
        ] {
            assert!(run(v.clone(), &FAPI).is_ok(), "{v}");
            assert!(run(v.clone(), &FAPI_ADVANCED).is_err(), "{v}");
        }
        assert_eq!(FAPI.metadata.default_auth_method, "client_secret_basic");
    }

    #[test]
    fn default_profile_adds_nothing() {
        assert!(run(json!({"token_endpoint_auth_method": "none", "redirect_uris": ["http://127.0.0.1/cb"]}), &DEFAULT).is_ok());
    }

    #[test]
    fn fapi_advanced_auth_methods() {
        assert!(
            run(
                json!({"token_endpoint_auth_method": "private_key_jwt"}),
                &FAPI
            )
            .is_ok()
        );
        assert!(
            run(
                json!({"token_endpoint_auth_method": "self_signed_tls_client_auth"}),
                &FAPI
            )
            .is_ok()
        );
        let e = run(
            json!({"token_endpoint_auth_method": "client_secret_basic"}),
            &FAPI_ADVANCED,
        )
        .unwrap_err();
        assert_eq!(
            e.description,
            "token_endpoint_auth_method: \"client_secret_basic\" is not allowed by the fapi-advanced profile"
        );
    }

    #[test]
    fn fapi_advanced_https_redirects_only() {
        let ok = json!({"token_endpoint_auth_method": "private_key_jwt", "redirect_uris": ["https://a.example/cb"]});
        assert!(run(ok, &FAPI_ADVANCED).is_ok());
        let bad = json!({"token_endpoint_auth_method": "private_key_jwt", "redirect_uris": ["https://a.example/cb", "http://localhost/cb"]});
        let e = run(bad, &FAPI_ADVANCED).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRedirectUri);
        assert!(e.description.starts_with("redirect_uris[1]: "));
        let bad = json!({"token_endpoint_auth_method": "private_key_jwt", "redirect_uris": ["com.example.app:/cb"]});
        assert!(run(bad, &FAPI_ADVANCED).is_err());
    }

    #[test]
    fn fapi_advanced_and_cdr_response_types() {
        let ok = json!({"token_endpoint_auth_method": "private_key_jwt", "response_types": ["code", "id_token code"]});
        assert!(run(ok.clone(), &FAPI_ADVANCED).is_ok());
        assert!(run(ok, &AU_CDR).is_ok());
        let bad = json!({"token_endpoint_auth_method": "private_key_jwt", "response_types": ["code token"]});
        assert!(run(bad.clone(), &FAPI_ADVANCED).is_err());
        assert!(run(bad, &AU_CDR).is_err());
    }

    #[test]
    fn uk_ob_auth_methods_and_subject_dn() {
        for m in [
            "client_secret_basic",
            "client_secret_post",
            "client_secret_jwt",
            "private_key_jwt",
        ] {
            assert!(
                run(json!({"token_endpoint_auth_method": m}), &UK_OB).is_ok(),
                "{m}"
            );
        }
        assert!(run(json!({"token_endpoint_auth_method": "none"}), &UK_OB).is_err());
        assert!(
            run(
                json!({"token_endpoint_auth_method": "self_signed_tls_client_auth"}),
                &UK_OB
            )
            .is_err()
        );
        let ok = json!({"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_subject_dn": "CN=tpp"});
        assert!(run(ok, &UK_OB).is_ok());
        let bad = json!({"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_san_dns": "tpp.example"});
        let e = run(bad.clone(), &UK_OB).unwrap_err();
        assert!(e.description.starts_with("tls_client_auth_subject_dn: "));
        assert!(run(bad, &DEFAULT).is_ok());
    }

    #[test]
    fn au_cdr_methods_grants_algs() {
        let base = json!({"token_endpoint_auth_method": "private_key_jwt", "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
            "id_token_signed_response_alg": "PS256", "request_object_signing_alg": "ES256", "token_endpoint_auth_signing_alg": "PS256"});
        assert!(run(base.clone(), &AU_CDR).is_ok());
        assert!(
            run(
                json!({"token_endpoint_auth_method": "client_secret_basic"}),
                &AU_CDR
            )
            .is_err()
        );
        assert!(run(json!({"token_endpoint_auth_method": "private_key_jwt", "grant_types": ["implicit"]}), &AU_CDR).is_err());
        for field in [
            "id_token_signed_response_alg",
            "request_object_signing_alg",
            "token_endpoint_auth_signing_alg",
        ] {
            let mut v = base.clone();
            v[field] = json!("RS256");
            let e = run(v, &AU_CDR).unwrap_err();
            assert!(e.description.starts_with(field), "{}", e.description);
        }
    }
}
