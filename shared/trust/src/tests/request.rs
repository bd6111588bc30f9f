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

#[test]
fn default_and_fapi_aud_is_issuer_or_registration_endpoint() {
    for profile in [Profile::Default, Profile::Fapi] {
        for aud in [
            json!(ISSUER),
            json!(format!("{ISSUER}/register")),
            json!(["x", ISSUER]),
        ] {
            assert!(
                run(signed(json!({"aud": aud})), profile, None).is_ok(),
                "{aud}"
            );
        }
        let e = run(
            signed(json!({"aud": "https://other.example"})),
            profile,
            None,
        )
        .unwrap_err();
        assert_eq!(e, JwtError::WrongAudience);
        let mut no_aud = signed(json!({}));
        no_aud.as_object_mut().unwrap().remove("aud");
        assert!(run(no_aud, profile, None).is_ok(), "aud is optional");
    }
}

#[test]
fn fapi_refuses_rs256_request_objects() {
    let token = rs256().sign(&signed(json!({})), None);
    let keys = set(&[rs256()]);
    let r = verify_request_object(
        &token,
        &keys,
        &RequestPolicy::new(ISSUER, Profile::Fapi),
        None,
        NOW,
    );
    assert_eq!(r.unwrap_err(), JwtError::AlgorithmNotAllowed);
    let r = verify_request_object(
        &token,
        &keys,
        &RequestPolicy::new(ISSUER, Profile::Default),
        None,
        NOW,
    );
    assert!(r.is_ok());
}

#[test]
fn uk_ob_and_au_cdr_require_iss_iat_exp_aud_jti() {
    let st = statement("sw-1");
    for profile in [Profile::UkOb, Profile::AuCdr] {
        assert!(run(signed(json!({})), profile, Some(&st)).is_ok());
        for claim in ["iss", "iat", "exp", "aud", "jti"] {
            let mut claims = signed(json!({}));
            claims.as_object_mut().unwrap().remove(claim);
            assert_eq!(
                run(claims, profile, Some(&st)),
                Err(JwtError::MissingClaim(claim)),
                "{claim}"
            );
        }
    }
}

#[test]
fn uk_ob_and_au_cdr_iss_is_the_software_id() {
    for profile in [Profile::UkOb, Profile::AuCdr] {
        let e = run(signed(json!({})), profile, Some(&statement("sw-2"))).unwrap_err();
        assert_eq!(e, JwtError::WrongIssuer);
        let e = run(signed(json!({})), profile, None).unwrap_err();
        assert_eq!(e, JwtError::MissingClaim("software_statement"));
    }
    // Other profiles do not tie iss to a statement.
    assert!(run(signed(json!({})), Profile::Fapi, Some(&statement("sw-2"))).is_ok());
}

#[test]
fn uk_ob_and_au_cdr_aud_is_exactly_the_issuer() {
    let st = statement("sw-1");
    for profile in [Profile::UkOb, Profile::AuCdr] {
        let e = run(
            signed(json!({"aud": format!("{ISSUER}/register")})),
            profile,
            Some(&st),
        )
        .unwrap_err();
        assert_eq!(e, JwtError::WrongAudience);
    }
    // An extra configured audience is accepted.
    let token = client().sign(&signed(json!({"aud": "ob-org-id"})), None);
    let mut policy = RequestPolicy::new(ISSUER, Profile::UkOb);
    policy.audiences.push("ob-org-id".into());
    assert!(verify_request_object(&token, &set(&[client()]), &policy, Some(&st), NOW).is_ok());
}

#[test]
fn au_cdr_only_ps256_or_es256() {
    let st = statement("sw-1");
    let keys = set(&[rs256(), ps256()]);
    let policy = RequestPolicy::new(ISSUER, Profile::AuCdr);
    let rs = rs256().sign(&signed(json!({})), None);
    assert_eq!(
        verify_request_object(&rs, &keys, &policy, Some(&st), NOW).unwrap_err(),
        JwtError::AlgorithmNotAllowed
    );
    let ps = ps256().sign(&signed(json!({})), None);
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
