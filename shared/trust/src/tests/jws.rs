//! `verify`: signatures, algorithms, headers, key selection, times.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use super::fixtures::*;
use crate::testing::{TestKey, jwks, unsigned_token};
use crate::{ALL_ALGS, Alg, JwtError, KeySet, Policy, peek_claims, peek_header, verify};

fn all() -> Policy {
    Policy::new(ALL_ALGS)
}

fn check(token: &str, keys: &KeySet, policy: &Policy) -> Result<(), JwtError> {
    verify(token, keys, policy, NOW).map(|_| ())
}

#[test]
fn each_key_type_verifies() {
    let keys = set(&[rs256(), ps256(), es256(), es384()]);
    for key in [rs256(), ps256(), es256(), es384()] {
        let token = key.sign(&fresh(json!({"sub": "x"})), None);
        let v = verify(&token, &keys, &all(), NOW).unwrap();
        assert_eq!(v.alg, key.alg);
        assert_eq!(v.kid.as_deref(), Some(key.kid.as_str()));
        assert_eq!(v.typ.as_deref(), Some("JWT"));
        assert_eq!(v.claims["sub"], "x");
    }
}

#[test]
fn tampered_payload_is_a_bad_signature() {
    let keys = set(&[ps256()]);
    let token = ps256().sign(&fresh(json!({"sub": "alice"})), None);
    let forged =
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&fresh(json!({"sub": "mallory"}))).unwrap());
    let parts: Vec<&str> = token.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], forged, parts[2]);
    assert_eq!(check(&token, &keys, &all()), Ok(()));
    assert_eq!(check(&tampered, &keys, &all()), Err(JwtError::BadSignature));
}

#[test]
fn signature_by_another_key_with_our_kid_fails() {
    let keys = set(&[ps256()]);
    let token = stranger().sign(&fresh(json!({})), hdr(json!({"kid": ps256().kid})));
    assert_eq!(check(&token, &keys, &all()), Err(JwtError::BadSignature));
}

#[test]
fn alg_none_is_refused() {
    let keys = set(&[rs256()]);
    let token = unsigned_token(&fresh(json!({})));
    assert_eq!(
        check(&token, &keys, &all()),
        Err(JwtError::AlgorithmNotAllowed)
    );
    // Even with a (garbage) signature appended.
    assert_eq!(
        check(&format!("{token}AAAA"), &keys, &all()),
        Err(JwtError::AlgorithmNotAllowed)
    );
}

#[test]
fn hs256_with_the_public_key_is_refused() {
    for key in [rs256(), es256()] {
        let keys = set(&[key]);
        let token = key.hs256_with_public_key(&fresh(json!({})));
        assert_eq!(
            check(&token, &keys, &all()),
            Err(JwtError::AlgorithmNotAllowed)
        );
    }
}

#[test]
fn alg_outside_the_allowlist_is_refused() {
    let keys = set(&[rs256(), ps256()]);
    let fapi = Policy::new(&[Alg::PS256, Alg::ES256]);
    let rs = rs256().sign(&fresh(json!({})), None);
    assert_eq!(check(&rs, &keys, &fapi), Err(JwtError::AlgorithmNotAllowed));
    let ps = ps256().sign(&fresh(json!({})), None);
    assert_eq!(check(&ps, &keys, &fapi), Ok(()));
}

#[test]
fn keys_in_the_header_are_refused() {
    let keys = set(&[ps256()]);
    let cases = [
        ("jwk", json!(ps256().public_jwk())),
        ("x5c", json!(["MIIB"])),
        ("x5u", json!("https://evil.example/cert.pem")),
        ("jku", json!("https://evil.example/jwks")),
    ];
    for (name, value) in cases {
        let token = ps256().sign(&fresh(json!({})), hdr(json!({ name: value })));
        assert_eq!(
            check(&token, &keys, &all()),
            Err(JwtError::KeyInHeader(name)),
            "{name}"
        );
    }
    // A thumbprint is only a hint, not a key: fine.
    let token = ps256().sign(&fresh(json!({})), hdr(json!({"x5t#S256": "abc"})));
    assert_eq!(check(&token, &keys, &all()), Ok(()));
}

