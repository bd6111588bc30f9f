//! `jwks`: a public JWK Set (RFC 7517 §5) given by value.
//!
//! Decisions: `keys` must be a non-empty array of at most [`MAX_JWKS_KEYS`]
//! objects; `kty` must be `RSA`, `EC` or `OKP` and carry its public members;
//! symmetric (`oct`) keys and any private member are refused, since a
//! registration must never hand the server a client's private key. Values
//! of key members are never echoed.
//!
//! Every key must be a real public key, whatever the profile (RFC 7518 §6,
//! RFC 8037 §2): its members decode as base64url (trailing `=` tolerated);
//!
//! | `kty` | rule |
//! |---|---|
//! | `RSA` | `n` without leading zero octets (RFC 7518 §6.3.1.1), [`MIN_RSA_BITS`]..=[`MAX_RSA_BITS`] bits, odd; `e` odd, 3 or more, at most 8 octets, no leading zero octet |
//! | `EC` | `crv` a named curve (`P-256`, `P-384`, `P-521`, `secp256k1`); `x` and `y` each exactly the curve's coordinate length (RFC 7518 §6.2.1.2) |
//! | `OKP` | `crv` `Ed25519` / `X25519` (`x` 32 octets), `Ed448` (57), `X448` (56) |
//!
//! No arithmetic beyond that (no point-on-curve check): this crate holds no
//! cryptography. The keys the server itself uses are parsed again, with a
//! crypto library, where they are used (`shared/trust`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::error::{MetadataError, shown};
use crate::limits::MAX_JWKS_KEYS;
use crate::vocab::Kind;

/// Members that only private (or symmetric) keys carry.
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Accepted key types and the public members each must carry (RFC 7518 §6, RFC 8037).
const KEY_TYPES: &[(&str, &[&str])] = &[
    ("RSA", &["n", "e"]),
    ("EC", &["crv", "x", "y"]),
    ("OKP", &["crv", "x"]),
];

/// Smallest RSA modulus accepted, in bits (NIST SP 800-57: 112-bit security).
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits (as the verifier in `shared/trust`).
pub const MAX_RSA_BITS: usize = 8192;
/// Most octets of an RSA public exponent.
const MAX_EXPONENT_BYTES: usize = 8;

/// Named curves of `EC` keys and their coordinate length in octets (RFC 7518 §6.2.1.1, RFC 8812).
const EC_CURVES: &[(&str, usize)] = &[
    ("P-256", 32),
    ("P-384", 48),
    ("P-521", 66),
    ("secp256k1", 32),
];

/// Curves of `OKP` keys and the length of `x` in octets (RFC 8037 §2).
const OKP_CURVES: &[(&str, usize)] =
    &[("Ed25519", 32), ("Ed448", 57), ("X25519", 32), ("X448", 56)];

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
    match kty {
        "RSA" => check_rsa(key),
        "EC" => check_curve_point(key, "EC", EC_CURVES, &["x", "y"]),
        _ => check_curve_point(key, "OKP", OKP_CURVES, &["x"]),
    }
}

/// A member's octets; only called for members already known to be strings.
fn octets(key: &Map<String, Value>, member: &str) -> Result<Vec<u8>, String> {
    let text = key.get(member).and_then(Value::as_str).unwrap_or_default();
    match URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')) {
        Ok(bytes) if !bytes.is_empty() => Ok(bytes),
        Ok(_) => Err(format!("{member:?} must not be empty")),
        Err(_) => Err(format!("{member:?} is not base64url")),
    }
}

/// The RSA row of the module doc.
fn check_rsa(key: &Map<String, Value>) -> Result<(), String> {
    let n = octets(key, "n")?;
    let e = octets(key, "e")?;
    if n[0] == 0 || e[0] == 0 {
        return Err("\"n\" and \"e\" must not start with a zero octet (RFC 7518 §6.3.1.1)".into());
    }
    let bits = n.len() * 8 - n[0].leading_zeros() as usize;
    if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
        return Err(format!(
            "RSA modulus of {bits} bits; {MIN_RSA_BITS} to {MAX_RSA_BITS} bits are accepted"
        ));
    }
    if n[n.len() - 1] & 1 == 0 {
        return Err("\"n\" is even, so it is not an RSA modulus".into());
    }
    let odd = e[e.len() - 1] & 1 == 1;
    let at_least_3 = e.len() > 1 || e[0] >= 3;
    if !(odd && at_least_3 && e.len() <= MAX_EXPONENT_BYTES) {
        return Err(format!(
            "\"e\" must be an odd exponent of 3 or more, at most {MAX_EXPONENT_BYTES} octets (65537 is usual)"
        ));
    }
    Ok(())
}

