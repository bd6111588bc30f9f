//! Security profiles as data: one [`ProfileRules`] row per [`Profile`].
//!
//! Only pure metadata rules live here; transport rules (mTLS, signed request
//! objects, software statements, one client per `software_id`) belong to the
//! caller.
//!
//! `fapi` is IBM Verify's FAPI_DEFAULT, whose metadata rules are the default
//! ones (its extra checks are on statements and request objects, in
//! `dcr-trust`); `fapi-advanced` is FAPI 1.0 Advanced.
//!
//! | | default, fapi | fapi-advanced | uk-ob | au-cdr |
//! |---|---|---|---|---|
//! | auth methods | any | `private_key_jwt`, `tls_client_auth`, `self_signed_tls_client_auth` | `private_key_jwt`, `tls_client_auth`, `client_secret_jwt`, `client_secret_basic`, `client_secret_post` (OB DCR 3.3) | `private_key_jwt` |
//! | grant types | any | any | any | `authorization_code`, `refresh_token`, `client_credentials` |
//! | response types | any | `code`, `code id_token` | any | `code`, `code id_token` |
//! | signing algs | any but `none` | any but `none` | any but `none` | `PS256`, `ES256` |
//! | redirect URIs | base rules | `https` only | base rules | base rules |
//! | `tls_client_auth` names the client by | one of DN / SAN | one of DN / SAN | `tls_client_auth_subject_dn` | (not allowed) |
//! | hybrid `code id_token` needs `implicit` | yes | yes | no | no |
//! | default auth method | `client_secret_basic` | `private_key_jwt` | `client_secret_basic` | `private_key_jwt` |
//! | default response types (with `authorization_code`) | `code` | `code` | `code id_token` | `code` |
//! | default `id_token_signed_response_alg` | `RS256` | `RS256` | `RS256` | `PS256` |

use crate::document::Draft;
use crate::error::{MetadataError, shown};
use crate::vocab::canonical_all;
use crate::{Profile, uri};

/// The metadata rules and defaults of one profile.
#[derive(Debug)]
pub(crate) struct ProfileRules {
    /// The profile's config name, for messages.
    pub name: &'static str,
    /// Allowed `token_endpoint_auth_method` values.
    pub auth_methods: Option<&'static [&'static str]>,
    /// Allowed `grant_types` values.
    pub grant_types: Option<&'static [&'static str]>,
    /// Allowed `response_types` values (compared as sets of parts).
    pub response_types: Option<&'static [&'static str]>,
    /// Allowed values of the fields in [`PROFILE_ALG_FIELDS`].
    pub signing_algs: Option<&'static [&'static str]>,
    /// Redirect URIs must be `https`.
    pub https_redirects_only: bool,
    /// `tls_client_auth` must use `tls_client_auth_subject_dn`.
    pub tls_client_auth_needs_subject_dn: bool,
    /// Whether hybrid response types need the `implicit` grant (see [`crate::grants`]).
    pub hybrid_needs_implicit: bool,
    /// Default `token_endpoint_auth_method`.
    pub default_auth_method: &'static str,
    /// Default `response_types` when `authorization_code` is granted.
    pub default_response_types: &'static [&'static str],
    /// Default `id_token_signed_response_alg`.
    pub default_id_token_alg: &'static str,
}

/// The signing-algorithm fields a profile's `signing_algs` restrict.
pub(crate) const PROFILE_ALG_FIELDS: &[&str] = &[
    "id_token_signed_response_alg",
    "request_object_signing_alg",
    "token_endpoint_auth_signing_alg",
    "authorization_signed_response_alg",
];

const CODE_OR_HYBRID: &[&str] = &["code", "code id_token"];

/// Plain RFC 7591 / OIDC DCR.
pub(crate) const DEFAULT: ProfileRules = ProfileRules {
    name: "default",
    auth_methods: None,
    grant_types: None,
    response_types: None,
    signing_algs: None,
    https_redirects_only: false,
    tls_client_auth_needs_subject_dn: false,
    hybrid_needs_implicit: true,
    default_auth_method: "client_secret_basic",
    default_response_types: &["code"],
    default_id_token_alg: "RS256",
};

/// IBM Verify's FAPI_DEFAULT: "the same as Default" for metadata.
pub(crate) const FAPI: ProfileRules = ProfileRules {
    name: "fapi",
    ..DEFAULT
};

