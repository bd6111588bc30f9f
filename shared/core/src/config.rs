//! The service configuration (docs/configuration.md): one YAML document, every key optional,
//! unknown keys and bad values refused with a message naming the key.

use dcr_validation::{MAX_EXTRA_FIELDS, Policy, Profile, Rules, SERVER_OWNED};

mod extensions;
mod ibm;
pub use extensions::{
    DEFAULT_HOOK_TIMEOUT_MS, HookConfig, HookTarget, HooksConfig, MAX_HOOK_TIMEOUT_MS,
    TEMPLATE_PAIRS, UNTEMPLATABLE,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A configuration that could not be loaded; the message names the offending key.
#[derive(Debug, thiserror::Error)]
#[error("configuration key `{key}`: {message}")]
pub struct ConfigError {
    /// Dotted path of the key at fault (`.` for the document itself).
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigError {
    fn new(key: &str, message: impl Into<String>) -> Self {
        Self {
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

/// A flag that is off unless set: absent and `null` both mean `false`.
fn flag<'de, D: serde::Deserializer<'de>>(de: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(de)?.unwrap_or(false))
}

/// `registration_endpoint_authentication`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrationAuth {
    /// Require a verified client certificate on `POST /register`.
    #[serde(default, deserialize_with = "flag")]
    pub require_mtls: bool,
    /// Require an initial access token (JWT) carrying `bearer_token.scopes`.
    #[serde(default, deserialize_with = "flag")]
    pub require_bearer_token: bool,
    /// Require a software statement; unset, the profile decides
    /// ([`Config::require_software_statement`]).
    pub require_software_statement: Option<bool>,
    /// Let a request choose its own `client_id` / `client_secret`.
    #[serde(default, deserialize_with = "flag")]
    pub allow_custom_client_creds: bool,
}

/// `management_endpoint_authentication`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ManagementAuth {
    /// Require a verified client certificate on management calls.
    #[serde(default, deserialize_with = "flag")]
    pub require_mtls: bool,
    /// Management calls take access tokens of the client or its owner (needs `bearer_token`).
    #[serde(default, deserialize_with = "flag")]
    pub require_bearer_token: bool,
    /// A `PUT` must carry a fresh software statement.
    #[serde(default, deserialize_with = "flag")]
    pub require_software_statement: bool,
}

/// `registration_access_token`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrationTokenConfig {
    /// Issue a registration access token.
    pub generate: bool,
    /// Seconds the token lives, 0 = forever.
    pub lifetime: u64,
    /// A `PUT` returns a new token and the old one dies.
    pub rotate_on_update: bool,
    /// Seconds the token a rotation replaced is still accepted (a client whose
    /// answer was lost retries with it), 0 = none.
    pub rotation_grace: u64,
}

/// Default of `registration_access_token.rotation_grace`, in seconds.
pub const DEFAULT_ROTATION_GRACE: u64 = 120;
/// Largest `registration_access_token.rotation_grace`, in seconds: a grace is
/// for retries, not a second token.
pub const MAX_ROTATION_GRACE: u64 = 3600;

impl Default for RegistrationTokenConfig {
    fn default() -> Self {
        Self {
            generate: true,
            lifetime: 0,
            rotate_on_update: false,
            rotation_grace: DEFAULT_ROTATION_GRACE,
        }
    }
}

/// `bearer_token`: how initial access tokens and management JWTs are checked.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BearerTokenConfig {
    /// Expected `iss`.
    pub issuer: Option<String>,
    /// Where the issuer's signing keys are.
    pub jwks_uri: Option<String>,
    /// Expected `aud`, if any.
    pub audience: Option<String>,
    /// Scopes the token must carry.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// RFC 7662 endpoint where tokens that are not JWTs are checked.
    pub introspection_endpoint: Option<String>,
    /// The client id this service authenticates with at the introspection endpoint.
    pub introspection_client_id: Option<String>,
    /// Also accept tokens whose header `typ` is `JWT` or absent, not only `at+jwt`.
    #[serde(default)]
    pub allow_plain_jwt: bool,
}

