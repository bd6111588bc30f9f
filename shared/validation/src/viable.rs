//! Start-up checks of the rules themselves: a `policy`, `defaults` and
//! `profile` that could never let a client register, or that name values
//! nobody knows, are refused before the service starts, naming the key.
//!
//! | check | key named |
//! |---|---|
//! | a policy list is empty (it would allow nothing) | `policy.<list>` |
//! | a policy value is not a known grant type, response type, auth method, scope token or host | `policy.<list>` |
//! | a policy value the profile never allows (so discovery would advertise it) | `policy.<list>` |
//! | no grant type could be used by any client (the allowed response types serve none of the allowed grants, `client_credentials` with only `none` allowed) | `policy.grant_types` |
//! | a `defaults` value the policy or the profile refuses (every request silent on it would fail) | `defaults.<field>` |
//!
//! Every policy value passing the second and third checks is one the profile
//! allows, so at least one auth method, grant type and response type remain
//! whenever the lists are non-empty; the fourth check covers what they cannot.

use std::net::IpAddr;

use serde_json::{Map, Value, json};

use crate::profile::{PROFILE_ALG_FIELDS, ProfileRules};
use crate::vocab::{
    AUTH_METHODS, AUTHORIZATION_CODE, CLIENT_CREDENTIALS, GRANT_TYPES, IMPLICIT, Kind,
    PUBLIC_METHOD, ResponseType,
};
use crate::{Policy, Rules, kinds, uri};

/// A rule set that cannot work, and the configuration key at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct RulesError {
    /// Dotted path of the key (`policy.grant_types`, `defaults.scope`).
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

fn fail(key: &str, message: impl Into<String>) -> RulesError {
    RulesError {
        key: key.to_owned(),
        message: message.into(),
    }
}

/// Every response type (the four parts, `none` alone), for what a profile or policy leaves.
const ALL_RESPONSE_TYPES: &[&str] = &[
    "code",
    "token",
    "id_token",
    "code token",
    "code id_token",
    "id_token token",
    "code id_token token",
    "none",
];

/// Checks `policy`, `defaults` and `profile` together (table in the module doc).
pub fn check_rules(rules: &Rules) -> Result<(), RulesError> {
    let profile = rules.profile.rules();
    let allowed = Allowed::new(&rules.policy, profile);
    check_lists(&rules.policy, profile)?;
    check_usable_grants(&allowed, profile)?;
    check_defaults(&rules.defaults, &allowed, &rules.policy, profile)
}

/// What the policy and the profile together allow.
struct Allowed<'a> {
    policy: &'a Policy,
    profile: &'static ProfileRules,
}

impl<'a> Allowed<'a> {
    fn new(policy: &'a Policy, profile: &'static ProfileRules) -> Self {
        Self { policy, profile }
    }

    fn grant(&self, grant: &str) -> bool {
        GRANT_TYPES.contains(&grant)
            && listed(self.policy.grant_types.as_deref(), grant)
            && self
                .profile
                .metadata
                .grant_types
                .is_none_or(|p| p.contains(&grant))
    }

    fn method(&self, method: &str) -> bool {
        AUTH_METHODS.contains(&method)
            && listed(self.policy.token_endpoint_auth_methods.as_deref(), method)
            && self
                .profile
                .metadata
                .auth_methods
                .is_none_or(|p| p.contains(&method))
    }

    fn response_type(&self, rt: ResponseType) -> bool {
        let canonical = rt.canonical();
        let in_list = |list: &[&str]| {
            list.iter()
                .any(|s| ResponseType::parse(s).is_ok_and(|r| r.canonical() == canonical))
        };
        let policy: Option<Vec<&str>> = self
            .policy
            .response_types
            .as_ref()
            .map(|l| l.iter().map(String::as_str).collect());
        policy.as_deref().is_none_or(in_list)
            && self.profile.metadata.response_types.is_none_or(in_list)
    }

    fn response_types(&self) -> Vec<ResponseType> {
        ALL_RESPONSE_TYPES
            .iter()
            .filter_map(|s| ResponseType::parse(s).ok())
            .filter(|rt| self.response_type(*rt))
            .collect()
    }
}

/// Whether `value` is in an optional allow-list (`None` allows everything).
fn listed(list: Option<&[String]>, value: &str) -> bool {
    list.is_none_or(|l| l.iter().any(|v| v == value))
}

