//! The trust rules of each profile, as data: one [`TrustRules`] row per
//! [`Profile`]. Metadata rules (auth methods, grant types, ...) live in
//! `dcr-validation`; these are the rules about statements and request objects.
//!
//! | rule | default | fapi | fapi-advanced | uk-ob | au-cdr |
//! |---|---|---|---|---|---|
//! | statement claims required | – | `iss` | `iss` | [`UK_OB_STATEMENT_CLAIMS`] | [`AU_CDR_STATEMENT_CLAIMS`] |
//! | statement `iss` when config names none | any | any | any | any | `cdr-register` |
//! | statement algs (∩ config `signing_algs`) | config | config | config | config | PS256, ES256 |
//! | statement claims renamed to metadata | – | – | – | [`UK_OB_RENAMES`] | – |
//! | `redirect_uris` default to and stay within | – | – | – | `software_redirect_uris` | the SSA's `redirect_uris` |
//! | request object claims required | – | – | – | `iss iat exp aud jti` | [`AU_CDR_REQUEST_CLAIMS`], and [`AU_CDR_REQUEST_CLAIMS_BY_RESPONSE_TYPE`] |
//! | request object algs | all asymmetric | all asymmetric | PS256, ES256 | PS256, ES256 | PS256, ES256 |
//! | request object `iss` = statement `software_id` | – | – | – | yes | yes |
//! | refusals use only RFC 7591 §3.2.2's four codes | – | – | – | yes | yes |
//!
//! A request object's `aud`, when present, must be the issuer, the
//! registration endpoint `{issuer}/register` or a configured extra audience
//! (`request_object.audiences`), in every profile.
//!
//! `fapi` is IBM Verify's FAPI_DEFAULT ("the same as Default", plus a
//! statement must name its `iss`); `fapi-advanced` is FAPI 1.0 Advanced.
//!
//! Choices where the specs leave room:
//! - au-cdr `revocation_uri` is optional in the SSA: the CDR Register made it
//!   optional when `recipient_base_uri` became mandatory (Feb 2021).
//! - uk-ob statements need no `exp`: OB Directory SSAs carry only `iat`.
//! - No profile makes a statement one-use: a CDR SSA may be reused at many
//!   data holders for its 10-minute life; the `jti` and `exp` are still
//!   returned ([`crate::Statement::replay`]) for a caller that wants it.

use dcr_validation::Profile;

use crate::alg::{Alg, FAPI_ALGS};

/// The trust rules of one profile.
#[derive(Debug)]
pub struct TrustRules {
    /// The profile's config name.
    pub name: &'static str,
    /// Claims a software statement must carry.
    pub statement_claims: &'static [&'static str],
    /// The issuer a statement must name when the configuration names none.
    pub statement_issuer: Option<&'static str>,
    /// Algorithms a statement may use, intersected with the configured ones.
    pub statement_algs: Option<&'static [Alg]>,
    /// Statement claims renamed to client metadata (`software_client_name` → `client_name`).
    pub statement_renames: &'static [(&'static str, &'static str)],
    /// The statement claim whose list `redirect_uris` defaults to and must stay within.
    pub redirect_bound: Option<&'static str>,
    /// Claims a request object must carry.
    pub request_claims: &'static [&'static str],
    /// Algorithms a request object may use (`None`: every asymmetric algorithm).
    pub request_algs: Option<&'static [Alg]>,
    /// Claims a request object must carry when it registers a response type
    /// (compared as a set of words: `id_token code` is `code id_token`).
    pub request_claims_by_response_type: &'static [(&'static str, &'static [&'static str])],
    /// A request object's `iss` must equal the statement's `software_id`.
    pub request_iss_is_software_id: bool,
    /// Refusals of a statement or request object use only RFC 7591 §3.2.2's
    /// four codes (the UK OB and AU CDR error lists have no `invalid_request`).
    pub rfc7591_codes_only: bool,
}

/// Claims a UK OB Directory SSA must carry here.
pub const UK_OB_STATEMENT_CLAIMS: &[&str] = &[
    "iss",
    "iat",
    "software_id",
    "software_redirect_uris",
    "software_jwks_endpoint",
    "software_roles",
    "org_id",
];

/// Claims an AU CDR Register SSA must carry (CDR Register SSA definition).
pub const AU_CDR_STATEMENT_CLAIMS: &[&str] = &[
    "iss",
    "iat",
    "exp",
    "jti",
    "legal_entity_id",
    "legal_entity_name",
    "org_id",
    "org_name",
    "client_name",
    "client_description",
    "client_uri",
    "redirect_uris",
    "logo_uri",
    "jwks_uri",
    "recipient_base_uri",
    "software_id",
    "software_roles",
    "scope",
];