/// `request_object`: signed registration requests (`application/jwt`, `application/jose`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RequestObjectConfig {
    /// Further accepted `aud` values (the issuer and `{issuer}/register` always are).
    #[serde(default)]
    pub audiences: Vec<String>,
    /// `POST /register` takes signed request objects only (profile default applies).
    pub required: Option<bool>,
}

/// `software_statement_validation`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatementConfig {
    /// Where the directory's signing keys are.
    pub jwks_uri: Option<String>,
    /// When set, a statement's `iss` must equal it.
    pub issuer: Option<String>,
    /// Accepted signature algorithms.
    pub signing_algs: Vec<String>,
}

impl Default for StatementConfig {
    fn default() -> Self {
        Self {
            jwks_uri: None,
            issuer: None,
            signing_algs: vec!["PS256".into(), "ES256".into()],
        }
    }
}

/// The configuration document as written (docs/configuration.md).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The issuer; when absent it is derived from the listen address or the request.
    pub issuer: Option<String>,
    /// Security profile.
    #[serde(default)]
    pub profile: Profile,
    /// Protection of `POST /register`.
    #[serde(default)]
    pub registration_endpoint_authentication: RegistrationAuth,
    /// Protection of the management endpoints.
    #[serde(default)]
    pub management_endpoint_authentication: ManagementAuth,
    /// Registration access token issuance.
    #[serde(default)]
    pub registration_access_token: RegistrationTokenConfig,
    /// Initial access token and management JWT checks.
    #[serde(default)]
    pub bearer_token: BearerTokenConfig,
    /// Software statement checks.
    #[serde(default)]
    pub software_statement_validation: StatementConfig,
    /// Seconds a client secret lives, 0 = forever.
    #[serde(default)]
    pub client_secret_lifetime: u64,
    /// Seconds a dynamic client lives, 0 = forever.
    #[serde(default)]
    pub client_lifetime: u64,
    /// Metadata applied where a request is silent.
    #[serde(default)]
    pub defaults: Map<String, Value>,
    /// Allowed metadata values.
    #[serde(default)]
    pub policy: Policy,
    /// Extra fields merged into the discovery documents.
    #[serde(default)]
    pub server_metadata: Map<String, Value>,
    /// Browser origins allowed to call the API (`*` for any).
    #[serde(default)]
    pub cors_allowed_origins: Vec<String>,
    /// Allow `http` and loopback outbound targets (local use and tests only).
    #[serde(default)]
    pub allow_loopback_http: bool,
    /// Signed request objects: extra audiences, whether they are required.
    #[serde(default)]
    pub request_object: RequestObjectConfig,
    /// Names of further client metadata stored and echoed (others are dropped).
    #[serde(default)]
    pub extra_client_metadata: Vec<String>,
    /// Hooks run before a registration or an update is stored (docs/hooks.md).
    #[serde(default)]
    pub hooks: HooksConfig,
    /// Templatized clients: a `software_id` and the metadata its instances share.
    #[serde(default)]
    pub templates: std::collections::BTreeMap<String, Map<String, Value>>,
}

/// Signature algorithms a configuration may name.
pub const ASYMMETRIC_ALGS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
];

/// Most extra request object audiences.
pub const MAX_REQUEST_AUDIENCES: usize = 20;

