//! Request objects: per-profile `iss`, `aud`, `jti`, algorithm rules.

use dcr_validation::Profile;
use serde_json::{Value, json};

use super::fixtures::*;
use crate::testing::TestKey;
use crate::{
    JwtError, RequestObject, RequestPolicy, Statement, peek_claims, verify_request_object,
};

const ISSUER: &str = "https://as.example";

fn client() -> &'static TestKey {
    es256()
}

fn statement(software_id: &str) -> Statement {
    Statement {
        claims: map(json!({"software_id": software_id})),
    }
}

fn run(claims: Value, profile: Profile, st: Option<&Statement>) -> Result<RequestObject, JwtError> {
    let token = client().sign(&claims, None);
    verify_request_object(
        &token,
        &set(&[client(), rs256()]),
        &RequestPolicy::new(ISSUER, profile),
        st,
        NOW,
    )
}

fn signed(extra: Value) -> Value {
    fresh(
        json!({"iss": "sw-1", "aud": ISSUER})
            .as_object()
            .map(|m| {
                let mut m = m.clone();
                m.extend(extra.as_object().cloned().unwrap_or_default());
                Value::Object(m)
            })
            .unwrap_or_default(),
    )
}

#[test]
fn metadata_is_the_claims_minus_jwt_ones() {
    let ro = run(
        signed(json!({"redirect_uris": ["https://c/cb"], "software_statement": "a.b.c"})),
        Profile::Default,
        None,
    )
    .unwrap();
    assert_eq!(
        ro.metadata,
        map(json!({"redirect_uris": ["https://c/cb"], "software_statement": "a.b.c"}))
    );
    assert_eq!(ro.iss.as_deref(), Some("sw-1"));
    let replay = ro.replay.unwrap();
    assert_eq!(replay.expires_at, NOW + 300 + 60);
    assert!(replay.key.starts_with("jti:request:"));
}

#[test]
fn no_jti_or_exp_means_nothing_to_remember() {
    let ro = run(json!({"client_name": "x"}), Profile::Default, None).unwrap();
    assert_eq!(ro.replay, None);
}

/// A request object with every claim the AU CDR standard requires.
fn cdr(extra: Value) -> Value {
    let mut claims = signed(json!({
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": "PS256",
        "grant_types": ["authorization_code", "client_credentials"],
        "response_types": ["code id_token"],
        "id_token_signed_response_alg": "PS256",
        "id_token_encrypted_response_alg": "RSA-OAEP",
        "id_token_encrypted_response_enc": "A256GCM",
        "request_object_signing_alg": "PS256",
        "software_statement": "a.b.c",
    }));
    crate::testing::merge(&mut claims, extra);
    claims
}

#[test]
fn aud_is_the_issuer_the_registration_endpoint_or_a_configured_one() {
    let st = statement("sw-1");
    for profile in [
        Profile::Default,
        Profile::Fapi,
        Profile::FapiAdvanced,
        Profile::UkOb,
        Profile::AuCdr,
    ] {
        let base = if profile == Profile::AuCdr {
            cdr(json!({}))
        } else {
            signed(json!({}))
        };
        for aud in [
            json!(ISSUER),
            json!(format!("{ISSUER}/register")),
            json!(["x", ISSUER]),
        ] {
            let mut claims = base.clone();
            claims["aud"] = aud.clone();
            assert!(run(claims, profile, Some(&st)).is_ok(), "{profile:?} {aud}");
        }
        for aud in [json!("https://other.example"), json!("0015800001HQQrZAAX")] {
            let mut claims = base.clone();
            claims["aud"] = aud;
            let e = run(claims, profile, Some(&st)).unwrap_err();
            assert_eq!(e, JwtError::WrongAudience);
        }
        // A configured audience, such as a UK OB organisation id.
        let mut claims = base.clone();
        claims["aud"] = json!("0015800001HQQrZAAX");
        let token = client().sign(&claims, None);
        let mut policy = RequestPolicy::new(ISSUER, profile);
        policy.audiences.push("0015800001HQQrZAAX".into());
        assert!(
            verify_request_object(&token, &set(&[client()]), &policy, Some(&st), NOW).is_ok(),
            "{profile:?}"
        );
    }
    let mut no_aud = signed(json!({}));
    no_aud.as_object_mut().unwrap().remove("aud");
    assert!(
        run(no_aud, Profile::Default, None).is_ok(),
        "aud is optional"
    );
}

#[test]
fn fapi_advanced_refuses_rs256_request_objects_and_fapi_does_not() {
    let token = rs256().sign(&signed(json!({})), None);
    let keys = set(&[rs256()]);
    let r = verify_request_object(
        &token,
        &keys,
        &RequestPolicy::new(ISSUER, Profile::FapiAdvanced),
        None,
        NOW,
    );
    assert_eq!(r.unwrap_err(), JwtError::AlgorithmNotAllowed);
    for profile in [Profile::Default, Profile::Fapi] {
        let r = verify_request_object(
            &token,
            &keys,
            &RequestPolicy::new(ISSUER, profile),
            None,
            NOW,
        );
        assert!(r.is_ok(), "{profile:?}");
    }
}

