//! KeySet parsing: tolerant of unusable keys, strict about the document.

use serde_json::{Value, json};

use super::fixtures::*;
use crate::{KeyError, KeySet};

fn with(keys: Vec<Value>) -> Result<KeySet, KeyError> {
    KeySet::from_value(&json!({ "keys": keys }))
}

fn jwk_of(k: &crate::testing::TestKey) -> Value {
    k.public_jwk()
}

#[test]
fn rsa_and_ec_keys_are_kept() {
    let set = set(&[rs256(), ps256(), es256(), es384()]);
    assert_eq!(set.len(), 4);
    assert_eq!(set.skipped(), 0);
    assert!(set.has_kid(&rs256().kid));
    assert!(set.has_kid(&es384().kid));
    assert!(!set.has_kid("nope"));
}

#[test]
fn from_json_reads_bytes() {
    let bytes = serde_json::to_vec(&crate::testing::jwks(&[es256()])).unwrap();
    assert_eq!(KeySet::from_json(&bytes).unwrap().len(), 1);
    assert!(matches!(
        KeySet::from_json(b"not json"),
        Err(KeyError::Invalid(_))
    ));
}

#[test]
fn unusable_keys_are_skipped_not_fatal() {
    let mut enc = jwk_of(rs256());
    enc["use"] = json!("enc");
    let mut no_verify = jwk_of(rs256());
    no_verify["key_ops"] = json!(["encrypt"]);
    let mut hmac_alg = jwk_of(rs256());
    hmac_alg["alg"] = json!("HS256");
    let mut oaep = jwk_of(rs256());
    oaep["alg"] = json!("RSA-OAEP");
    let mut wrong_family = jwk_of(rs256());
    wrong_family["alg"] = json!("ES256");
    let mut p521 = jwk_of(es256());
    p521["crv"] = json!("P-521");
    let mut short_x = jwk_of(es256());
    short_x["x"] = json!("AAAA");
    let keys = vec![
        json!({"kty": "oct", "kid": "s", "k": "c2VjcmV0"}),
        json!({"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}),
        json!({"kty": "RSA", "kid": "small", "n": "AQAB", "e": "AQAB"}),
        json!("not an object"),
        enc,
        no_verify,
        hmac_alg,
        oaep,
        wrong_family,
        p521,
        short_x,
        jwk_of(es256()),
    ];
    let set = with(keys).unwrap();
    assert_eq!(set.len(), 1);
    assert_eq!(set.skipped(), 11);
    assert!(set.has_kid(&es256().kid));
    assert!(!set.has_kid("s"));
}

#[test]
fn key_without_kid_is_kept() {
    let mut anonymous = jwk_of(ps256());
    anonymous.as_object_mut().unwrap().remove("kid");
    let set = with(vec![anonymous]).unwrap();
    assert_eq!(set.len(), 1);
    assert!(!set.has_kid(&ps256().kid));
}

#[test]
fn padded_base64_is_tolerated() {
    let mut padded = jwk_of(es256());
    let x = padded["x"].as_str().unwrap().to_owned() + "=";
    padded["x"] = json!(x);
    assert_eq!(with(vec![padded]).unwrap().len(), 1);
}

#[test]
fn bad_documents_are_refused() {
    for doc in [
        json!([]),
        json!({"keys": {}}),
        json!({"jwks": []}),
        json!({"keys": []}),
        json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}),
    ] {
        assert!(
            matches!(KeySet::from_value(&doc), Err(KeyError::Invalid(_))),
            "{doc}"
        );
    }
}

#[test]
fn more_than_100_keys_are_refused() {
    let one = jwk_of(es256());
    assert!(with(vec![one.clone(); 100]).is_ok());
    let e = with(vec![one; 101]).unwrap_err();
    assert!(matches!(e, KeyError::Invalid(m) if m.contains("100")));
}

#[test]
fn key_sets_can_be_shared_across_tasks() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<KeySet>();
    shareable::<std::sync::Arc<KeySet>>();
}