impl Config {
    /// Parses and checks a YAML (or JSON) document; an empty document is the default.
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        if let Some(stanza) = ibm::stanza(text)? {
            return ibm::load(stanza);
        }
        let config: Config = if text.trim().is_empty() {
            Config::default()
        } else {
            let de = serde_yaml_ng::Deserializer::from_str(text);
            serde_path_to_error::deserialize(de).map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner().to_string();
                ConfigError::new(&path, strip_location(&inner))
            })?
        };
        config.check()?;
        Ok(config)
    }

    /// Checks the values serde cannot: URLs, algorithms, required companions.
    pub fn check(&self) -> Result<(), ConfigError> {
        if let Some(issuer) = &self.issuer {
            check_issuer(issuer).map_err(|m| ConfigError::new("issuer", m))?;
        }
        for (key, value) in [
            ("bearer_token.jwks_uri", &self.bearer_token.jwks_uri),
            (
                "software_statement_validation.jwks_uri",
                &self.software_statement_validation.jwks_uri,
            ),
        ] {
            if let Some(uri) = value {
                check_fetch_url(uri, self.allow_loopback_http)
                    .map_err(|m| ConfigError::new(key, m))?;
            }
        }
        for alg in &self.software_statement_validation.signing_algs {
            if !ASYMMETRIC_ALGS.contains(&alg.as_str()) {
                return Err(ConfigError::new(
                    "software_statement_validation.signing_algs",
                    format!(
                        "`{alg}` is not an accepted signature algorithm (one of {ASYMMETRIC_ALGS:?})"
                    ),
                ));
            }
        }
        if self.software_statement_validation.signing_algs.is_empty() {
            return Err(ConfigError::new(
                "software_statement_validation.signing_algs",
                "must name at least one algorithm",
            ));
        }
        self.check_introspection()?;
        for (flag, required) in [
            (
                "registration_endpoint_authentication.require_bearer_token",
                self.registration_endpoint_authentication
                    .require_bearer_token,
            ),
            (
                "management_endpoint_authentication.require_bearer_token",
                self.management_endpoint_authentication.require_bearer_token,
            ),
        ] {
            // Opaque tokens checked by introspection need no JWT issuer.
            if !required || self.bearer_token.introspection_endpoint.is_some() {
                continue;
            }
            if self.bearer_token.issuer.is_none() {
                return Err(ConfigError::new(
                    "bearer_token.issuer",
                    format!(
                        "required when {flag} is true (or set bearer_token.introspection_endpoint)"
                    ),
                ));
            }
            if self.bearer_token.jwks_uri.is_none() {
                return Err(ConfigError::new(
                    "bearer_token.jwks_uri",
                    format!(
                        "required when {flag} is true (or set bearer_token.introspection_endpoint)"
                    ),
                ));
            }
        }
        if (self.require_software_statement()
            || self
                .management_endpoint_authentication
                .require_software_statement)
            && self.software_statement_validation.jwks_uri.is_none()
        {
            return Err(ConfigError::new(
                "software_statement_validation.jwks_uri",
                "required when software statements are required",
            ));
        }
        if self.request_object.required == Some(true)
            && self.software_statement_validation.jwks_uri.is_none()
        {
            return Err(ConfigError::new(
                "software_statement_validation.jwks_uri",
                "required when request_object.required is true (request objects carry a statement)",
            ));
        }
        self.check_request_object()?;
        self.check_extra_client_metadata()?;
        for origin in &self.cors_allowed_origins {
            if origin != "*" && !is_origin(origin) {
                return Err(ConfigError::new(
                    "cors_allowed_origins",
                    format!("`{origin}` is not an origin (scheme://host[:port]) or `*`"),
                ));
            }
        }
        for key in self.defaults.keys() {
            if SERVER_OWNED.contains(&key.as_str()) {
                return Err(ConfigError::new(
                    &format!("defaults.{key}"),
                    "is set by the server and cannot have a default",
                ));
            }
        }
        dcr_validation::validate_defaults_with(&self.defaults, &self.extra_client_metadata)
            .map_err(|e| ConfigError::new("defaults", e.description))?;
        dcr_validation::check_rules(&self.rules())
            .map_err(|e| ConfigError::new(&e.key, e.message))?;
        self.check_registration_token()?;
        self.check_bearer_token_scope()?;
        self.check_extensions()?;
        Ok(())
    }

    /// Whether JWT access tokens of `bearer_token.issuer` are accepted at all:
    /// required on registration, or verifiable for management.
    pub fn uses_bearer_tokens(&self) -> bool {
        self.registration_endpoint_authentication
            .require_bearer_token
            || (self.bearer_token.issuer.is_some() && self.bearer_token.jwks_uri.is_some())
            || self.bearer_token.introspection_endpoint.is_some()
    }

    /// Bearer tokens must be narrowed to ours: by scopes, an audience or the
    /// profile's scope; otherwise every JWT the issuer signs would do.
    fn check_bearer_token_scope(&self) -> Result<(), ConfigError> {
        let narrowed = !self.bearer_token.scopes.is_empty()
            || self.bearer_token.audience.is_some()
            || self.profile.rules().management.required_scope.is_some();
        if self.uses_bearer_tokens() && !narrowed {
            return Err(ConfigError::new(
                "bearer_token.scopes",
                "is empty and bearer_token.audience is unset, so any token bearer_token.issuer \
                 signs or the introspection endpoint calls active (an ID token, another API's \
                 access token) would register and manage clients: set bearer_token.scopes, \
                 bearer_token.audience, or both",
            ));
        }
        Ok(())
    }

    /// `registration_access_token`: rotation needs tokens, and a grace is short.
    fn check_registration_token(&self) -> Result<(), ConfigError> {
        let rat = &self.registration_access_token;
        if rat.rotate_on_update && !rat.generate {
            return Err(ConfigError::new(
                "registration_access_token.rotate_on_update",
                "needs registration_access_token.generate: true (there is no token to rotate)",
            ));
        }
        if rat.rotation_grace > MAX_ROTATION_GRACE {
            return Err(ConfigError::new(
                "registration_access_token.rotation_grace",
                format!("at most {MAX_ROTATION_GRACE} seconds: a grace is for retries"),
            ));
        }
        Ok(())
    }

    /// `bearer_token.introspection_*`: an endpoint URL and a client id, both or neither.
    fn check_introspection(&self) -> Result<(), ConfigError> {
        let b = &self.bearer_token;
        match (&b.introspection_endpoint, &b.introspection_client_id) {
            (Some(uri), Some(id)) => {
                check_fetch_url(uri, self.allow_loopback_http)
                    .map_err(|m| ConfigError::new("bearer_token.introspection_endpoint", m))?;
                if id.is_empty() || id.contains(':') || id.chars().any(char::is_control) {
                    return Err(ConfigError::new(
                        "bearer_token.introspection_client_id",
                        "must be a non-empty client id without `:` or control characters",
                    ));
                }
                Ok(())
            }
            (Some(_), None) => Err(ConfigError::new(
                "bearer_token.introspection_client_id",
                "required with bearer_token.introspection_endpoint",
            )),
            (None, Some(_)) => Err(ConfigError::new(
                "bearer_token.introspection_endpoint",
                "required with bearer_token.introspection_client_id",
            )),
            (None, None) => Ok(()),
        }
    }

    /// `request_object.audiences`: at most [`MAX_REQUEST_AUDIENCES`] printable values.
    fn check_request_object(&self) -> Result<(), ConfigError> {
        let audiences = &self.request_object.audiences;
        if audiences.len() > MAX_REQUEST_AUDIENCES {
            return Err(ConfigError::new(
                "request_object.audiences",
                format!("at most {MAX_REQUEST_AUDIENCES} values"),
            ));
        }
        for aud in audiences {
            if aud.is_empty() || aud.len() > 255 || aud.chars().any(char::is_control) {
                return Err(ConfigError::new(
                    "request_object.audiences",
                    "each value is 1 to 255 bytes without control characters",
                ));
            }
        }
        Ok(())
    }

    /// `extra_client_metadata`: distinct valid names of fields the server does not know.
    fn check_extra_client_metadata(&self) -> Result<(), ConfigError> {
        let key = "extra_client_metadata";
        let names = &self.extra_client_metadata;
        if names.len() > MAX_EXTRA_FIELDS {
            return Err(ConfigError::new(
                key,
                format!("at most {MAX_EXTRA_FIELDS} names"),
            ));
        }
        for (i, name) in names.iter().enumerate() {
            dcr_validation::check_extra_field_name(name).map_err(|m| ConfigError::new(key, m))?;
            if names[..i].contains(name) {
                return Err(ConfigError::new(key, format!("`{name}` is listed twice")));
            }
        }
        Ok(())
    }

    /// Every key of the configuration type as a dotted path
    /// (`registration_access_token.lifetime`), sorted, with its default value:
    /// the source of truth that `docs/configuration.md` is checked against.
    /// Open maps (`defaults`, `server_metadata`) are one key each.
    pub fn key_paths() -> Vec<(String, Value)> {
        fn walk(prefix: &str, value: &Value, out: &mut Vec<(String, Value)>) {
            match value {
                Value::Object(map) if !map.is_empty() => {
                    for (key, child) in map {
                        let path = if prefix.is_empty() {
                            key.clone()
                        } else {
                            format!("{prefix}.{key}")
                        };
                        walk(&path, child, out);
                    }
                }
                leaf => out.push((prefix.to_owned(), leaf.clone())),
            }
        }
        let mut out = Vec::new();
        // Serializing plain data with derived impls cannot fail.
        let default = serde_json::to_value(Config::default()).unwrap_or_default();
        walk("", &default, &mut out);
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// The validation rules this configuration implies.
    pub fn rules(&self) -> Rules {
        Rules {
            policy: self.policy.clone(),
            defaults: self.defaults.clone(),
            profile: self.profile,
            extra_fields: self.extra_client_metadata.clone(),
        }
    }

    /// Whether `POST /register` takes signed request objects only: the
    /// configured `request_object.required`, else the profile's (uk-ob and
    /// au-cdr, as their standards send; IBM's stanza: no).
    pub fn signed_requests_only(&self) -> bool {
        self.request_object
            .required
            .unwrap_or(self.profile.rules().registration.signed_requests_only)
    }

    /// Whether the management endpoint accepts the registration access token:
    /// not under au-cdr, whose clients manage themselves with access tokens.
    pub fn registration_token_accepted(&self) -> bool {
        self.profile.rules().management.registration_token
    }

    /// Whether registrations get a registration access token: when configured,
    /// and only where the management endpoint would accept it.
    pub fn issues_registration_token(&self) -> bool {
        self.registration_access_token.generate && self.registration_token_accepted()
    }

    /// Whether `POST /register` needs a software statement: the configured
    /// flag, else the profile's.
    pub fn require_software_statement(&self) -> bool {
        self.registration_endpoint_authentication
            .require_software_statement
            .unwrap_or(self.profile.rules().registration.statement_required)
    }
}