#[test]
fn uk_ob_requires_iss_iat_exp_aud_jti() {
    let st = statement("sw-1");
    assert!(run(signed(json!({})), Profile::UkOb, Some(&st)).is_ok());
    for claim in ["iss", "iat", "exp", "aud", "jti"] {
        let mut claims = signed(json!({}));
        claims.as_object_mut().unwrap().remove(claim);
        assert_eq!(
            run(claims, Profile::UkOb, Some(&st)),
            Err(JwtError::MissingClaim(claim)),
            "{claim}"
        );
    }
}

#[test]
fn au_cdr_requires_the_cdr_standards_claims() {
    let st = statement("sw-1");
    assert!(run(cdr(json!({})), Profile::AuCdr, Some(&st)).is_ok());
    for claim in dcr_validation::profile::AU_CDR_REQUEST_CLAIMS {
        let mut claims = cdr(json!({}));
        claims.as_object_mut().unwrap().remove(*claim);
        assert_eq!(
            run(claims, Profile::AuCdr, Some(&st)),
            Err(JwtError::MissingClaim(claim)),
            "{claim}"
        );
    }
    // Hybrid: ID Token encryption; code: a signed authorization response.
    for claim in [
        "id_token_encrypted_response_alg",
        "id_token_encrypted_response_enc",
    ] {
        let mut claims = cdr(json!({}));
        claims.as_object_mut().unwrap().remove(claim);
        assert_eq!(
            run(claims.clone(), Profile::AuCdr, Some(&st)),
            Err(JwtError::MissingClaim(claim))
        );
        claims["response_types"] = json!(["code"]);
        claims["authorization_signed_response_alg"] = json!("PS256");
        assert!(run(claims, Profile::AuCdr, Some(&st)).is_ok(), "{claim}");
    }
    let code_only = cdr(json!({"response_types": ["code"]}));
    assert_eq!(
        run(code_only, Profile::AuCdr, Some(&st)),
        Err(JwtError::MissingClaim("authorization_signed_response_alg"))
    );
    let reordered =
        cdr(json!({"response_types": ["id_token code"], "id_token_encrypted_response_alg": null}));
    assert_eq!(
        run(reordered, Profile::AuCdr, Some(&st)),
        Err(JwtError::MissingClaim("id_token_encrypted_response_alg"))
    );
    // The other profiles need none of these.
    assert!(run(signed(json!({})), Profile::UkOb, Some(&st)).is_ok());
}

#[test]
fn uk_ob_and_au_cdr_iss_is_the_software_id() {
    for profile in [Profile::UkOb, Profile::AuCdr] {
        let claims = if profile == Profile::AuCdr {
            cdr(json!({}))
        } else {
            signed(json!({}))
        };
        let e = run(claims.clone(), profile, Some(&statement("sw-2"))).unwrap_err();
        assert_eq!(e, JwtError::WrongIssuer);
        let e = run(claims, profile, None).unwrap_err();
        assert_eq!(e, JwtError::MissingClaim("software_statement"));
    }
    // Other profiles do not tie iss to a statement.
    assert!(run(signed(json!({})), Profile::Fapi, Some(&statement("sw-2"))).is_ok());
}

#[test]
fn au_cdr_only_ps256_or_es256() {
    let st = statement("sw-1");
    let keys = set(&[rs256(), ps256()]);
    let policy = RequestPolicy::new(ISSUER, Profile::AuCdr);
    let rs = rs256().sign(&cdr(json!({})), None);
    assert_eq!(
        verify_request_object(&rs, &keys, &policy, Some(&st), NOW).unwrap_err(),
        JwtError::AlgorithmNotAllowed
    );
    let ps = ps256().sign(&cdr(json!({})), None);
    assert!(verify_request_object(&ps, &keys, &policy, Some(&st), NOW).is_ok());
}

#[test]
fn request_object_key_must_not_ride_in_the_header() {
    let token = client().sign(
        &signed(json!({})),
        hdr(json!({"jwk": client().public_jwk()})),
    );
    let r = verify_request_object(
        &token,
        &set(&[client()]),
        &RequestPolicy::new(ISSUER, Profile::Default),
        None,
        NOW,
    );
    assert_eq!(r.unwrap_err(), JwtError::KeyInHeader("jwk"));
}

#[test]
fn expired_request_object_is_refused() {
    let r = run(signed(json!({"exp": NOW - 600})), Profile::Default, None);
    assert_eq!(r.unwrap_err(), JwtError::Expired);
}

#[test]
fn peek_finds_the_embedded_statement() {
    let token = TestKey::es256().sign(&signed(json!({"software_statement": "x.y.z"})), None);
    assert_eq!(peek_claims(&token).unwrap()["software_statement"], "x.y.z");
}