/// UK OB SSA claims and the client metadata they stand for (OB DCR 3.3).
/// `software_client_id` is deliberately absent: the server assigns `client_id`.
pub const UK_OB_RENAMES: &[(&str, &str)] = &[
    ("software_client_name", "client_name"),
    ("software_client_description", "client_description"),
    ("software_client_uri", "client_uri"),
    ("software_jwks_endpoint", "jwks_uri"),
    ("software_logo_uri", "logo_uri"),
    ("software_tos_uri", "tos_uri"),
    ("software_policy_uri", "policy_uri"),
];

/// Claims a UK OB request object must carry (OB DCR 3.3; IBM's FAPI_UK-OB).
const SIGNED_REQUEST_CLAIMS: &[&str] = &["iss", "iat", "exp", "aud", "jti"];

/// Claims an AU CDR request object must carry: the CDR standard's mandatory
/// `ClientRegistration` members that have no default here.
pub const AU_CDR_REQUEST_CLAIMS: &[&str] = &[
    "iss",
    "iat",
    "exp",
    "aud",
    "jti",
    "token_endpoint_auth_method",
    "token_endpoint_auth_signing_alg",
    "grant_types",
    "response_types",
    "id_token_signed_response_alg",
    "request_object_signing_alg",
    "software_statement",
];

/// The CDR standard's conditional request claims: ID Token encryption with
/// the hybrid flow, a signed (JARM) authorization response with `code`.
pub const AU_CDR_REQUEST_CLAIMS_BY_RESPONSE_TYPE: &[(&str, &[&str])] = &[
    (
        "code id_token",
        &[
            "id_token_encrypted_response_alg",
            "id_token_encrypted_response_enc",
        ],
    ),
    ("code", &["authorization_signed_response_alg"]),
];

/// Plain RFC 7591.
pub const DEFAULT: TrustRules = TrustRules {
    name: "default",
    statement_claims: &[],
    statement_issuer: None,
    statement_algs: None,
    statement_renames: &[],
    redirect_bound: None,
    request_claims: &[],
    request_algs: None,
    request_claims_by_response_type: &[],
    request_iss_is_software_id: false,
    rfc7591_codes_only: false,
};

/// IBM Verify's FAPI_DEFAULT: the default rules, and a statement names its `iss`.
pub const FAPI: TrustRules = TrustRules {
    name: "fapi",
    statement_claims: &["iss"],
    ..DEFAULT
};

/// FAPI 1.0 Advanced: PS256 / ES256 request objects.
pub const FAPI_ADVANCED: TrustRules = TrustRules {
    name: "fapi-advanced",
    statement_claims: &["iss"],
    request_algs: Some(FAPI_ALGS),
    ..DEFAULT
};

/// UK Open Banking DCR 3.3.
pub const UK_OB: TrustRules = TrustRules {
    name: "uk-ob",
    statement_claims: UK_OB_STATEMENT_CLAIMS,
    statement_renames: UK_OB_RENAMES,
    redirect_bound: Some("software_redirect_uris"),
    request_claims: SIGNED_REQUEST_CLAIMS,
    request_algs: Some(FAPI_ALGS),
    request_iss_is_software_id: true,
    rfc7591_codes_only: true,
    ..DEFAULT
};

/// Australian CDR DCR.
pub const AU_CDR: TrustRules = TrustRules {
    name: "au-cdr",
    statement_claims: AU_CDR_STATEMENT_CLAIMS,
    statement_issuer: Some("cdr-register"),
    statement_algs: Some(FAPI_ALGS),
    redirect_bound: Some("redirect_uris"),
    request_claims: AU_CDR_REQUEST_CLAIMS,
    request_claims_by_response_type: AU_CDR_REQUEST_CLAIMS_BY_RESPONSE_TYPE,
    request_algs: Some(FAPI_ALGS),
    request_iss_is_software_id: true,
    rfc7591_codes_only: true,
    ..DEFAULT
};

/// The row of a profile.
pub fn rules(profile: Profile) -> &'static TrustRules {
    match profile {
        Profile::Default => &DEFAULT,
        Profile::Fapi => &FAPI,
        Profile::FapiAdvanced => &FAPI_ADVANCED,
        Profile::UkOb => &UK_OB,
        Profile::AuCdr => &AU_CDR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_profile() {
        assert_eq!(rules(Profile::Default).name, "default");
        assert_eq!(rules(Profile::Fapi).name, "fapi");
        assert_eq!(rules(Profile::FapiAdvanced).name, "fapi-advanced");
        assert_eq!(rules(Profile::UkOb).name, "uk-ob");
        assert_eq!(rules(Profile::AuCdr).name, "au-cdr");
    }

    #[test]
    fn renames_never_target_server_owned_fields() {
        for (_, to) in UK_OB_RENAMES {
            assert_ne!(*to, "client_id");
            assert_ne!(*to, "client_secret");
        }
    }
}
