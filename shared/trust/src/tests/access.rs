//! Access tokens: issuer, audience, expiry, client and scopes.

use serde_json::{Value, json};

use super::fixtures::*;
use crate::{AccessTokenClaims, AccessTokenPolicy, JwtError, verify_access_token};

const AS: &str = "https://as.example";

/// An RFC 9068 access token (`typ` `at+jwt`) of `claims`.
fn access_token(claims: &Value) -> String {
    rs256().sign(claims, hdr(json!({"typ": "at+jwt"})))
}

fn run(claims: Value, policy: &AccessTokenPolicy) -> Result<AccessTokenClaims, JwtError> {
    verify_access_token(&access_token(&claims), &set(&[rs256()]), policy, NOW)
}

/// A token of `claims` with header `typ` `typ` (`None`: no `typ` at all).
fn typed(claims: &Value, typ: Option<&str>) -> String {
    match typ {
        Some(t) => rs256().sign(claims, hdr(json!({"typ": t}))),
        None => rs256().sign(claims, hdr(json!({"typ": null}))),
    }
}

fn plain() -> AccessTokenPolicy {
    AccessTokenPolicy::new(AS, None)
}

#[test]
fn client_is_client_id_then_azp_then_sub() {
    let all = fresh(json!({"iss": AS, "client_id": "c", "azp": "a", "sub": "s"}));
    assert_eq!(run(all, &plain()).unwrap().client.as_deref(), Some("c"));
    let azp = fresh(json!({"iss": AS, "azp": "a", "sub": "s"}));
    assert_eq!(run(azp, &plain()).unwrap().client.as_deref(), Some("a"));
    let sub = fresh(json!({"iss": AS, "sub": "s"}));
    assert_eq!(run(sub, &plain()).unwrap().client.as_deref(), Some("s"));
    let none = fresh(json!({"iss": AS}));
    assert_eq!(run(none, &plain()).unwrap().client, None);
    let bad = fresh(json!({"iss": AS, "client_id": 7}));
    assert_eq!(run(bad, &plain()), Err(JwtError::InvalidClaim("client_id")));
}

#[test]
fn scopes_from_scope_then_scp() {
    let scope = fresh(json!({"iss": AS, "scope": "cdr:registration  openid"}));
    let t = run(scope, &plain()).unwrap();
    assert_eq!(t.scopes, vec!["cdr:registration", "openid"]);
    assert!(t.has_scopes(&["cdr:registration"]));
    assert!(!t.has_scopes(&["admin"]));
    let scp = fresh(json!({"iss": AS, "scp": ["a", "b"]}));
    assert_eq!(run(scp, &plain()).unwrap().scopes, vec!["a", "b"]);
    let both = fresh(json!({"iss": AS, "scope": "a", "scp": ["b"]}));
    assert_eq!(run(both, &plain()).unwrap().scopes, vec!["a"]);
    let none = fresh(json!({"iss": AS}));
    assert!(run(none, &plain()).unwrap().scopes.is_empty());
    let bad = fresh(json!({"iss": AS, "scp": [1]}));
    assert_eq!(run(bad, &plain()), Err(JwtError::InvalidClaim("scp")));
}

#[test]
fn issuer_and_expiry_are_required() {
    assert_eq!(
        run(fresh(json!({"iss": "https://evil"})), &plain()),
        Err(JwtError::WrongIssuer)
    );
    assert_eq!(
        run(fresh(json!({})), &plain()),
        Err(JwtError::MissingClaim("iss"))
    );
    assert_eq!(
        run(json!({"iss": AS}), &plain()),
        Err(JwtError::MissingClaim("exp"))
    );
    assert_eq!(
        run(json!({"iss": AS, "exp": NOW - 120}), &plain()),
        Err(JwtError::Expired)
    );
}

#[test]
fn audience_when_configured() {
    let p = AccessTokenPolicy::new(AS, Some("dcr".into()));
    assert!(run(fresh(json!({"iss": AS, "aud": ["x", "dcr"]})), &p).is_ok());
    assert_eq!(
        run(fresh(json!({"iss": AS, "aud": "x"})), &p),
        Err(JwtError::WrongAudience)
    );
    assert_eq!(
        run(fresh(json!({"iss": AS})), &p),
        Err(JwtError::MissingClaim("aud"))
    );
    assert!(run(fresh(json!({"iss": AS, "aud": "x"})), &plain()).is_ok());
}

#[test]
fn hostile_access_tokens_are_refused() {
    let keys = set(&[rs256()]);
    let claims = fresh(json!({"iss": AS}));
    let hs = rs256().hs256_with_public_key(&claims);
    assert_eq!(
        verify_access_token(&hs, &keys, &plain(), NOW),
        Err(JwtError::AlgorithmNotAllowed)
    );
    let none = crate::testing::unsigned_token(&claims);
    assert_eq!(
        verify_access_token(&none, &keys, &plain(), NOW),
        Err(JwtError::AlgorithmNotAllowed)
    );
    let other = stranger().sign(&claims, hdr(json!({"typ": "at+jwt"})));
    assert_eq!(
        verify_access_token(&other, &keys, &plain(), NOW),
        Err(JwtError::UnknownKey)
    );
}

#[test]
fn typ_must_be_at_jwt() {
    let claims = fresh(json!({"iss": AS, "client_id": "c", "scope": "dcr"}));
    let keys = set(&[rs256()]);
    for ok in [
        "at+jwt",
        "AT+JWT",
        "application/at+jwt",
        "Application/AT+JWT",
    ] {
        let token = typed(&claims, Some(ok));
        assert!(
            verify_access_token(&token, &keys, &plain(), NOW).is_ok(),
            "{ok}"
        );
    }
    // An ID token of the same issuer (typ JWT or none), and other JWT types.
    for bad in [
        Some("JWT"),
        Some("jwt"),
        None,
        Some("secevent+jwt"),
        Some("at+jwt2"),
        Some(""),
    ] {
        let token = typed(&claims, bad);
        assert_eq!(
            verify_access_token(&token, &keys, &plain(), NOW),
            Err(JwtError::WrongType),
            "{bad:?}"
        );
    }
}

#[test]
fn plain_jwt_only_when_allowed() {
    let claims = fresh(json!({"iss": AS}));
    let keys = set(&[rs256()]);
    let mut p = plain();
    p.allow_plain_jwt = true;
    for ok in [
        Some("at+jwt"),
        Some("application/AT+JWT"),
        Some("JWT"),
        Some("application/jwt"),
        None,
    ] {
        let token = typed(&claims, ok);
        assert!(
            verify_access_token(&token, &keys, &p, NOW).is_ok(),
            "{ok:?}"
        );
    }
    for bad in [Some("secevent+jwt"), Some("logout+jwt"), Some("dpop+jwt")] {
        let token = typed(&claims, bad);
        assert_eq!(
            verify_access_token(&token, &keys, &p, NOW),
            Err(JwtError::WrongType),
            "{bad:?}"
        );
    }
    // The type is judged only after the signature.
    let forged = stranger().sign(&claims, hdr(json!({"typ": "secevent+jwt"})));
    assert_eq!(
        verify_access_token(&forged, &keys, &p, NOW),
        Err(JwtError::UnknownKey)
    );
}
