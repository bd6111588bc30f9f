//! The profile table: one [`ProfileRules`] row per [`Profile`], holding every
//! rule the profile adds to the configuration's, wherever it is enforced.
//! This crate is below every other, so the table lives here as data; each
//! column names the crate that reads it.
//!
//! | column | default | fapi | fapi-advanced | uk-ob | au-cdr | read by |
//! |---|---|---|---|---|---|---|
//! | IBM Verify recipe | `Default` | `FAPI_DEFAULT` | – | `FAPI_UK-OB` | `FAPI_AU-CDR` | core (config/ibm.rs) |
//! | **metadata** auth methods | any | any | `private_key_jwt`, `tls_client_auth`, `self_signed_tls_client_auth` | `private_key_jwt`, `tls_client_auth`, `client_secret_jwt`, `client_secret_basic`, `client_secret_post` (OB DCR 3.3) | `private_key_jwt` | validation |
//! | grant types | any | any | any | any | `authorization_code`, `refresh_token`, `client_credentials` | validation |
//! | response types | any | any | `code`, `code id_token` | any | `code`, `code id_token` | validation |
//! | signing algs of [`PROFILE_ALG_FIELDS`] | any but `none` | any but `none` | any but `none` | any but `none` | `PS256`, `ES256` | validation |
//! | redirect URIs | base rules | base rules | `https` only | base rules | base rules | validation |
//! | `tls_client_auth` names the client by | DN or SAN | DN or SAN | DN or SAN | `tls_client_auth_subject_dn` | (not allowed) | validation |
//! | hybrid `code id_token` needs `implicit` | yes | yes | yes | no | no | validation |
//! | default auth method | `client_secret_basic` | `client_secret_basic` | `private_key_jwt` | `client_secret_basic` | `private_key_jwt` | validation |
//! | default response types (with `authorization_code`) | `code` | `code` | `code` | `code id_token` | `code` | validation |
//! | default `id_token_signed_response_alg` | `RS256` | `RS256` | `RS256` | `RS256` | `PS256` | validation |
//! | **statement** claims required | – | `iss` | `iss` | [`UK_OB_STATEMENT_CLAIMS`] | [`AU_CDR_STATEMENT_CLAIMS`] | trust |
//! | `iss` when the config names none | any | any | any | any | `cdr-register` | trust |
//! | algs (∩ config `signing_algs`) | config | config | config | config | `PS256`, `ES256` | trust |
//! | claims renamed to metadata | – | – | – | [`UK_OB_RENAMES`] | – | trust |
//! | `redirect_uris` default to and stay within | – | – | – | `software_redirect_uris` | the statement's `redirect_uris` | trust |
//! | **request object** claims required | – | – | – | `iss iat exp aud jti` | [`AU_CDR_REQUEST_CLAIMS`], and [`AU_CDR_REQUEST_CLAIMS_BY_RESPONSE_TYPE`] | trust |
//! | algs | all asymmetric | all asymmetric | `PS256`, `ES256` | `PS256`, `ES256` | `PS256`, `ES256` | trust |
//! | `iss` = the statement's `software_id` | – | – | – | yes | yes | trust |
//! | refusals use only RFC 7591 §3.2.2's four codes | – | – | – | yes | yes | core (service/trust.rs) |
//! | **registration** signed request objects only (`application/jwt`, `application/jose`; JSON gets 415), unless `request_object.required` says | no | no | no | yes | yes | core (config.rs) |
//! | a software statement required, unless `require_software_statement` says | no | no | no | yes | yes | core (config.rs) |
//! | client secret bytes (base64url characters) | 32 (43) | 32 (43) | 32 (43) | 27 (36, OB DCR 3.3's maximum) | 32 (43) | core (service/steps.rs) |
//! | one live client per `software_id` | no | no | no | no | yes | core (service/register.rs) |
//! | **management** by the registration access token (issued only then) | yes | yes | yes | yes | no: access tokens only | core (config.rs, service/auth.rs) |
//! | scope every access token needs (and bearer tokens are narrowed by) | – | – | – | – | [`CDR_REGISTRATION_SCOPE`] | core (service/auth.rs, config.rs) |
//!
//! `fapi` is IBM Verify's FAPI_DEFAULT: "the same as Default" for metadata,
//! and a statement must name its `iss`; `fapi-advanced` is FAPI 1.0 Advanced.
//!
//! Choices where the specs leave room:
//! - au-cdr `revocation_uri` is optional in the SSA: the CDR Register made it
//!   optional when `recipient_base_uri` became mandatory (Feb 2021).
//! - uk-ob statements need no `exp`: OB Directory SSAs carry only `iat`.
//! - No profile makes a statement one-use: a CDR SSA may be reused at many
//!   data holders for its 10-minute life.
//!
//! A request object's `aud`, when present, must be the issuer, the
//! registration endpoint `{issuer}/register` or a configured extra audience
//! (`request_object.audiences`), in every profile.

