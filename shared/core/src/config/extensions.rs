//! The keys that extend the service: `hooks` (custom checks and changes, run
//! before a registration or an update is stored, docs/hooks.md) and
//! `templates` (templatized clients, docs/configuration.md#templates).

use std::collections::BTreeMap;

use dcr_validation::{SERVER_OWNED, validate_defaults_with};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Config, ConfigError, check_fetch_url};

/// Default of `hooks.*.timeout_ms`.
pub const DEFAULT_HOOK_TIMEOUT_MS: u64 = 2000;
/// Largest `hooks.*.timeout_ms`: a hook runs inside a client's request, which
/// API Gateway ends after 30 s and the functions after their own timeout.
pub const MAX_HOOK_TIMEOUT_MS: u64 = 10_000;

/// One hook: where it runs (a URL or a Lambda function, one of them) and how
/// long it may take.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HookConfig {
    /// An `https` URL the request is POSTed to as JSON (`http` and loopback
    /// only with `allow_loopback_http`).
    pub url: Option<String>,
    /// A Lambda function (name or ARN) invoked with the request (AWS only).
    pub function: Option<String>,
    /// Milliseconds the hook may take, from the call to its whole answer.
    pub timeout_ms: u64,
}

impl Default for HookConfig {
    fn default() -> Self {
        Self {
            url: None,
            function: None,
            timeout_ms: DEFAULT_HOOK_TIMEOUT_MS,
        }
    }
}

/// Where a configured hook runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookTarget {
    /// POST the request as JSON to this URL.
    Url(String),
    /// Invoke this Lambda function (name or ARN).
    Function(String),
}

impl HookConfig {
    /// Where the hook runs; `None` when it is not configured.
    pub fn target(&self) -> Option<HookTarget> {
        match (&self.url, &self.function) {
            (Some(url), _) => Some(HookTarget::Url(url.clone())),
            (None, Some(function)) => Some(HookTarget::Function(function.clone())),
            (None, None) => None,
        }
    }

    fn check(&self, key: &str, allow_http: bool) -> Result<(), ConfigError> {
        match (&self.url, &self.function) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    key,
                    "set `url` or `function`, not both: a hook runs in one place",
                ));
            }
            (Some(url), None) => check_fetch_url(url, allow_http)
                .map_err(|m| ConfigError::new(&format!("{key}.url"), m))?,
            (None, Some(function)) => check_function_name(function)
                .map_err(|m| ConfigError::new(&format!("{key}.function"), m))?,
            (None, None) => {}
        }
        if self.timeout_ms == 0 || self.timeout_ms > MAX_HOOK_TIMEOUT_MS {
            return Err(ConfigError::new(
                &format!("{key}.timeout_ms"),
                format!("must be 1 to {MAX_HOOK_TIMEOUT_MS} milliseconds"),
            ));
        }
        Ok(())
    }
}

/// A Lambda function name, partial or full ARN, optionally with a version or
/// alias (the `FunctionName` of Lambda's Invoke API): 1 to 170 characters of
/// `A-Z a-z 0-9 - _ : .` and `$`.
fn check_function_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 170
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_:.$".contains(c));
    if ok {
        Ok(())
    } else {
        Err("must be a Lambda function name or ARN (1 to 170 of A-Z a-z 0-9 - _ : . $)".into())
    }
}

/// `hooks`: what runs before a registration or an update is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HooksConfig {
    /// Runs on `POST /register`, after the metadata rules passed.
    pub pre_registration: HookConfig,
    /// Runs on `PUT /register/{client_id}`, after the metadata rules passed.
    pub pre_update: HookConfig,
}

impl HooksConfig {
    /// Every configured hook with its key, for the wiring to check it can call them.
    pub fn configured(&self) -> Vec<(&'static str, HookTarget)> {
        [
            ("hooks.pre_registration", &self.pre_registration),
            ("hooks.pre_update", &self.pre_update),
        ]
        .into_iter()
        .filter_map(|(key, hook)| hook.target().map(|t| (key, t)))
        .collect()
    }
}

/// Fields a template may not set: the instance's own identity and
/// credentials (how it authenticates stays its own, so a template change can
/// never leave an instance with a secret it no longer needs or without one
/// it needs), and `software_id`, which names the template.
pub const UNTEMPLATABLE: &[&str] = &[
    "software_id",
    "software_statement",
    "token_endpoint_auth_method",
    "jwks",
    "jwks_uri",
];

/// Fields that a template names together or not at all, since each is
/// checked against the other: a template that changed one alone could
/// contradict what an instance holds of the other.
pub const TEMPLATE_PAIRS: &[(&str, &str)] = &[
    ("grant_types", "response_types"),
    ("redirect_uris", "application_type"),
];

/// Most templates in one configuration.
pub const MAX_TEMPLATES: usize = 100;

