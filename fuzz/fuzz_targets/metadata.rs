//! Arbitrary bytes -> serde_json -> `dcr_validation::validate`, with the default
//! rules, with each profile, and with a restrictive policy plus config defaults.
//!
//! Oracles besides "no panic": validated metadata validates again to itself
//! (a client may send back what `GET` returned), and an error description
//! stays short (client values are echoed truncated).
#![no_main]

use std::sync::LazyLock;

use dcr_validation::{Policy, Rules, validate, validate_defaults};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

fn strings(v: &[&str]) -> Option<Vec<String>> {
    Some(v.iter().map(|s| (*s).to_owned()).collect())
}

static RULE_SETS: LazyLock<Vec<Rules>> = LazyLock::new(|| {
    let mut sets: Vec<Rules> = dcr_fuzz::PROFILES
        .iter()
        .map(|&profile| Rules {
            profile,
            ..Rules::default()
        })
        .collect();
    let defaults =
        json!({"grant_types": ["authorization_code", "refresh_token"], "scope": "openid"});
    sets.push(Rules {
        policy: Policy {
            grant_types: strings(&["authorization_code", "refresh_token", "client_credentials"]),
            response_types: strings(&["code", "code id_token"]),
            token_endpoint_auth_methods: strings(&[
                "client_secret_basic",
                "private_key_jwt",
                "none",
            ]),
            scopes: strings(&["openid", "profile", "accounts"]),
            redirect_uri_hosts: strings(&["app.example.com", "localhost", "[::1]", "127.0.0.1"]),
        },
        defaults: defaults.as_object().cloned().unwrap_or_default(),
        ..Rules::default()
    });
    sets
});

/// Error descriptions name a field and echo at most 64 characters of a value.
const MAX_DESCRIPTION_BYTES: usize = 2_048;

fuzz_target!(|data: &[u8]| {
    let Ok(Value::Object(doc)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    check(&doc);
    let _ = validate_defaults(&doc);
});

fn check(doc: &Map<String, Value>) {
    for rules in RULE_SETS.iter() {
        match validate(doc, rules) {
            Ok(metadata) => {
                let _ = metadata.needs_secret();
                let _ = metadata.redirect_uris();
                let _ = metadata.sector_identifier_uri();
                let again = validate(&metadata.to_json(), rules)
                    .unwrap_or_else(|e| panic!("validated metadata re-validates: {e:?}"));
                assert_eq!(again, metadata, "validation is idempotent");
            }
            Err(e) => assert!(
                e.description.len() <= MAX_DESCRIPTION_BYTES,
                "error description of {} bytes",
                e.description.len()
            ),
        }
    }
}
