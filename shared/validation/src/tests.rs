//! End-to-end tests of [`crate::validate`]: the layers together.

use serde_json::{Map, Value, json};

use super::*;

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn run(v: Value) -> Result<Value, MetadataError> {
    run_with(v, &Rules::default())
}

fn run_with(v: Value, rules: &Rules) -> Result<Value, MetadataError> {
    validate(&obj(v), rules).map(|m| Value::Object(m.to_json()))
}

fn profile(p: Profile) -> Rules {
    Rules {
        profile: p,
        ..Rules::default()
    }
}

fn jwks_uri() -> Value {
    json!("https://client.example/jwks.json")
}

#[test]
fn minimal_web_client_echoes_defaults() {
    let out = run(json!({"redirect_uris": ["https://client.example/cb"]})).unwrap();
    assert_eq!(
        out,
        json!({
            "redirect_uris": ["https://client.example/cb"],
            "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "application_type": "web",
            "id_token_signed_response_alg": "RS256"
        })
    );
}

#[test]
fn unknown_fields_dropped_known_kept() {
    let out = run(json!({
        "redirect_uris": ["https://client.example/cb"],
        "client_name": "Example",
        "client_name#fr": "Exemple",
        "client_name#ja-Jpan-JP": "例",
        "x_vendor_extension": {"a": 1},
        "software_statement": "eyJ...",
        "scope": "openid profile",
        "contacts": ["ops@client.example"],
        "default_max_age": 600,
        "require_auth_time": true,
        "software_roles": ["AISP", "PISP"],
        "tls_client_certificate_bound_access_tokens": true
    }))
    .unwrap();
    assert!(out.get("x_vendor_extension").is_none());
    assert!(out.get("software_statement").is_none());
    assert_eq!(out["client_name#fr"], json!("Exemple"));
    assert_eq!(out["client_name#ja-Jpan-JP"], json!("例"));
    assert_eq!(out["default_max_age"], json!(600));
    assert_eq!(out["software_roles"], json!(["AISP", "PISP"]));
}

#[test]
fn null_counts_as_absent() {
    let out =
        run(json!({"redirect_uris": ["https://c.example/cb"], "token_endpoint_auth_method": null}))
            .unwrap();
    assert_eq!(
        out["token_endpoint_auth_method"],
        json!("client_secret_basic")
    );
}

#[test]
fn type_errors_name_the_field() {
    let e = run(json!({"redirect_uris": ["https://c.example/cb"], "client_name": 5})).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidClientMetadata);
    assert_eq!(e.description, "client_name: must be a string");
    let e = run(json!({"redirect_uris": ["https://c.example/cb", "https://c.example/cb2#x"]}))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidRedirectUri);
    assert_eq!(e.description, "redirect_uris[1]: fragment not allowed");
    let e =
        run(json!({"redirect_uris": ["https://c.example/cb"], "default_max_age": -5})).unwrap_err();
    assert!(e.description.starts_with("default_max_age: "));
    let e =
        run(json!({"redirect_uris": ["https://c.example/cb"], "contacts": ["a", ""]})).unwrap_err();
    assert!(e.description.starts_with("contacts[1]: "));
}

#[test]
fn client_credentials_only_needs_no_redirect() {
    let out = run(json!({"grant_types": ["client_credentials"]})).unwrap();
    assert_eq!(out["response_types"], json!([]));
    assert!(run(json!({"grant_types": ["client_credentials"], "response_types": []})).is_ok());
    let e = run(json!({"grant_types": ["client_credentials"], "response_types": ["code"]}))
        .unwrap_err();
    assert!(e.description.starts_with("response_types[0]: "));
}

#[test]
fn unknown_grant_and_auth_method_refused() {
    let e = run(json!({"grant_types": ["magic"]})).unwrap_err();
    assert_eq!(e.description, "grant_types[0]: unsupported value \"magic\"");
    let e =
        run(json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "magic"}))
            .unwrap_err();
    assert!(e.description.starts_with("token_endpoint_auth_method: "));
    for grant in vocab::GRANT_TYPES {
        let mut list = vec!["authorization_code", "implicit"];
        if !list.contains(grant) {
            list.push(grant);
        }
        let v = json!({"grant_types": list, "response_types": ["code", "token"],
            "redirect_uris": ["https://c.example/cb"], "backchannel_token_delivery_mode": "poll"});
        assert!(run(v).is_ok(), "{grant}");
    }
}