/// `templates`: each field of each entry must be known and pass its own
/// check, no field may be untemplatable, and paired fields come together.
/// The whole client (template and the instance's own fields, defaults,
/// policy, profile) is checked at each registration and update.
pub(super) fn check_templates(
    templates: &BTreeMap<String, Map<String, Value>>,
    extra_fields: &[String],
) -> Result<(), ConfigError> {
    if templates.len() > MAX_TEMPLATES {
        return Err(ConfigError::new(
            "templates",
            format!("at most {MAX_TEMPLATES} templates"),
        ));
    }
    for (software_id, metadata) in templates {
        let key = format!("templates.{software_id}");
        if software_id.is_empty()
            || software_id.len() > 255
            || software_id.chars().any(char::is_control)
        {
            return Err(ConfigError::new(
                "templates",
                "each software_id is 1 to 255 characters without control characters",
            ));
        }
        if metadata.is_empty() {
            return Err(ConfigError::new(&key, "a template sets at least one field"));
        }
        for field in metadata.keys() {
            if SERVER_OWNED.contains(&field.as_str()) || UNTEMPLATABLE.contains(&field.as_str()) {
                return Err(ConfigError::new(
                    &format!("{key}.{field}"),
                    "is the instance's own and cannot be templated",
                ));
            }
        }
        for (a, b) in TEMPLATE_PAIRS {
            if metadata.contains_key(*a) != metadata.contains_key(*b) {
                return Err(ConfigError::new(
                    &key,
                    format!("names `{a}` and `{b}` together or neither"),
                ));
            }
        }
        validate_defaults_with(metadata, extra_fields)
            .map_err(|e| ConfigError::new(&key, e.description))?;
    }
    Ok(())
}

impl Config {
    /// The template of `software_id`, as configured (validated at start-up).
    pub fn template(&self, software_id: &str) -> Option<&Map<String, Value>> {
        self.templates.get(software_id)
    }

    pub(super) fn check_extensions(&self) -> Result<(), ConfigError> {
        self.hooks
            .pre_registration
            .check("hooks.pre_registration", self.allow_loopback_http)?;
        self.hooks
            .pre_update
            .check("hooks.pre_update", self.allow_loopback_http)?;
        check_templates(&self.templates, &self.extra_client_metadata)?;
        if !self.templates.is_empty() && !self.uses_bearer_tokens() {
            return Err(ConfigError::new(
                "templates",
                "an instance of a template registers with an initial access token: set \
                 bearer_token.issuer and bearer_token.jwks_uri, or bearer_token.introspection_endpoint",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    const BEARER: &str = "bearer_token:\n  issuer: https://as.example\n  jwks_uri: https://as.example/jwks\n  scopes: [dcr]\n";

    #[test]
    fn hooks_are_checked_naming_the_key() {
        let e = Config::from_yaml(
            "hooks:\n  pre_registration:\n    url: https://h.example/\n    function: f\n",
        )
        .unwrap_err();
        assert_eq!(e.key, "hooks.pre_registration");
        let e =
            Config::from_yaml("hooks:\n  pre_update:\n    url: http://h.example/\n").unwrap_err();
        assert_eq!(e.key, "hooks.pre_update.url");
        let e = Config::from_yaml("hooks:\n  pre_update:\n    function: a/b\n").unwrap_err();
        assert_eq!(e.key, "hooks.pre_update.function");
        let e = Config::from_yaml("hooks:\n  pre_update:\n    function: f\n    timeout_ms: 0\n")
            .unwrap_err();
        assert_eq!(e.key, "hooks.pre_update.timeout_ms");
        let c = Config::from_yaml(
            "hooks:\n  pre_registration:\n    function: arn:aws:lambda:eu-west-1:123456789012:function:check\n",
        )
        .unwrap();
        assert_eq!(c.hooks.configured().len(), 1);
        assert_eq!(c.hooks.pre_registration.timeout_ms, 2000);
    }

    #[test]
    fn templates_are_validated_at_start_up() {
        let ok = format!(
            "{BEARER}templates:\n  app:\n    redirect_uris: [\"com.example.app:/cb\"]\n    application_type: native\n    scope: openid\n"
        );
        let c = Config::from_yaml(&ok).unwrap();
        assert!(c.template("app").is_some());
        let e = Config::from_yaml(&format!(
            "{BEARER}templates:\n  app:\n    token_endpoint_auth_method: none\n"
        ))
        .unwrap_err();
        assert_eq!(e.key, "templates.app.token_endpoint_auth_method");
        let e = Config::from_yaml(&format!(
            "{BEARER}templates:\n  app:\n    grant_types: [authorization_code]\n"
        ))
        .unwrap_err();
        assert_eq!(e.key, "templates.app");
        let e = Config::from_yaml(&format!(
            "{BEARER}templates:\n  app:\n    redirect_uris: [\"not a uri\"]\n    application_type: web\n"
        ))
        .unwrap_err();
        assert_eq!(e.key, "templates.app");
        let e = Config::from_yaml("templates:\n  app:\n    scope: openid\n").unwrap_err();
        assert_eq!(e.key, "templates");
    }
}
