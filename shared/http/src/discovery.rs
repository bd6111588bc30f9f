//! The discovery documents (RFC 8414 §2, OpenID Connect Discovery 1.0 §3).

use dcr_core::Config;
use serde_json::{Value, json};

/// The server metadata document; `server_metadata` adds fields, but never
/// replaces `issuer` or `registration_endpoint`.
pub(crate) fn document(config: &Config, issuer: &str) -> Value {
    let mut doc = serde_json::Map::new();
    let defaults = [
        (
            "token_endpoint_auth_methods_supported",
            config.policy.token_endpoint_auth_methods.clone(),
        ),
        ("grant_types_supported", config.policy.grant_types.clone()),
        (
            "response_types_supported",
            config.policy.response_types.clone(),
        ),
        ("scopes_supported", config.policy.scopes.clone()),
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