/// FAPI 1.0 Advanced.
pub(crate) const FAPI_ADVANCED: ProfileRules = ProfileRules {
    name: "fapi-advanced",
    auth_methods: Some(&[
        "private_key_jwt",
        "tls_client_auth",
        "self_signed_tls_client_auth",
    ]),
    response_types: Some(CODE_OR_HYBRID),
    https_redirects_only: true,
    default_auth_method: "private_key_jwt",
    ..DEFAULT
};

/// UK Open Banking DCR 3.3.
pub(crate) const UK_OB: ProfileRules = ProfileRules {
    name: "uk-ob",
    auth_methods: Some(&[
        "private_key_jwt",
        "tls_client_auth",
        "client_secret_jwt",
        "client_secret_basic",
        "client_secret_post",
    ]),
    tls_client_auth_needs_subject_dn: true,
    hybrid_needs_implicit: false,
    default_response_types: &["code id_token"],
    ..DEFAULT
};

/// Australian Consumer Data Right DCR.
pub(crate) const AU_CDR: ProfileRules = ProfileRules {
    name: "au-cdr",
    auth_methods: Some(&["private_key_jwt"]),
    grant_types: Some(&["authorization_code", "refresh_token", "client_credentials"]),
    response_types: Some(CODE_OR_HYBRID),
    signing_algs: Some(&["PS256", "ES256"]),
    hybrid_needs_implicit: false,
    default_auth_method: "private_key_jwt",
    default_id_token_alg: "PS256",
    ..DEFAULT
};

/// The row of a profile.
pub(crate) fn rules_for(profile: Profile) -> &'static ProfileRules {
    match profile {
        Profile::Default => &DEFAULT,
        Profile::Fapi => &FAPI,
        Profile::FapiAdvanced => &FAPI_ADVANCED,
        Profile::UkOb => &UK_OB,
        Profile::AuCdr => &AU_CDR,
    }
}

/// The profile layer: runs after the base rules and the policy.
pub(crate) fn check(d: &Draft, p: &ProfileRules) -> Result<(), MetadataError> {
    let refused = |field: &str, value: &str| {
        MetadataError::metadata(
            field,
            format!("{} is not allowed by the {} profile", shown(value), p.name),
        )
    };
    let method = d.auth_method();
    if p.auth_methods
        .is_some_and(|allowed| !allowed.contains(&method))
    {
        return Err(refused("token_endpoint_auth_method", method));
    }
    if let Some(allowed) = p.grant_types {
        for (i, grant) in d.strs("grant_types").into_iter().enumerate() {
            if !allowed.contains(&grant) {
                return Err(refused(&format!("grant_types[{i}]"), grant));
            }
        }
    }
    if let Some(allowed) = p.response_types {
        let allowed: Vec<String> = canonical_all(allowed);
        for (i, rt) in d.response_types() {
            if !allowed.contains(&rt.canonical()) {
                return Err(refused(&format!("response_types[{i}]"), &rt.canonical()));
            }
        }
    }
    if let Some(allowed) = p.signing_algs {
        for field in PROFILE_ALG_FIELDS {
            if let Some(alg) = d.str(field).filter(|a| !allowed.contains(a)) {
                return Err(refused(field, alg));
            }
        }
    }
    if p.tls_client_auth_needs_subject_dn
        && method == "tls_client_auth"
        && !d.has("tls_client_auth_subject_dn")
    {
        return Err(MetadataError::metadata(
            "tls_client_auth_subject_dn",
            format!("required for tls_client_auth by the {} profile", p.name),
        ));
    }
    if p.https_redirects_only {
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

    fn run(v: Value, p: &ProfileRules) -> Result<(), MetadataError> {
        let map: Map<String, Value> = serde_json::from_value(v).unwrap();
        check(&Draft::new(&map), p)
    }

    #[test]
    fn rows_by_profile() {
        assert_eq!(rules_for(Profile::Default).name, "default");
        assert_eq!(rules_for(Profile::Fapi).name, "fapi");
        assert_eq!(rules_for(Profile::FapiAdvanced).name, "fapi-advanced");
        assert_eq!(rules_for(Profile::UkOb).name, "uk-ob");
        assert_eq!(rules_for(Profile::AuCdr).name, "au-cdr");
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
        assert_eq!(FAPI.default_auth_method, "client_secret_basic");
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