use serde::{Deserialize, Serialize};

/// The security profile whose extra rules apply (config `profile`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// Plain RFC 7591 / OIDC DCR.
    #[default]
    Default,
    /// IBM Verify's FAPI_DEFAULT: the default rules, plus an `iss` in statements.
    Fapi,
    /// FAPI 1.0 Advanced: key-based client authentication, https redirects, PS256/ES256.
    FapiAdvanced,
    /// UK Open Banking DCR 3.3.
    UkOb,
    /// Australian Consumer Data Right DCR.
    AuCdr,
}

impl Profile {
    /// Every profile, in the table's order.
    pub const ALL: [Profile; 5] = [
        Profile::Default,
        Profile::Fapi,
        Profile::FapiAdvanced,
        Profile::UkOb,
        Profile::AuCdr,
    ];

    /// The profile's row of the table.
    pub fn rules(self) -> &'static ProfileRules {
        match self {
            Profile::Default => &DEFAULT,
            Profile::Fapi => &FAPI,
            Profile::FapiAdvanced => &FAPI_ADVANCED,
            Profile::UkOb => &UK_OB,
            Profile::AuCdr => &AU_CDR,
        }
    }
}

/// Every rule one profile adds, by where it applies.
#[derive(Debug)]
pub struct ProfileRules {
    /// The profile's config name, for messages.
    pub name: &'static str,
    /// The IBM Verify `recipe` that means this profile, if any.
    pub ibm_recipe: Option<&'static str>,
    /// Client metadata rules and defaults.
    pub metadata: MetadataRules,
    /// Software statements.
    pub statement: StatementRules,
    /// Signed request objects.
    pub request_object: RequestObjectRules,
    /// Refusals of a statement or request object use only RFC 7591 §3.2.2's
    /// four codes (the UK OB and AU CDR error lists have no `invalid_request`).
    pub rfc7591_codes_only: bool,
    /// The registration endpoint.
    pub registration: RegistrationRules,
    /// The management endpoint.
    pub management: ManagementRules,
}

/// The metadata rules and defaults of a profile (this crate's profile layer).
#[derive(Debug)]
pub struct MetadataRules {
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
    /// Whether hybrid response types need the `implicit` grant (see `grants.rs`).
    pub hybrid_needs_implicit: bool,
    /// Default `token_endpoint_auth_method`.
    pub default_auth_method: &'static str,
    /// Default `response_types` when `authorization_code` is granted.
    pub default_response_types: &'static [&'static str],
    /// Default `id_token_signed_response_alg`.
    pub default_id_token_alg: &'static str,
}

/// The rules of a profile about software statements (`dcr-trust`).
#[derive(Debug)]
pub struct StatementRules {
    /// Claims a software statement must carry.
    pub claims: &'static [&'static str],
    /// The issuer a statement must name when the configuration names none.
    pub issuer: Option<&'static str>,
    /// Algorithms a statement may use, intersected with the configured ones.
    pub algs: Option<&'static [&'static str]>,
    /// Statement claims renamed to client metadata (`software_client_name` → `client_name`).
    pub renames: &'static [(&'static str, &'static str)],
    /// The statement claim whose list `redirect_uris` defaults to and must stay within.
    pub redirect_bound: Option<&'static str>,
}