#[test]
fn ciba_keeps_the_metadata_it_needs() {
    let ciba = json!({"grant_types": ["urn:openid:params:grant-type:ciba"],
        "backchannel_token_delivery_mode": "ping",
        "backchannel_client_notification_endpoint": "https://rp.example/ciba",
        "backchannel_user_code_parameter": true});
    let out = run(ciba.clone()).unwrap();
    for key in [
        "backchannel_token_delivery_mode",
        "backchannel_client_notification_endpoint",
        "backchannel_user_code_parameter",
    ] {
        assert_eq!(out[key], ciba[key], "{key}");
    }
    let e = run(json!({"grant_types": ["urn:openid:params:grant-type:ciba"]})).unwrap_err();
    assert!(
        e.description
            .starts_with("backchannel_token_delivery_mode: "),
        "{}",
        e.description
    );
    let e = run(json!({"grant_types": ["urn:openid:params:grant-type:ciba"],
        "backchannel_token_delivery_mode": "carrier-pigeon"}))
    .unwrap_err();
    assert!(
        e.description.contains("carrier-pigeon"),
        "{}",
        e.description
    );
}

#[test]
fn extension_fields_are_kept_only_when_named() {
    let rules = Rules {
        extra_fields: vec!["access_token_lifetime".into(), "claims".into()],
        defaults: obj(json!({"claims": ["email"]})),
        ..Rules::default()
    };
    let v = json!({"grant_types": ["client_credentials"], "access_token_lifetime": 3600,
        "rptAsJwt": true});
    let out = run_with(v.clone(), &rules).unwrap();
    assert_eq!(out["access_token_lifetime"], json!(3600));
    assert_eq!(out["claims"], json!(["email"]));
    assert!(out.get("rptAsJwt").is_none());
    let plain = run(v).unwrap();
    assert!(plain.get("access_token_lifetime").is_none());
    let big = json!({"grant_types": ["client_credentials"], "claims": ["x".repeat(5000)]});
    let e = run_with(big, &rules).unwrap_err();
    assert!(e.description.starts_with("claims: "), "{}", e.description);
    assert!(validate_defaults_with(&obj(json!({"claims": []})), &rules.extra_fields).is_ok());
    assert!(validate_defaults(&obj(json!({"claims": []}))).is_err());
}

#[test]
fn config_defaults_apply_before_builtin_and_are_validated() {
    let rules = Rules {
        defaults: obj(
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_post", "scope": "api"}),
        ),
        ..Rules::default()
    };
    let out = run_with(json!({"scope": "other"}), &rules).unwrap();
    assert_eq!(out["grant_types"], json!(["client_credentials"]));
    assert_eq!(
        out["token_endpoint_auth_method"],
        json!("client_secret_post")
    );
    assert_eq!(out["scope"], json!("other"));
    assert_eq!(out["response_types"], json!([]));
    let bad = Rules {
        defaults: obj(json!({"client_uri": "http://insecure.example/"})),
        ..Rules::default()
    };
    let e = run_with(json!({"grant_types": ["client_credentials"]}), &bad).unwrap_err();
    assert!(
        e.description.starts_with("defaults.client_uri: "),
        "{}",
        e.description
    );
}

#[test]
fn validate_defaults_refuses_unknown_and_bad_values() {
    assert!(
        validate_defaults(&obj(
            json!({"grant_types": ["client_credentials"], "client_name#fr": "x"})
        ))
        .is_ok()
    );
    let e = validate_defaults(&obj(json!({"grant_type": ["client_credentials"]}))).unwrap_err();
    assert_eq!(e.description, "defaults.grant_type: unknown field");
    assert!(validate_defaults(&obj(json!({"response_types": "code"}))).is_err());
}