/// Every policy list: non-empty, known values, values the profile allows.
fn check_lists(policy: &Policy, profile: &ProfileRules) -> Result<(), RulesError> {
    let lists = [
        ("policy.grant_types", &policy.grant_types),
        ("policy.response_types", &policy.response_types),
        (
            "policy.token_endpoint_auth_methods",
            &policy.token_endpoint_auth_methods,
        ),
        ("policy.scopes", &policy.scopes),
        ("policy.redirect_uri_hosts", &policy.redirect_uri_hosts),
    ];
    for (key, list) in lists {
        let Some(values) = list else { continue };
        if values.is_empty() {
            return Err(fail(
                key,
                "is empty, so it allows nothing; leave the key out to allow every known value",
            ));
        }
        for value in values {
            check_value(key, value, profile)?;
        }
    }
    Ok(())
}

/// One policy value: known, and allowed by the profile.
fn check_value(key: &str, value: &str, profile: &ProfileRules) -> Result<(), RulesError> {
    let unknown = |what: &str| fail(key, format!("`{value}` is not {what}"));
    let refused = || {
        fail(
            key,
            format!("`{value}` is never allowed by the {} profile", profile.name),
        )
    };
    match key {
        "policy.grant_types" if !GRANT_TYPES.contains(&value) => Err(unknown(&format!(
            "a known grant type (one of {})",
            GRANT_TYPES.join(", ")
        ))),
        "policy.grant_types"
            if profile
                .metadata
                .grant_types
                .is_some_and(|p| !p.contains(&value)) =>
        {
            Err(refused())
        }
        "policy.token_endpoint_auth_methods" if !AUTH_METHODS.contains(&value) => {
            Err(unknown(&format!(
                "a known token endpoint auth method (one of {})",
                AUTH_METHODS.join(", ")
            )))
        }
        "policy.token_endpoint_auth_methods"
            if profile
                .metadata
                .auth_methods
                .is_some_and(|p| !p.contains(&value)) =>
        {
            Err(refused())
        }
        "policy.response_types" => {
            let rt =
                ResponseType::parse(value).map_err(|m| fail(key, format!("`{value}`: {m}")))?;
            let by_profile = profile.metadata.response_types.is_none_or(|list| {
                list.iter()
                    .any(|s| ResponseType::parse(s).is_ok_and(|r| r.canonical() == rt.canonical()))
            });
            if by_profile { Ok(()) } else { Err(refused()) }
        }
        "policy.scopes" => kinds::check(Kind::Scope, &json!(value), key)
            .map(drop)
            .map_err(|_| unknown("a scope token (RFC 6749 §3.3)"))
            .and_then(|()| {
                if value.contains(' ') {
                    Err(unknown("one scope token"))
                } else {
                    Ok(())
                }
            }),
        "policy.redirect_uri_hosts" if !is_host(value) => Err(unknown(
            "a host name or IP address (no scheme, port, path or wildcard)",
        )),
        _ => Ok(()),
    }
}

