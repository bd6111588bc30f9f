//! Pure validation of dynamic client registration metadata: raw JSON in, typed
//! [`ClientMetadata`] out, or the RFC 7591 §3.2.2 error that explains why not.
//!
//! No I/O, no async, no AWS: everything here is a function of its inputs.
//!
//! [`validate`] runs in layers, each a table:
//!
//! 1. **fields** (`fields.rs` + `kinds.rs`): every known key is checked against
//!    its kind (string, URI, web URI, redirect URI, enum, list, JWK Set, ...);
//!    `null` counts as absent and unknown keys are dropped (RFC 7591 §2).
//!    Language-tagged variants (`client_name#fr`, RFC 7591 §2.2) of the
//!    human-readable fields are checked like their base field and kept.
//! 2. **defaults**: config `defaults` where the request is silent, then the
//!    built-in defaults (`defaults.rs`), so the stored document says what was
//!    applied. Defaults go through the same rules as the request.
//! 3. **base rules** (`BASE_RULES`): grants vs response types (`grants.rs`),
//!    redirect URIs vs application type (`redirect.rs`), auth method vs keys
//!    (`auth.rs`), algorithms (`algs.rs`).
//! 4. **policy** (`policy.rs`), then 5. **profile** (`profile_check.rs`: the
//!    metadata columns of the profile table, [`profile`]).
//!
//! [`check_rules`] (`viable.rs`) checks the rules themselves at start-up: a
//! policy, defaults and profile under which no client could register, or that
//! name unknown values, are refused.
//!
//! The error code comes from the rule that failed: redirect URI rules give
//! `invalid_redirect_uri`, all others `invalid_client_metadata`. Descriptions
//! name the field (`redirect_uris[1]: fragment not allowed`), echo client
//! values only quoted and truncated, and never echo key material or secrets.
//! Size limits are listed in [`limits`]; the names every layer shares (grant
//! and response types, auth methods, algorithm lists, field kinds) are in
//! `vocab.rs`, below all the rule modules.

mod algs;
mod auth;
mod ciba;
mod creds;
mod defaults;
mod document;
mod error;
mod extension;
mod fields;
mod grants;
mod jwks;
mod kinds;
pub mod limits;
mod policy;
pub mod profile;
mod profile_check;
mod redirect;
mod uri;
mod viable;
mod vocab;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use creds::{
    MAX_PERIOD_MATCH, SECRET_MIN_BITS, estimated_bits, validate_custom_client_id,
    validate_custom_client_secret,
};
pub use error::{ErrorCode, MetadataError};
pub use extension::{MAX_EXTRA_FIELDS, check_extra_field_name};
pub use jwks::{MAX_RSA_BITS, MIN_RSA_BITS};
pub use profile::{Profile, ProfileRules};
pub use viable::{RulesError, check_rules};
pub use vocab::{SERVER_OWNED, needs_secret};

use document::{Draft, Unknown, parse_document, parse_document_with};

/// Allowed values from the `policy` config key; `None` means anything known is allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Allowed `grant_types` values.
    pub grant_types: Option<Vec<String>>,
    /// Allowed `response_types` values.
    pub response_types: Option<Vec<String>>,
    /// Allowed `token_endpoint_auth_method` values.
    pub token_endpoint_auth_methods: Option<Vec<String>>,
    /// Allowed scope tokens in `scope`.
    pub scopes: Option<Vec<String>>,
    /// Allowed hosts of `redirect_uris` (exact host match).
    pub redirect_uri_hosts: Option<Vec<String>>,
}

/// Everything the rules depend on besides the request itself.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// Allowed values.
    pub policy: Policy,
    /// Metadata applied where the request is silent (config `defaults`).
    pub defaults: Map<String, Value>,
    /// The active security profile.
    pub profile: Profile,
    /// Names of extension fields kept and echoed (config `extra_client_metadata`).
    pub extra_fields: Vec<String>,
}

/// Validated client metadata, with defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientMetadata {
    fields: Map<String, Value>,
}

impl ClientMetadata {
    /// The metadata as it is stored and echoed to the client.
    pub fn to_json(&self) -> Map<String, Value> {
        self.fields.clone()
    }

    /// The effective `token_endpoint_auth_method`.
    pub fn token_endpoint_auth_method(&self) -> &str {
        Draft::new(&self.fields).auth_method()
    }

    /// Whether the auth method uses a client secret (`client_secret_basic`, `_post`, `_jwt`).
    pub fn needs_secret(&self) -> bool {
        needs_secret(self.token_endpoint_auth_method())
    }

    /// The `software_id`, if any.
    pub fn software_id(&self) -> Option<&str> {
        self.fields.get("software_id").and_then(Value::as_str)
    }

    /// The registered `redirect_uris`, as sent.
    pub fn redirect_uris(&self) -> Vec<&str> {
        Draft::new(&self.fields).strs("redirect_uris")
    }

    /// The `sector_identifier_uri`, if any (the caller fetches it and checks the redirect URIs).
    pub fn sector_identifier_uri(&self) -> Option<&str> {
        self.fields
            .get("sector_identifier_uri")
            .and_then(Value::as_str)
    }
}

/// A cross-field rule.
type Rule = fn(&Draft, &ProfileRules) -> Result<(), MetadataError>;

/// The base cross-field rules, in the order they run.
const BASE_RULES: &[Rule] = &[
    grants::check,
    redirect::check,
    redirect::pairwise,
    auth::check,
    algs::check,
    ciba::check,
];

/// Validates a client metadata document (server-owned fields such as `client_id`,
/// `client_secret`, `registration_access_token` already removed by the caller) and
/// applies defaults.
pub fn validate(raw: &Map<String, Value>, rules: &Rules) -> Result<ClientMetadata, MetadataError> {
    let profile = rules.profile.rules();
    let extra = &rules.extra_fields;
    let mut fields = parse_document_with(raw, "", Unknown::Drop, extra)?;
    for (key, value) in parse_document_with(&rules.defaults, "defaults.", Unknown::Drop, extra)? {
        fields.entry(key).or_insert(value);
    }
    defaults::apply(&mut fields, profile);
    let draft = Draft::new(&fields);
    for rule in BASE_RULES {
        rule(&draft, profile)?;
    }
    policy::check(&draft, &rules.policy)?;
    profile_check::check(&draft, profile)?;
    Ok(ClientMetadata { fields })
}

/// Checks configured `defaults` on their own (for start-up): every key must be
/// a known metadata field and every value must pass its field check. Error
/// descriptions name the key as `defaults.<field>`.
pub fn validate_defaults(defaults: &Map<String, Value>) -> Result<(), MetadataError> {
    parse_document(defaults, "defaults.", Unknown::Refuse).map(drop)
}

/// As [`validate_defaults`], where the configured extension fields (`extra`)
/// are known too.
pub fn validate_defaults_with(
    defaults: &Map<String, Value>,
    extra: &[String],
) -> Result<(), MetadataError> {
    parse_document_with(defaults, "defaults.", Unknown::Refuse, extra).map(drop)
}

/// Whether `name` is a metadata field this crate knows (its table, not extensions).
pub fn is_known_field(name: &str) -> bool {
    matches!(fields::lookup(name), fields::Key::Known(_))
}

#[cfg(test)]
mod tests;
