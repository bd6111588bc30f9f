//! The operator's `policy`: allow-lists over values that are already known.
//!
//! Decisions: response types compare as sets of parts (`id_token code` is
//! `code id_token`); hosts compare case-insensitively, IPv6 with or without
//! brackets, and apply to `redirect_uris` and `post_logout_redirect_uris`; a
//! URI without a host (a native app's private-use scheme) fails a host list.
//! Policy also applies to defaulted values, so a policy that refuses a
//! built-in default needs a matching config `defaults` entry.

use crate::Policy;
use crate::document::Draft;
use crate::error::{MetadataError, shown};
use crate::uri;
use crate::vocab::canonical_all;

/// The policy layer: runs after the base rules.
pub(crate) fn check(d: &Draft, policy: &Policy) -> Result<(), MetadataError> {
    let refused = |field: &str, value: &str| {
        MetadataError::metadata(field, format!("{} is not allowed by policy", shown(value)))
    };
    if let Some(allowed) = &policy.grant_types {
        for (i, grant) in d.strs("grant_types").into_iter().enumerate() {
            if !allowed.iter().any(|a| a == grant) {
                return Err(refused(&format!("grant_types[{i}]"), grant));
            }
        }
    }
    if let Some(allowed) = &policy.response_types {
        let allowed = canonical_all(allowed);
        for (i, rt) in d.response_types() {
            if !allowed.contains(&rt.canonical()) {
                return Err(refused(&format!("response_types[{i}]"), &rt.canonical()));
            }
        }
    }
    if let Some(allowed) = &policy.token_endpoint_auth_methods {
        let method = d.auth_method();
        if !allowed.iter().any(|a| a == method) {
            return Err(refused("token_endpoint_auth_method", method));
        }
    }
    if let Some(allowed) = &policy.scopes {
        for token in d.str("scope").into_iter().flat_map(|s| s.split(' ')) {
            if !allowed.iter().any(|a| a == token) {
                return Err(refused("scope", token));
            }
        }
    }
    if let Some(allowed) = &policy.redirect_uri_hosts {
        let allowed: Vec<String> = allowed
            .iter()
            .map(|h| {
                h.trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_ascii_lowercase()
            })
            .collect();
        for field in ["redirect_uris", "post_logout_redirect_uris"] {
            for (i, raw) in d.strs(field).into_iter().enumerate() {
                let at = format!("{field}[{i}]");
                let host = uri::parse_absolute(raw)
                    .ok()
                    .and_then(|u| uri::host_key(&u));
                match host {
                    Some(h) if allowed.contains(&h) => {}
                    Some(h) => {
                        return Err(MetadataError::redirect(
                            &at,
                            format!("host {} is not allowed by policy", shown(&h)),
                        ));
                    }
                    None => {
                        return Err(MetadataError::redirect(
                            &at,
                            "has no host, and policy allows only listed hosts",
                        ));
                    }
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

    fn run(v: Value, policy: &Policy) -> Result<(), MetadataError> {
        let map: Map<String, Value> = serde_json::from_value(v).unwrap();
        check(&Draft::new(&map), policy)
    }

    fn strings(v: &[&str]) -> Option<Vec<String>> {
        Some(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn no_policy_allows_everything() {
        let v = json!({"grant_types": ["password"], "scope": "anything", "redirect_uris": ["https://x.example/cb"]});
        assert!(run(v, &Policy::default()).is_ok());
    }

    #[test]
    fn grant_types_policy() {
        let p = Policy {
            grant_types: strings(&["authorization_code", "refresh_token"]),
            ..Policy::default()
        };
        assert!(
            run(
                json!({"grant_types": ["authorization_code", "refresh_token"]}),
                &p
            )
            .is_ok()
        );
        let e = run(
            json!({"grant_types": ["authorization_code", "password"]}),
            &p,
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidClientMetadata);
        assert_eq!(
            e.description,
            "grant_types[1]: \"password\" is not allowed by policy"
        );
    }

    #[test]
    fn response_types_policy_compares_sets() {
        let p = Policy {
            response_types: strings(&["code", "id_token code"]),
            ..Policy::default()
        };
        assert!(run(json!({"response_types": ["code id_token", "code"]}), &p).is_ok());
        assert!(run(json!({"response_types": ["token"]}), &p).is_err());
    }

    #[test]
    fn auth_method_policy() {
        let p = Policy {
            token_endpoint_auth_methods: strings(&["private_key_jwt"]),
            ..Policy::default()
        };
        assert!(run(json!({"token_endpoint_auth_method": "private_key_jwt"}), &p).is_ok());
        let e = run(
            json!({"token_endpoint_auth_method": "client_secret_basic"}),
            &p,
        )
        .unwrap_err();
        assert!(e.description.starts_with("token_endpoint_auth_method: "));
    }

    #[test]
    fn scopes_policy() {
        let p = Policy {
            scopes: strings(&["openid", "accounts"]),
            ..Policy::default()
        };
        assert!(run(json!({"scope": "openid accounts"}), &p).is_ok());
        assert!(run(json!({}), &p).is_ok());
        let e = run(json!({"scope": "openid payments"}), &p).unwrap_err();
        assert_eq!(
            e.description,
            "scope: \"payments\" is not allowed by policy"
        );
    }

    #[test]
    fn redirect_hosts_policy() {
        let p = Policy {
            redirect_uri_hosts: strings(&["App.Example.com", "[::1]"]),
            ..Policy::default()
        };
        let ok = json!({"redirect_uris": ["https://app.example.COM/cb", "http://[::1]:8080/cb"], "post_logout_redirect_uris": ["https://app.example.com/bye"]});
        assert!(run(ok, &p).is_ok());
        let e = run(
            json!({"redirect_uris": ["https://app.example.com/cb", "https://evil.example/cb"]}),
            &p,
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRedirectUri);
        assert!(e.description.starts_with("redirect_uris[1]: "));
        assert!(
            run(
                json!({"post_logout_redirect_uris": ["https://evil.example/"]}),
                &p
            )
            .is_err()
        );
        assert!(run(json!({"redirect_uris": ["com.example.app:/cb"]}), &p).is_err());
        assert!(
            run(
                json!({"redirect_uris": ["https://sub.app.example.com/cb"]}),
                &p
            )
            .is_err()
        );
    }
}