#[test]
fn crit_is_refused() {
    let keys = set(&[ps256()]);
    for crit in [json!(["exp"]), json!([]), json!("b64")] {
        let token = ps256().sign(&fresh(json!({})), hdr(json!({"crit": crit, "exp": 1})));
        assert_eq!(
            check(&token, &keys, &all()),
            Err(JwtError::UnsupportedCritical)
        );
    }
}

#[test]
fn unknown_kid_asks_for_a_refresh() {
    let keys = set(&[ps256()]);
    let token = stranger().sign(&fresh(json!({})), None);
    let e = verify(&token, &keys, &all(), NOW).unwrap_err();
    assert_eq!(e, JwtError::UnknownKey);
    assert!(e.is_unknown_key());
    assert_eq!(
        peek_header(&token).unwrap().kid.as_deref(),
        Some(stranger().kid.as_str())
    );
    let empty = KeySet::default();
    assert_eq!(check(&token, &empty, &all()), Err(JwtError::UnknownKey));
}

#[test]
fn ec_key_never_verifies_rsa_algs() {
    // A token saying RS256 whose kid names an EC key.
    let keys = set(&[es256()]);
    let token = rs256().sign(&fresh(json!({})), hdr(json!({"kid": es256().kid})));
    assert_eq!(check(&token, &keys, &all()), Err(JwtError::NoUsableKey));
    // ES384 on a P-256 key.
    let token = es384().sign(&fresh(json!({})), hdr(json!({"kid": es256().kid})));
    assert_eq!(check(&token, &keys, &all()), Err(JwtError::NoUsableKey));
}

#[test]
fn jwk_alg_must_equal_the_token_alg() {
    // The JWK says RS256; a PS256 token from the same RSA key is refused.
    let keys = set(&[rs256()]);
    let token = rs256().sign(&fresh(json!({})), hdr(json!({"alg": "PS256"})));
    assert_eq!(check(&token, &keys, &all()), Err(JwtError::NoUsableKey));
    // Without `alg` in the JWK, the same token verifies: the allowlist decides.
    let mut jwk = rs256().public_jwk();
    jwk.as_object_mut().unwrap().remove("alg");
    let open = KeySet::from_value(&json!({"keys": [jwk]})).unwrap();
    assert_eq!(check(&token, &open, &all()), Ok(()));
    assert_eq!(
        check(&token, &open, &Policy::new(&[Alg::RS256])),
        Err(JwtError::AlgorithmNotAllowed)
    );
}

#[test]
fn lying_alg_header_fails_the_signature() {
    // Header says RS384, signed RS256 by a key whose JWK has no alg.
    let mut jwk = rs256().public_jwk();
    jwk.as_object_mut().unwrap().remove("alg");
    let keys = KeySet::from_value(&json!({"keys": [jwk]})).unwrap();
    let good = rs256().sign(&fresh(json!({})), None);
    let parts: Vec<&str> = good.split('.').collect();
    let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"RS384","kid":"{}"}}"#, rs256().kid));
    let lying = format!("{header}.{}.{}", parts[1], parts[2]);
    assert_eq!(check(&lying, &keys, &all()), Err(JwtError::BadSignature));
}

#[test]
fn token_without_kid_tries_each_compatible_key() {
    let keys = set(&[es256(), rs256(), ps256()]);
    let token = ps256().sign(&fresh(json!({})), hdr(json!({"kid": null})));
    assert_eq!(check(&token, &keys, &all()), Ok(()));
    let token = stranger().sign(&fresh(json!({})), hdr(json!({"kid": null})));
    assert_eq!(check(&token, &keys, &all()), Err(JwtError::BadSignature));
    let only_ec = set(&[es256()]);
    assert_eq!(check(&token, &only_ec, &all()), Err(JwtError::NoUsableKey));
}