/// The rules of a profile about signed request objects (`dcr-trust`).
#[derive(Debug)]
pub struct RequestObjectRules {
    /// Claims a request object must carry.
    pub claims: &'static [&'static str],
    /// Claims a request object must carry when it registers a response type
    /// (compared as a set of words: `id_token code` is `code id_token`).
    pub claims_by_response_type: &'static [(&'static str, &'static [&'static str])],
    /// Algorithms a request object may use (`None`: every asymmetric algorithm).
    pub algs: Option<&'static [&'static str]>,
    /// A request object's `iss` must equal the statement's `software_id`.
    pub iss_is_software_id: bool,
}

/// The rules of a profile about registration (`dcr-core`).
#[derive(Debug)]
pub struct RegistrationRules {
    /// `POST /register` takes signed request objects only, unless the
    /// configuration's `request_object.required` says otherwise.
    pub signed_requests_only: bool,
    /// A software statement is required, unless the configuration's
    /// `registration_endpoint_authentication.require_software_statement` says otherwise.
    pub statement_required: bool,
    /// Random bytes in a client secret the server draws.
    pub client_secret_bytes: usize,
    /// At most one live client per `software_id`.
    pub one_client_per_software_id: bool,
}

/// The rules of a profile about management (`dcr-core`).
#[derive(Debug)]
pub struct ManagementRules {
    /// The registration access token manages clients (and is issued only then).
    pub registration_token: bool,
    /// A scope every access token needs, beside `bearer_token.scopes`; it
    /// also narrows bearer tokens to this service on its own.
    pub required_scope: Option<&'static str>,
}

/// The signing-algorithm fields a profile's `signing_algs` restrict.
pub const PROFILE_ALG_FIELDS: &[&str] = &[
    "id_token_signed_response_alg",
    "request_object_signing_alg",
    "token_endpoint_auth_signing_alg",
    "authorization_signed_response_alg",
];

/// The scope an AU CDR access token needs to manage a registration.
pub const CDR_REGISTRATION_SCOPE: &str = "cdr:registration";

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
pub const UK_OB_REQUEST_CLAIMS: &[&str] = &["iss", "iat", "exp", "aud", "jti"];

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

/// The algorithms FAPI 1.0 Advanced, UK OB and AU CDR allow.
const FAPI_ALGS: &[&str] = &["PS256", "ES256"];

const CODE_OR_HYBRID: &[&str] = &["code", "code id_token"];

/// Random bytes in a client secret: 256 bits, 43 base64url characters.
const SECRET_BYTES: usize = 32;

/// Plain RFC 7591 / OIDC DCR: adds nothing.
pub const DEFAULT: ProfileRules = ProfileRules {
    name: "default",
    ibm_recipe: Some("Default"),
    metadata: MetadataRules {
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
    },
    statement: StatementRules {
        claims: &[],
        issuer: None,
        algs: None,
        renames: &[],
        redirect_bound: None,
    },
    request_object: RequestObjectRules {
        claims: &[],
        claims_by_response_type: &[],
        algs: None,
        iss_is_software_id: false,
    },
    rfc7591_codes_only: false,
    registration: RegistrationRules {
        signed_requests_only: false,
        statement_required: false,
        client_secret_bytes: SECRET_BYTES,
        one_client_per_software_id: false,
    },
    management: ManagementRules {
        registration_token: true,
        required_scope: None,
    },
};

/// IBM Verify's FAPI_DEFAULT: the default rules, and a statement names its `iss`.
pub const FAPI: ProfileRules = ProfileRules {
    name: "fapi",
    ibm_recipe: Some("FAPI_DEFAULT"),
    statement: StatementRules {
        claims: &["iss"],
        ..DEFAULT.statement
    },
    ..DEFAULT
};

/// FAPI 1.0 Advanced: key-based client authentication, `https` redirects,
/// PS256 / ES256 request objects.
pub const FAPI_ADVANCED: ProfileRules = ProfileRules {
    name: "fapi-advanced",
    ibm_recipe: None,
    metadata: MetadataRules {
        auth_methods: Some(&[
            "private_key_jwt",
            "tls_client_auth",
            "self_signed_tls_client_auth",
        ]),
        response_types: Some(CODE_OR_HYBRID),
        https_redirects_only: true,
        default_auth_method: "private_key_jwt",
        ..DEFAULT.metadata
    },
    statement: StatementRules {
        claims: &["iss"],
        ..DEFAULT.statement
    },
    request_object: RequestObjectRules {
        algs: Some(FAPI_ALGS),
        ..DEFAULT.request_object
    },
    ..DEFAULT
};