/// The EC and OKP rows of the module doc: a known curve, coordinates of its length.
fn check_curve_point(
    key: &Map<String, Value>,
    kty: &str,
    curves: &[(&str, usize)],
    coordinates: &[&str],
) -> Result<(), String> {
    let crv = key.get("crv").and_then(Value::as_str).unwrap_or_default();
    let Some((_, len)) = curves.iter().find(|(name, _)| *name == crv) else {
        let names: Vec<&str> = curves.iter().map(|(name, _)| *name).collect();
        return Err(format!(
            "kty {kty} with crv {}: one of {} is accepted",
            shown(crv),
            names.join(", ")
        ));
    };
    for member in coordinates {
        let got = octets(key, member)?.len();
        if got != *len {
            return Err(format!(
                "{member:?} of a {crv} key must be {len} octets, not {got}"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::error::ErrorCode;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A modulus-shaped value of `bits` bits: top bit set, odd, filler between.
    fn modulus(bits: usize) -> Vec<u8> {
        let mut n = vec![0x5au8; bits.div_ceil(8)];
        n[0] = 1 << ((bits - 1) % 8);
        let last = n.len() - 1;
        n[last] |= 1;
        n
    }

    fn rsa() -> Value {
        json!({"kty": "RSA", "kid": "k1", "use": "sig", "n": b64(&modulus(2048)), "e": "AQAB"})
    }

    fn rsa_with(n: &[u8], e: &[u8]) -> Value {
        json!({"keys": [{"kty": "RSA", "n": b64(n), "e": b64(e)}]})
    }

    fn refused(set: Value) -> String {
        match check(&set, "jwks") {
            Ok(()) => panic!("accepted {set}"),
            Err(e) => {
                assert_eq!(e.code, ErrorCode::InvalidClientMetadata);
                e.description
            }
        }
    }

    #[test]
    fn rsa_keys_must_be_real() {
        for bits in [MIN_RSA_BITS, 3072, 4096, MAX_RSA_BITS] {
            assert!(
                check(&rsa_with(&modulus(bits), &[1, 0, 1]), "jwks").is_ok(),
                "{bits}"
            );
        }
        assert!(check(&rsa_with(&modulus(2048), &[3]), "jwks").is_ok());
        // The attack run's keys: a 3-octet modulus, a member that is not base64url.
        let d = refused(rsa_with(&[0xc3, 0x5a, 0x01], &[1, 0, 1]));
        assert!(d.contains("RSA modulus of 24 bits"), "{d}");
        let d = refused(json!({"keys": [{"kty": "RSA", "n": "!!!", "e": "AQAB"}]}));
        assert!(d.contains("\"n\" is not base64url"), "{d}");
        assert!(!d.contains("!!!"), "never echoes key material: {d}");
        for (n, e, why) in [
            (
                modulus(MIN_RSA_BITS - 1),
                vec![1, 0, 1],
                "RSA modulus of 2047 bits",
            ),
            (
                modulus(MAX_RSA_BITS + 1),
                vec![1, 0, 1],
                "RSA modulus of 8193 bits",
            ),
            // A short modulus padded to 2048 bits with a leading zero octet.
            (
                [vec![0], modulus(2040)].concat(),
                vec![1, 0, 1],
                "zero octet",
            ),
            (modulus(2048), vec![0, 1, 0, 1], "zero octet"),
            (
                [modulus(2048)[..255].to_vec(), vec![0x5a]].concat(),
                vec![1, 0, 1],
                "even",
            ),
            (modulus(2048), vec![1], "odd exponent"),
            (modulus(2048), vec![1, 0, 0], "odd exponent"),
            (modulus(2048), vec![1; 9], "odd exponent"),
        ] {
            let d = refused(rsa_with(&n, &e));
            assert!(d.starts_with("jwks.keys[0]: "), "{d}");
            assert!(d.contains(why), "{why}: {d}");
        }
        let empty = refused(json!({"keys": [{"kty": "RSA", "n": "", "e": "AQAB"}]}));
        assert!(empty.contains("must not be empty"), "{empty}");
        let padded = json!({"keys": [{"kty": "RSA", "n": format!("{}==", b64(&modulus(2048))), "e": "AQAB"}]});
        assert!(check(&padded, "jwks").is_ok());
    }

    #[test]
    fn ec_keys_use_a_named_curve_and_full_coordinates() {
        for (crv, len) in EC_CURVES {
            let key = json!({"keys": [{"kty": "EC", "crv": crv, "x": b64(&vec![7; *len]), "y": b64(&vec![9; *len])}]});
            assert!(check(&key, "jwks").is_ok(), "{crv}");
        }
        for (key, why) in [
            (
                json!({"kty": "EC", "crv": "P-192", "x": b64(&[7; 24]), "y": b64(&[9; 24])}),
                "crv \"P-192\"",
            ),
            (
                json!({"kty": "EC", "crv": "P-256", "x": b64(&[7; 31]), "y": b64(&[9; 32])}),
                "\"x\" of a P-256 key must be 32 octets, not 31",
            ),
            (
                json!({"kty": "EC", "crv": "P-256", "x": b64(&[7; 32]), "y": b64(&[9; 48])}),
                "\"y\" of a P-256 key must be 32 octets, not 48",
            ),
            (
                json!({"kty": "EC", "crv": "P-256", "x": "a+b/", "y": b64(&[9; 32])}),
                "not base64url",
            ),
            (
                json!({"kty": "EC", "crv": 5, "x": b64(&[7; 32]), "y": b64(&[9; 32])}),
                "needs a string \"crv\"",
            ),
        ] {
            let d = refused(json!({"keys": [key]}));
            assert!(d.contains(why), "{why}: {d}");
        }
    }

    #[test]
    fn okp_keys_have_their_curve_size() {
        for (crv, len) in OKP_CURVES {
            let key = json!({"keys": [{"kty": "OKP", "crv": crv, "x": b64(&vec![3; *len])}]});
            assert!(check(&key, "jwks").is_ok(), "{crv}");
        }
        let d = refused(json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": b64(&[3; 31])}]}));
        assert!(d.contains("must be 32 octets, not 31"), "{d}");
        let d = refused(json!({"keys": [{"kty": "OKP", "crv": "Ed999", "x": b64(&[3; 32])}]}));
        assert!(d.contains("crv \"Ed999\""), "{d}");
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