#[test]
fn key_without_kid_serves_only_tokens_without_kid() {
    let mut jwk = es256().public_jwk();
    jwk.as_object_mut().unwrap().remove("kid");
    let keys = KeySet::from_value(&json!({"keys": [jwk]})).unwrap();
    let no_kid = es256().sign(&fresh(json!({})), hdr(json!({"kid": null})));
    assert_eq!(check(&no_kid, &keys, &all()), Ok(()));
    let with_kid = es256().sign(&fresh(json!({})), None);
    assert_eq!(check(&with_kid, &keys, &all()), Err(JwtError::UnknownKey));
}

#[test]
fn times_are_checked_after_the_signature() {
    let keys = set(&[es256()]);
    let cases = [
        (json!({"exp": NOW - 61}), Err(JwtError::Expired)),
        (json!({"exp": NOW - 30}), Ok(())),
        (json!({"nbf": NOW + 120}), Err(JwtError::NotYetValid)),
        (json!({"iat": NOW + 120}), Err(JwtError::IssuedInFuture)),
        (json!({"iat": NOW + 30, "nbf": NOW + 30}), Ok(())),
    ];
    for (claims, expected) in cases {
        let token = es256().sign(&claims, None);
        assert_eq!(check(&token, &keys, &all()), expected, "{claims}");
    }
    // An expired token with a bad signature is reported as a bad signature.
    let other = TestKey::es256().with_kid(es256().kid.clone());
    let token = other.sign(&json!({"exp": NOW - 1000}), None);
    assert_eq!(check(&token, &keys, &all()), Err(JwtError::BadSignature));
}

#[test]
fn size_and_shape_limits() {
    let keys = set(&[es256()]);
    let big = es256().sign(&fresh(json!({"pad": "x".repeat(20_000)})), None);
    assert_eq!(check(&big, &keys, &all()), Err(JwtError::TooLong));
    let roomy = Policy {
        max_bytes: 64 * 1024,
        ..all()
    };
    assert_eq!(check(&big, &keys, &roomy), Ok(()));
    for bad in [
        "",
        "a.b",
        "a.b.c.d",
        "e30.e30.",
        "e30.e30.AAAA",
        "!!.e30.AAAA",
    ] {
        assert!(
            matches!(
                check(bad, &keys, &all()),
                Err(JwtError::Malformed(_)) | Err(JwtError::AlgorithmNotAllowed)
            ),
            "{bad}"
        );
    }
    let jwe = "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d";
    assert_eq!(
        check(jwe, &keys, &all()),
        Err(JwtError::Malformed(
            "encrypted JWTs (JWE) are not supported"
        ))
    );
}

#[test]
fn typ_is_checked_when_asked() {
    let keys = set(&[es256()]);
    let policy = Policy {
        typ: Some(vec!["at+jwt".into()]),
        ..all()
    };
    let plain = es256().sign(&fresh(json!({})), None);
    assert_eq!(check(&plain, &keys, &policy), Err(JwtError::WrongType));
    let at = es256().sign(&fresh(json!({})), hdr(json!({"typ": "application/at+jwt"})));
    assert_eq!(check(&at, &keys, &policy), Ok(()));
}

#[test]
fn errors_never_echo_the_token() {
    let keys = set(&[es256()]);
    let token = TestKey::es256().sign(&fresh(json!({"secret": "s3cr3t"})), None);
    let e = verify(&token, &keys, &all(), NOW).unwrap_err();
    assert!(!e.to_string().contains("s3cr3t"));
    assert!(!e.to_string().contains(&token[..20]));
}

#[test]
fn peek_reads_without_trusting() {
    let token = stranger().sign(&json!({"iss": "x", "software_statement": "a.b.c"}), None);
    let claims = peek_claims(&token).unwrap();
    assert_eq!(claims["iss"], "x");
    assert!(peek_claims("nope").is_err());
    assert_eq!(jwks(&[]), json!({"keys": []}));
}
