//! `jwks`: a public JWK Set (RFC 7517 §5) given by value.
//!
//! Decisions: `keys` must be a non-empty array of at most [`MAX_JWKS_KEYS`]
//! objects; `kty` must be `RSA`, `EC` or `OKP` and carry its public members;
//! symmetric (`oct`) keys and any private member are refused, since a
//! registration must never hand the server a client's private key. Values
//! of key members are never echoed.

use serde_json::{Map, Value};

use crate::error::{MetadataError, shown};
use crate::fields::Kind;
use crate::limits::MAX_JWKS_KEYS;

/// Members that only private (or symmetric) keys carry.
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Accepted key types and the public members each must carry (RFC 7518 §6, RFC 8037).
const KEY_TYPES: &[(&str, &[&str])] = &[
    ("RSA", &["n", "e"]),
    ("EC", &["crv", "x", "y"]),
    ("OKP", &["crv", "x"]),
];

/// Checks a `jwks` value; `path` names it in errors.
pub(crate) fn check(value: &Value, path: &str) -> Result<(), MetadataError> {
    let fail = |at: &str, message: &str| Kind::Jwks.fail(at, message);
    let set = value
        .as_object()
        .ok_or_else(|| fail(path, "must be a JWK Set object"))?;
    let keys_path = format!("{path}.keys");
    let keys = set
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| fail(&keys_path, "must be an array"))?;
    if keys.is_empty() {
        return Err(fail(&keys_path, "must not be empty"));
    }
    if keys.len() > MAX_JWKS_KEYS {
        return Err(Kind::Jwks.fail(
            &keys_path,
            format!("must have at most {MAX_JWKS_KEYS} keys"),
        ));
    }
    for (i, key) in keys.iter().enumerate() {
        let at = format!("{keys_path}[{i}]");
        let key = key
            .as_object()
            .ok_or_else(|| fail(&at, "must be a JWK object"))?;
        check_key(key).map_err(|m| Kind::Jwks.fail(&at, m))?;
    }
    Ok(())
}

fn check_key(key: &Map<String, Value>) -> Result<(), String> {
    let kty = key
        .get("kty")
        .and_then(Value::as_str)
        .ok_or("kty is required")?;
    if let Some(member) = PRIVATE_MEMBERS.iter().find(|m| key.contains_key(**m)) {
        return Err(format!(
            "private key member {member:?} not allowed; register public keys only"
        ));
    }
    let Some((_, required)) = KEY_TYPES.iter().find(|(name, _)| *name == kty) else {
        return Err(format!("unsupported kty {}", shown(kty)));
    };
    for member in *required {
        if !key.get(*member).is_some_and(Value::is_string) {
            return Err(format!("kty {kty} needs a string {member:?}"));
        }
    }
    for member in ["kid", "use", "alg"] {
        if key.get(member).is_some_and(|v| !v.is_string()) {
            return Err(format!("{member:?} must be a string"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::error::ErrorCode;

    fn rsa() -> Value {
        json!({"kty": "RSA", "kid": "k1", "use": "sig", "n": "0vx7agoebGcQSuu", "e": "AQAB"})
    }

    #[test]
    fn public_sets_accepted() {
        let set = json!({"keys": [rsa(),
            {"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]});
        assert!(check(&set, "jwks").is_ok());
    }

    #[test]
    fn private_members_refused_without_echo() {
        for member in PRIVATE_MEMBERS {
            let mut key = rsa();
            key[*member] = json!("SECRETVALUE");
            let e = check(&json!({"keys": [key]}), "jwks").unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidClientMetadata);
            assert!(
                e.description
                    .starts_with("jwks.keys[0]: private key member")
            );
            assert!(!e.description.contains("SECRETVALUE"));
        }
        let oct = json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]});
        assert!(check(&oct, "jwks").is_err());
    }

    #[test]
    fn malformed_sets_refused() {
        let too_many: Vec<Value> = (0..=MAX_JWKS_KEYS).map(|_| rsa()).collect();
        for (bad, at) in [
            (json!([rsa()]), "jwks:"),
            (json!({}), "jwks.keys:"),
            (json!({"keys": rsa()}), "jwks.keys:"),
            (json!({"keys": []}), "jwks.keys:"),
            (json!({"keys": [1]}), "jwks.keys[0]:"),
            (json!({"keys": [{"n": "x", "e": "AQAB"}]}), "jwks.keys[0]:"),
            (json!({"keys": [{"kty": "RSA", "n": "x"}]}), "jwks.keys[0]:"),
            (json!({"keys": [{"kty": "XYZ"}]}), "jwks.keys[0]:"),
            (
                json!({"keys": [rsa(), {"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "kid": 5}]}),
                "jwks.keys[1]:",
            ),
            (json!({"keys": too_many}), "jwks.keys:"),
        ] {
            let e = check(&bad, "jwks").unwrap_err();
            assert!(e.description.starts_with(at), "{bad}: {}", e.description);
        }
    }
}