fn strip_location(message: &str) -> String {
    // serde_yaml_ng appends " at line L column C"; keep it, it helps the operator.
    message.to_owned()
}

fn check_issuer(issuer: &str) -> Result<(), String> {
    let url = url::Url::parse(issuer).map_err(|e| format!("not an absolute URL: {e}"))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err("must be an https (or, locally, http) URL".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must have no query or fragment (RFC 8414 §2)".into());
    }
    Ok(())
}

fn check_fetch_url(uri: &str, allow_http: bool) -> Result<(), String> {
    let url = url::Url::parse(uri).map_err(|e| format!("not an absolute URL: {e}"))?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_http => Ok(()),
        _ => Err("must be an https URL (http only with allow_loopback_http)".into()),
    }
}

fn is_origin(origin: &str) -> bool {
    url::Url::parse(origin).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https")
            && u.host_str().is_some()
            && u.path() == "/"
            && !origin.ends_with('/')
            && u.query().is_none()
            && u.username().is_empty()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_document_is_the_default() {
        let c = Config::from_yaml("").unwrap();
        assert!(c.registration_access_token.generate);
        assert_eq!(c.profile, Profile::Default);
        assert!(!c.require_software_statement());
        let c = Config::from_yaml("{}").unwrap();
        assert!(!c.allow_loopback_http);
    }

    #[test]
    fn full_contract_example_parses() {
        let text = r#"
issuer: http://127.0.0.1:3000
profile: default
registration_endpoint_authentication:
  require_mtls: false
  require_bearer_token: false
  require_software_statement: false
  allow_custom_client_creds: false
management_endpoint_authentication:
  require_mtls: false
  require_software_statement: false
registration_access_token:
  generate: true
  lifetime: 0
  rotate_on_update: false
  rotation_grace: 120
bearer_token:
  issuer: https://as.example.com
  jwks_uri: https://as.example.com/jwks
  audience: null
  scopes: [cdr:registration]
  allow_plain_jwt: false
software_statement_validation:
  jwks_uri: https://directory.example.com/jwks
  issuer: null
  signing_algs: [PS256, ES256]
client_secret_lifetime: 0
client_lifetime: 0
defaults: {}
policy: {}
server_metadata: {}
cors_allowed_origins: []
allow_loopback_http: false
"#;
        let c = Config::from_yaml(text).unwrap();
        assert_eq!(c.bearer_token.scopes, vec!["cdr:registration"]);
    }

    #[test]
    fn unknown_key_is_named() {
        let e = Config::from_yaml("registration_access_token:\n  lifetyme: 5\n").unwrap_err();
        let text = e.to_string();
        assert!(text.contains("lifetyme"), "{text}");
        assert!(text.contains("registration_access_token"), "{text}");
        let e = Config::from_yaml("colour: blue\n").unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
    }

    #[test]
    fn bad_value_is_named() {
        let e = Config::from_yaml("client_lifetime: -3\n").unwrap_err();
        assert_eq!(e.key, "client_lifetime");
        let e = Config::from_yaml("profile: open-banking\n").unwrap_err();
        assert_eq!(e.key, "profile");
        let e = Config::from_yaml("issuer: not a url\n").unwrap_err();
        assert_eq!(e.key, "issuer");
        let e = Config::from_yaml("policy:\n  grant_types: implicit\n").unwrap_err();
        assert_eq!(e.key, "policy.grant_types");
        let e =
            Config::from_yaml("cors_allowed_origins: [\"https://a.example/path\"]\n").unwrap_err();
        assert_eq!(e.key, "cors_allowed_origins");
        let e = Config::from_yaml("defaults:\n  client_id: x\n").unwrap_err();
        assert_eq!(e.key, "defaults.client_id");
        let e = Config::from_yaml("software_statement_validation:\n  signing_algs: [HS256]\n")
            .unwrap_err();
        assert_eq!(e.key, "software_statement_validation.signing_algs");
    }

    #[test]
    fn defaults_are_validated() {
        let e = Config::from_yaml("defaults:\n  grant_types: [teleport]\n").unwrap_err();
        assert_eq!(e.key, "defaults");
        assert!(e.message.contains("grant_types"), "{e}");
        Config::from_yaml("defaults:\n  grant_types: [client_credentials]\n").unwrap();
    }

    #[test]
    fn companions_are_required() {
        let e = Config::from_yaml(
            "registration_endpoint_authentication:\n  require_bearer_token: true\n",
        )
        .unwrap_err();
        assert_eq!(e.key, "bearer_token.issuer");
        let e = Config::from_yaml("profile: uk-ob\n").unwrap_err();
        assert_eq!(e.key, "software_statement_validation.jwks_uri");
    }

    #[test]
    fn flags_given_as_null_are_off() {
        let c = Config::from_yaml(
            "registration_endpoint_authentication:\n  require_mtls: null\n  allow_custom_client_creds: null\nmanagement_endpoint_authentication:\n  require_software_statement: null\n",
        )
        .unwrap();
        assert!(!c.registration_endpoint_authentication.require_mtls);
        assert!(
            !c.registration_endpoint_authentication
                .allow_custom_client_creds
        );
        assert!(
            !c.management_endpoint_authentication
                .require_software_statement
        );
        let c = Config::from_yaml("management_endpoint_authentication:\n  require_mtls: true\n")
            .unwrap();
        assert!(c.management_endpoint_authentication.require_mtls);
        let e = Config::from_yaml("management_endpoint_authentication:\n  require_mtls: maybe\n")
            .unwrap_err();
        assert_eq!(e.key, "management_endpoint_authentication.require_mtls");
    }

    #[test]
    fn json_is_accepted() {
        let c =
            Config::from_yaml(r#"{"client_lifetime": 60, "cors_allowed_origins": ["*"]}"#).unwrap();
        assert_eq!(c.client_lifetime, 60);
    }

    #[test]
    fn explicit_key_beats_profile_default() {
        let c = Config::from_yaml(
            "profile: uk-ob\nregistration_endpoint_authentication:\n  require_software_statement: false\n",
        )
        .unwrap();
        assert!(!c.require_software_statement());
    }

    #[test]
    fn interop_keys_are_checked() {
        let c = Config::from_yaml(
            "request_object:\n  audiences: [\"0015800001HQQrZAAX\"]\nextra_client_metadata: [access_token_lifetime, claims]\ndefaults:\n  claims: [email]\n",
        )
        .unwrap();
        assert_eq!(c.request_object.audiences, vec!["0015800001HQQrZAAX"]);
        assert_eq!(
            c.rules().extra_fields,
            vec!["access_token_lifetime", "claims"]
        );
        for (yaml, key) in [
            (
                "extra_client_metadata: [client_name]\n",
                "extra_client_metadata",
            ),
            ("extra_client_metadata: [a, a]\n", "extra_client_metadata"),
            (
                "extra_client_metadata: [\"with space\"]\n",
                "extra_client_metadata",
            ),
            (
                "request_object:\n  audiences: [\"\"]\n",
                "request_object.audiences",
            ),
            ("request_object:\n  audience: [x]\n", "request_object"),
            ("defaults:\n  claims: [email]\n", "defaults"),
            (
                "bearer_token:\n  introspection_endpoint: https://as.example/introspect\n",
                "bearer_token.introspection_client_id",
            ),
            (
                "bearer_token:\n  introspection_client_id: dcr\n",
                "bearer_token.introspection_endpoint",
            ),
            (
                "bearer_token:\n  introspection_endpoint: http://as.example/i\n  introspection_client_id: dcr\n",
                "bearer_token.introspection_endpoint",
            ),
            (
                "management_endpoint_authentication:\n  require_bearer_token: true\n",
                "bearer_token.issuer",
            ),
            (
                "request_object:\n  required: true\n",
                "software_statement_validation.jwks_uri",
            ),
        ] {
            let e = Config::from_yaml(yaml).unwrap_err();
            assert!(e.key.starts_with(key), "{yaml}: {e}");
        }
        // Opaque tokens need no JWT issuer.
        Config::from_yaml(
            "registration_endpoint_authentication:\n  require_bearer_token: true\nbearer_token:\n  introspection_endpoint: https://as.example/introspect\n  introspection_client_id: dcr\n  scopes: [dcr]\n",
        )
        .unwrap();
    }

    #[test]
    fn profile_defaults_of_signed_requests_and_registration_tokens() {
        let c = Config::from_yaml("profile: fapi-advanced\n").unwrap();
        assert_eq!(c.profile, Profile::FapiAdvanced);
        assert!(!c.signed_requests_only());
        let jwks = "software_statement_validation:\n  jwks_uri: https://d.example/jwks\n";
        let c = Config::from_yaml(&format!("profile: uk-ob\n{jwks}")).unwrap();
        assert!(c.signed_requests_only() && c.issues_registration_token());
        let c = Config::from_yaml(&format!(
            "profile: uk-ob\nrequest_object:\n  required: false\n{jwks}"
        ))
        .unwrap();
        assert!(!c.signed_requests_only());
        let c = Config::from_yaml(&format!("profile: au-cdr\n{jwks}")).unwrap();
        assert!(c.signed_requests_only());
        assert!(c.registration_access_token.generate);
        assert!(
            !c.issues_registration_token(),
            "au-cdr management refuses registration access tokens"
        );
    }

    #[test]
    fn registration_token_settings_that_cannot_work() {
        let e = Config::from_yaml(
            "registration_access_token:\n  generate: false\n  rotate_on_update: true\n",
        )
        .unwrap_err();
        assert_eq!(e.key, "registration_access_token.rotate_on_update");
        let e =
            Config::from_yaml("registration_access_token:\n  rotation_grace: 86400\n").unwrap_err();
        assert_eq!(e.key, "registration_access_token.rotation_grace");
        let c =
            Config::from_yaml("registration_access_token:\n  rotate_on_update: true\n").unwrap();
        assert_eq!(
            c.registration_access_token.rotation_grace,
            DEFAULT_ROTATION_GRACE
        );
        Config::from_yaml("registration_access_token:\n  generate: false\n").unwrap();
    }

    #[test]
    fn configurations_that_cannot_work_name_their_key() {
        for (yaml, key) in [
            (
                "policy:\n  token_endpoint_auth_methods: [magic]\n",
                "policy.token_endpoint_auth_methods",
            ),
            ("policy:\n  grant_types: [teleport]\n", "policy.grant_types"),
            (
                "policy:\n  response_types: [device]\n",
                "policy.response_types",
            ),
            ("policy:\n  scopes: []\n", "policy.scopes"),
            (
                "policy:\n  token_endpoint_auth_methods: [private_key_jwt]\ndefaults:\n  token_endpoint_auth_method: client_secret_basic\n",
                "defaults.token_endpoint_auth_method",
            ),
            (
                "profile: fapi-advanced\npolicy:\n  token_endpoint_auth_methods: [client_secret_basic, none]\n",
                "policy.token_endpoint_auth_methods",
            ),
            (
                "policy:\n  grant_types: [client_credentials]\n  token_endpoint_auth_methods: [none]\n",
                "policy.grant_types",
            ),
            (
                "registration_access_token:\n  generate: false\n  rotate_on_update: true\n",
                "registration_access_token.rotate_on_update",
            ),
        ] {
            let e = Config::from_yaml(yaml).unwrap_err();
            assert_eq!(e.key, key, "{yaml}");
            assert!(e.to_string().contains(key), "{e}");
        }
    }

    #[test]
    fn bearer_tokens_must_be_narrowed() {
        let base = "bearer_token:\n  issuer: https://as.example.com\n  jwks_uri: https://as.example.com/jwks\n";
        let e = Config::from_yaml(base).unwrap_err();
        assert_eq!(e.key, "bearer_token.scopes");
        assert!(e.message.contains("bearer_token.audience"), "{e}");
        let required =
            format!("registration_endpoint_authentication:\n  require_bearer_token: true\n{base}");
        assert_eq!(
            Config::from_yaml(&required).unwrap_err().key,
            "bearer_token.scopes"
        );
        Config::from_yaml(&format!("{base}  scopes: [dcr]\n")).unwrap();
        Config::from_yaml(&format!("{base}  audience: https://dcr.example.com\n")).unwrap();
        let cdr = format!(
            "profile: au-cdr\nsoftware_statement_validation:\n  jwks_uri: https://register.example/jwks\n{base}"
        );
        Config::from_yaml(&cdr).unwrap();
        // Without keys nothing verifies bearer tokens: nothing to narrow.
        Config::from_yaml("bearer_token:\n  issuer: https://as.example.com\n").unwrap();
        let c = Config::from_yaml(&format!("{base}  scopes: [dcr]\n  allow_plain_jwt: true\n"))
            .unwrap();
        assert!(c.bearer_token.allow_plain_jwt);
    }

    #[test]
    fn http_jwks_needs_loopback_flag() {
        let e =
            Config::from_yaml("bearer_token:\n  jwks_uri: http://127.0.0.1:1/jwks\n").unwrap_err();
        assert_eq!(e.key, "bearer_token.jwks_uri");
        Config::from_yaml(
            "allow_loopback_http: true\nbearer_token:\n  jwks_uri: http://127.0.0.1:1/jwks\n",
        )
        .unwrap();
    }
}
