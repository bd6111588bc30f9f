//! The discovery documents (RFC 8414 §2, OpenID Connect Discovery 1.0 §3).

use dcr_core::Config;
use dcr_trust::RequestPolicy;
use serde_json::{Value, json};

/// The server metadata document: what registration accepts, from the
/// configuration and the profile's rules; `server_metadata` adds fields and
/// replaces any of these, but never `issuer` or `registration_endpoint`.
pub(crate) fn document(config: &Config, issuer: &str) -> Value {
    let mut doc = serde_json::Map::new();
    let rules = config.profile.rules();
    let profile_list = |values: Option<&'static [&'static str]>| {
        values.map(|v| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
    };
    let defaults = [
        (
            "token_endpoint_auth_methods_supported",
            config
                .policy
                .token_endpoint_auth_methods
                .clone()
                .or_else(|| profile_list(rules.metadata.auth_methods)),
        ),
        (
            "grant_types_supported",
            config
                .policy
                .grant_types
                .clone()
                .or_else(|| profile_list(rules.metadata.grant_types)),
        ),
        (
            "response_types_supported",
            config
                .policy
                .response_types
                .clone()
                .or_else(|| profile_list(rules.metadata.response_types)),
        ),
        ("scopes_supported", config.policy.scopes.clone()),
        // The algorithms a client may register for `token_endpoint_auth_signing_alg`,
        // where the profile restricts them.
        (
            "token_endpoint_auth_signing_alg_values_supported",
            profile_list(rules.metadata.signing_algs),
        ),
        // The algorithms a signed registration request (RFC 7591 §3.1 with
        // RFC 9101 request objects, as UK OB and AU CDR send) is verified in,
        // when this server takes one at all (it has a directory to trust).
        (
            "request_object_signing_alg_values_supported",
            config
                .software_statement_validation
                .jwks_uri
                .as_ref()
                .map(|_| {
                    RequestPolicy::new(issuer, config.profile)
                        .algs
                        .iter()
                        .map(|a| a.name().to_owned())
                        .collect()
                }),
        ),
    ];
    for (key, value) in defaults {
        if let Some(values) = value {
            doc.insert(key.into(), json!(values));
        }
    }
    if !doc.contains_key("response_types_supported") {
        doc.insert("response_types_supported".into(), json!(["code"]));
    }
    for (k, v) in &config.server_metadata {
        doc.insert(k.clone(), v.clone());
    }
    doc.insert("issuer".into(), Value::String(issuer.to_owned()));
    doc.insert(
        "registration_endpoint".into(),
        Value::String(format!("{issuer}/register")),
    );
    Value::Object(doc)
}