/// A host as `policy.redirect_uri_hosts` compares it: a DNS name or an IP
/// address (IPv6 with or without brackets).
fn is_host(value: &str) -> bool {
    let bare = value.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<IpAddr>().is_ok() {
        return true;
    }
    !bare.is_empty()
        && bare
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

/// Some grant type must be usable by some client: its response types and auth
/// method must be allowed too (table in [`crate::grants`]).
fn check_usable_grants(allowed: &Allowed, profile: &ProfileRules) -> Result<(), RulesError> {
    let rts = allowed.response_types();
    let hybrid = profile.metadata.hybrid_needs_implicit;
    let usable = |grant: &str| match grant {
        AUTHORIZATION_CODE => rts
            .iter()
            .any(|rt| rt.has_code() && (!rt.needs_implicit(hybrid) || allowed.grant(IMPLICIT))),
        IMPLICIT => rts.iter().any(|rt| {
            rt.serves_implicit() && (!rt.has_code() || allowed.grant(AUTHORIZATION_CODE))
        }),
        CLIENT_CREDENTIALS => AUTH_METHODS
            .iter()
            .any(|m| *m != PUBLIC_METHOD && allowed.method(m)),
        _ => true,
    };
    if GRANT_TYPES.iter().any(|g| allowed.grant(g) && usable(g)) {
        return Ok(());
    }
    Err(fail(
        "policy.grant_types",
        format!(
            "no client could register: with the allowed response types and auth methods (and the {} profile), \
             none of the allowed grant types can be used (authorization_code needs a response type with code, \
             implicit one with token or id_token, client_credentials an auth method other than none)",
            profile.name
        ),
    ))
}

/// Configured defaults must be values the policy and the profile allow.
fn check_defaults(
    defaults: &Map<String, Value>,
    allowed: &Allowed,
    policy: &Policy,
    profile: &ProfileRules,
) -> Result<(), RulesError> {
    for (field, value) in defaults {
        let key = format!("defaults.{field}");
        let strs: Vec<&str> = match value {
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            Value::String(s) => vec![s.as_str()],
            _ => Vec::new(),
        };
        let first_refused: Option<&str> = match field.as_str() {
            "grant_types" => strs.iter().copied().find(|g| !allowed.grant(g)),
            "token_endpoint_auth_method" => strs.iter().copied().find(|m| !allowed.method(m)),
            "response_types" => strs
                .iter()
                .copied()
                .find(|s| ResponseType::parse(s).is_ok_and(|rt| !allowed.response_type(rt))),
            "scope" => strs
                .iter()
                .flat_map(|s| s.split(' '))
                .find(|t| !listed(policy.scopes.as_deref(), t)),
            "redirect_uris" | "post_logout_redirect_uris" => {
                let hosts = policy.redirect_uri_hosts.as_ref();
                strs.iter().copied().find(|raw| {
                    hosts.is_some_and(|hosts| {
                        let host = uri::parse_absolute(raw)
                            .ok()
                            .and_then(|u| uri::host_key(&u));
                        !host.is_some_and(|h| {
                            hosts.iter().any(|a| {
                                a.trim_start_matches('[')
                                    .trim_end_matches(']')
                                    .eq_ignore_ascii_case(&h)
                            })
                        })
                    })
                })
            }
            f if PROFILE_ALG_FIELDS.contains(&f) => strs.iter().copied().find(|alg| {
                profile
                    .metadata
                    .signing_algs
                    .is_some_and(|p| !p.contains(alg))
            }),
            _ => None,
        };
        if let Some(value) = first_refused {
            return Err(fail(
                &key,
                format!(
                    "`{value}` is refused by the policy or the {} profile, so every request silent on {field} would fail",
                    profile.name
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Profile;

    fn rules(profile: Profile, yaml_policy: Value, defaults: Value) -> Rules {
        Rules {
            policy: serde_json::from_value(yaml_policy).unwrap(),
            defaults: defaults.as_object().cloned().unwrap_or_default(),
            profile,
            ..Rules::default()
        }
    }

    fn key_of(profile: Profile, policy: Value, defaults: Value) -> String {
        match check_rules(&rules(profile, policy, defaults)) {
            Ok(()) => panic!("accepted"),
            Err(e) => e.key,
        }
    }

    fn ok(profile: Profile, policy: Value, defaults: Value) {
        let r = rules(profile, policy.clone(), defaults.clone());
        assert_eq!(check_rules(&r), Ok(()), "{policy} {defaults}");
    }

    #[test]
    fn every_profile_works_with_no_policy() {
        for p in [
            Profile::Default,
            Profile::FapiAdvanced,
            Profile::UkOb,
            Profile::AuCdr,
        ] {
            ok(p, json!({}), json!({}));
        }
    }

    #[test]
    fn empty_lists_allow_nothing() {
        for list in [
            "grant_types",
            "response_types",
            "token_endpoint_auth_methods",
            "scopes",
            "redirect_uri_hosts",
        ] {
            let key = key_of(Profile::Default, json!({list: []}), json!({}));
            assert_eq!(key, format!("policy.{list}"));
        }
    }

    #[test]
    fn unknown_values_are_named() {
        for (policy, key) in [
            (
                json!({"token_endpoint_auth_methods": ["magic"]}),
                "policy.token_endpoint_auth_methods",
            ),
            (json!({"grant_types": ["teleport"]}), "policy.grant_types"),
            (
                json!({"response_types": ["code code"]}),
                "policy.response_types",
            ),
            (
                json!({"response_types": ["device"]}),
                "policy.response_types",
            ),
            (json!({"scopes": ["two words"]}), "policy.scopes"),
            (json!({"scopes": ["quo\"te"]}), "policy.scopes"),
            (
                json!({"redirect_uri_hosts": ["https://app.example.com"]}),
                "policy.redirect_uri_hosts",
            ),
            (
                json!({"redirect_uri_hosts": ["*.example.com"]}),
                "policy.redirect_uri_hosts",
            ),
        ] {
            assert_eq!(
                key_of(Profile::Default, policy.clone(), json!({})),
                key,
                "{policy}"
            );
        }
        ok(
            Profile::Default,
            json!({"redirect_uri_hosts": ["app.example.com", "[::1]", "::1", "127.0.0.1", "localhost"],
                   "scopes": ["openid", "urn:x:read"], "response_types": ["id_token code", "none"]}),
            json!({}),
        );
    }

    #[test]
    fn values_the_profile_never_allows() {
        let e = check_rules(&rules(
            Profile::FapiAdvanced,
            json!({"token_endpoint_auth_methods": ["client_secret_basic"]}),
            json!({}),
        ))
        .unwrap_err();
        assert_eq!(e.key, "policy.token_endpoint_auth_methods");
        assert!(e.message.contains("fapi-advanced profile"), "{e}");
        assert_eq!(
            key_of(
                Profile::AuCdr,
                json!({"grant_types": ["implicit"]}),
                json!({})
            ),
            "policy.grant_types"
        );
        assert_eq!(
            key_of(
                Profile::FapiAdvanced,
                json!({"response_types": ["token"]}),
                json!({})
            ),
            "policy.response_types"
        );
        ok(
            Profile::FapiAdvanced,
            json!({"token_endpoint_auth_methods": ["private_key_jwt"], "response_types": ["code"]}),
            json!({}),
        );
    }

    #[test]
    fn no_usable_grant_is_refused() {
        // Only grants that need response types the policy does not allow.
        assert_eq!(
            key_of(
                Profile::Default,
                json!({"grant_types": ["authorization_code"], "response_types": ["token"]}),
                json!({})
            ),
            "policy.grant_types"
        );
        assert_eq!(
            key_of(
                Profile::Default,
                json!({"grant_types": ["implicit"], "response_types": ["code"]}),
                json!({})
            ),
            "policy.grant_types"
        );
        // Hybrid needs implicit outside the OB profiles.
        assert_eq!(
            key_of(
                Profile::Default,
                json!({"grant_types": ["authorization_code"], "response_types": ["code id_token"]}),
                json!({})
            ),
            "policy.grant_types"
        );
        ok(
            Profile::UkOb,
            json!({"grant_types": ["authorization_code"], "response_types": ["code id_token"]}),
            json!({}),
        );
        // client_credentials with public clients only.
        assert_eq!(
            key_of(
                Profile::Default,
                json!({"grant_types": ["client_credentials"], "token_endpoint_auth_methods": ["none"]}),
                json!({})
            ),
            "policy.grant_types"
        );
        ok(
            Profile::Default,
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_methods": ["none", "private_key_jwt"]}),
            json!({}),
        );
    }

    #[test]
    fn defaults_the_rules_refuse() {
        for (profile, policy, defaults, key) in [
            (
                Profile::Default,
                json!({"token_endpoint_auth_methods": ["private_key_jwt"]}),
                json!({"token_endpoint_auth_method": "client_secret_basic"}),
                "defaults.token_endpoint_auth_method",
            ),
            (
                Profile::Default,
                json!({"grant_types": ["authorization_code"]}),
                json!({"grant_types": ["authorization_code", "refresh_token"]}),
                "defaults.grant_types",
            ),
            (
                Profile::Default,
                json!({"response_types": ["code"]}),
                json!({"response_types": ["code id_token"]}),
                "defaults.response_types",
            ),
            (
                Profile::Default,
                json!({"scopes": ["openid"]}),
                json!({"scope": "openid email"}),
                "defaults.scope",
            ),
            (
                Profile::Default,
                json!({"redirect_uri_hosts": ["app.example.com"]}),
                json!({"redirect_uris": ["https://other.example.com/cb"]}),
                "defaults.redirect_uris",
            ),
            (
                Profile::FapiAdvanced,
                json!({}),
                json!({"token_endpoint_auth_method": "client_secret_post"}),
                "defaults.token_endpoint_auth_method",
            ),
            (
                Profile::AuCdr,
                json!({}),
                json!({"id_token_signed_response_alg": "RS256"}),
                "defaults.id_token_signed_response_alg",
            ),
        ] {
            assert_eq!(
                key_of(profile, policy.clone(), defaults.clone()),
                key,
                "{defaults}"
            );
        }
        ok(
            Profile::Default,
            json!({"grant_types": ["authorization_code", "refresh_token"], "scopes": ["openid", "email"],
                   "redirect_uri_hosts": ["App.Example.com"]}),
            json!({"grant_types": ["authorization_code", "refresh_token"], "scope": "openid email",
                   "redirect_uris": ["https://app.example.com/cb"]}),
        );
    }
}