/// UK Open Banking DCR 3.3.
pub const UK_OB: ProfileRules = ProfileRules {
    name: "uk-ob",
    ibm_recipe: Some("FAPI_UK-OB"),
    metadata: MetadataRules {
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
        ..DEFAULT.metadata
    },
    statement: StatementRules {
        claims: UK_OB_STATEMENT_CLAIMS,
        renames: UK_OB_RENAMES,
        redirect_bound: Some("software_redirect_uris"),
        ..DEFAULT.statement
    },
    request_object: RequestObjectRules {
        claims: UK_OB_REQUEST_CLAIMS,
        algs: Some(FAPI_ALGS),
        iss_is_software_id: true,
        ..DEFAULT.request_object
    },
    rfc7591_codes_only: true,
    registration: RegistrationRules {
        signed_requests_only: true,
        statement_required: true,
        // OB DCR 3.3's `client_secret` is at most 36 characters: 216 bits.
        client_secret_bytes: 27,
        ..DEFAULT.registration
    },
    ..DEFAULT
};

/// Australian Consumer Data Right DCR.
pub const AU_CDR: ProfileRules = ProfileRules {
    name: "au-cdr",
    ibm_recipe: Some("FAPI_AU-CDR"),
    metadata: MetadataRules {
        auth_methods: Some(&["private_key_jwt"]),
        grant_types: Some(&["authorization_code", "refresh_token", "client_credentials"]),
        response_types: Some(CODE_OR_HYBRID),
        signing_algs: Some(FAPI_ALGS),
        hybrid_needs_implicit: false,
        default_auth_method: "private_key_jwt",
        default_id_token_alg: "PS256",
        ..DEFAULT.metadata
    },
    statement: StatementRules {
        claims: AU_CDR_STATEMENT_CLAIMS,
        issuer: Some("cdr-register"),
        algs: Some(FAPI_ALGS),
        redirect_bound: Some("redirect_uris"),
        ..DEFAULT.statement
    },
    request_object: RequestObjectRules {
        claims: AU_CDR_REQUEST_CLAIMS,
        claims_by_response_type: AU_CDR_REQUEST_CLAIMS_BY_RESPONSE_TYPE,
        algs: Some(FAPI_ALGS),
        iss_is_software_id: true,
    },
    rfc7591_codes_only: true,
    registration: RegistrationRules {
        signed_requests_only: true,
        statement_required: true,
        one_client_per_software_id: true,
        ..DEFAULT.registration
    },
    management: ManagementRules {
        registration_token: false,
        required_scope: Some(CDR_REGISTRATION_SCOPE),
    },
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_profile_under_its_config_name() {
        for profile in Profile::ALL {
            let name = serde_json::to_value(profile).unwrap();
            assert_eq!(name, profile.rules().name, "{profile:?}");
        }
        assert_eq!(Profile::Default.rules().name, "default");
        assert_eq!(Profile::Fapi.rules().name, "fapi");
        assert_eq!(Profile::FapiAdvanced.rules().name, "fapi-advanced");
        assert_eq!(Profile::UkOb.rules().name, "uk-ob");
        assert_eq!(Profile::AuCdr.rules().name, "au-cdr");
    }

    #[test]
    fn renames_never_target_server_owned_fields() {
        for profile in Profile::ALL {
            for (_, to) in profile.rules().statement.renames {
                assert!(!crate::SERVER_OWNED.contains(to), "{to}");
            }
        }
        for (_, to) in UK_OB_RENAMES {
            assert_ne!(*to, "client_id");
            assert_ne!(*to, "client_secret");
        }
    }

    #[test]
    fn uk_ob_secrets_fit_ob_dcr_33() {
        // base64url without padding: 4 characters per 3 bytes, rounded up.
        let chars = |bytes: usize| (bytes * 4).div_ceil(3);
        assert_eq!(chars(UK_OB.registration.client_secret_bytes), 36);
        assert_eq!(chars(DEFAULT.registration.client_secret_bytes), 43);
    }
}