#[test]
fn uk_ob_defaults_validate() {
    let out = run_with(
        json!({"redirect_uris": ["https://tpp.example/cb"]}),
        &profile(Profile::UkOb),
    )
    .unwrap();
    assert_eq!(out["response_types"], json!(["code id_token"]));
    assert_eq!(out["grant_types"], json!(["authorization_code"]));
}

#[test]
fn fapi_advanced_and_cdr_defaults_validate_with_keys() {
    for p in [Profile::FapiAdvanced, Profile::AuCdr] {
        let v = json!({"redirect_uris": ["https://tpp.example/cb"], "jwks_uri": jwks_uri()});
        let out = run_with(v, &profile(p)).unwrap();
        assert_eq!(out["token_endpoint_auth_method"], json!("private_key_jwt"));
        let e = run_with(
            json!({"redirect_uris": ["https://tpp.example/cb"]}),
            &profile(p),
        )
        .unwrap_err();
        assert!(e.description.contains("jwks"), "{}", e.description);
    }
    let cdr = run_with(
        json!({"redirect_uris": ["https://r.example/cb"], "jwks_uri": jwks_uri(),
        "response_types": ["code id_token"]}),
        &profile(Profile::AuCdr),
    )
    .unwrap();
    assert_eq!(cdr["grant_types"], json!(["authorization_code"]));
    assert_eq!(cdr["id_token_signed_response_alg"], json!("PS256"));
}

#[test]
fn policy_runs_on_defaults_too() {
    let rules = Rules {
        policy: Policy {
            token_endpoint_auth_methods: Some(vec!["private_key_jwt".into()]),
            ..Policy::default()
        },
        ..Rules::default()
    };
    let e = run_with(json!({"redirect_uris": ["https://c.example/cb"]}), &rules).unwrap_err();
    assert!(e.description.starts_with("token_endpoint_auth_method: "));
}

#[test]
fn public_native_client() {
    let v = json!({"application_type": "native", "token_endpoint_auth_method": "none",
        "redirect_uris": ["com.example.app:/oauth2redirect", "http://127.0.0.1/cb"],
        "grant_types": ["authorization_code", "refresh_token"]});
    let out = run(v).unwrap();
    assert_eq!(out["response_types"], json!(["code"]));
    assert!(
        !validate(&obj(out), &Rules::default())
            .unwrap()
            .needs_secret()
    );
}

#[test]
fn jwks_private_key_refused_without_echo() {
    let v = json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": [{"kty": "RSA", "n": "abc", "e": "AQAB", "d": "TOPSECRET"}]}});
    let e = run(v).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidClientMetadata);
    assert!(!e.description.contains("TOPSECRET"));
}

#[test]
fn accessors() {
    let v = json!({"grant_types": ["client_credentials"], "software_id": "sw-1", "jwks_uri": jwks_uri(),
        "token_endpoint_auth_method": "private_key_jwt", "sector_identifier_uri": "https://c.example/s.json"});
    let m = validate(&obj(v), &Rules::default()).unwrap();
    assert_eq!(m.software_id(), Some("sw-1"));
    assert_eq!(m.token_endpoint_auth_method(), "private_key_jwt");
    assert!(!m.needs_secret());
    assert_eq!(
        m.to_json()["jwks_uri"],
        json!("https://client.example/jwks.json")
    );
    assert_eq!(m.sector_identifier_uri(), Some("https://c.example/s.json"));
    assert!(m.redirect_uris().is_empty());
    assert_eq!(m.to_json()["software_id"], json!("sw-1"));
    assert!(needs_secret("client_secret_jwt") && !needs_secret("tls_client_auth"));
}

#[test]
fn validated_output_revalidates_unchanged() {
    let v = json!({"redirect_uris": ["https://c.example/cb"], "id_token_encrypted_response_alg": "RSA-OAEP",
        "jwks_uri": jwks_uri(), "client_uri#de": "https://c.example/de"});
    let out = run(v).unwrap();
    assert_eq!(run(out.clone()).unwrap(), out);
}
