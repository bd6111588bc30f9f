//! Compact JWS verification (RFC 7515 / RFC 7519) against a [`KeySet`].
//!
//! The order of checks: size, shape (three base64url parts, JSON object
//! header), key-carrying header parameters (`jwk`, `x5c`, `x5u`, `jku`:
//! refused, the key must come from the trusted set), `crit`, `alg` against the
//! use's allowlist (never `none` or HMAC: see [`Alg`]), `typ` if the use
//! names one, key selection by `kid`, signature, then the claims (see
//! [`crate::claims`]). Nothing about the claims is judged before the
//! signature verifies. No clock is read: `now` is an argument.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::alg::Alg;
use crate::claims::check_claims;
use crate::error::JwtError;
use crate::keys::KeySet;
use crate::policy::{MAX_REQUEST_BYTES, Policy};

/// Header parameters that carry a key or point at one: always refused.
pub const KEY_HEADERS: &[&str] = &["jwk", "x5c", "x5u", "jku"];
/// `crit` extensions this verifier implements (none: any `crit` is refused).
const UNDERSTOOD_CRIT: &[&str] = &[];

/// The unverified header fields a caller may need before verifying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// `alg` as written (may be anything, `none` included).
    pub alg: String,
    /// `kid`, if any.
    pub kid: Option<String>,
    /// `typ`, if any.
    pub typ: Option<String>,
}

/// A token whose signature and claims passed the policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// The algorithm that verified.
    pub alg: Alg,
    /// The header's `kid`, if any.
    pub kid: Option<String>,
    /// The header's `typ`, if any.
    pub typ: Option<String>,
    /// The payload.
    pub claims: Map<String, Value>,
}

/// Verifies a compact JWS with `keys` under `policy` at time `now` (Unix seconds).
pub fn verify(token: &str, keys: &KeySet, policy: &Policy, now: i64) -> Result<Verified, JwtError> {
    let parts = Parts::split(token, policy.max_bytes)?;
    let header = parts.header()?;
    let alg = check_header(&header, policy)?;
    let kid = string_member(&header, "kid")?;
    check_signature(&parts, keys, alg, kid.as_deref())?;
    let claims = decode_object(parts.payload, "the payload is not a JSON object")?;
    check_claims(&claims, policy, now)?;
    Ok(Verified {
        alg,
        kid,
        typ: string_member(&header, "typ")?,
        claims,
    })
}

/// Reads the header WITHOUT verifying anything (e.g. to decide on a key refresh).
pub fn peek_header(token: &str) -> Result<Header, JwtError> {
    let header = Parts::split(token, MAX_REQUEST_BYTES)?.header()?;
    Ok(Header {
        alg: string_member(&header, "alg")?.ok_or(JwtError::Malformed("the header lacks `alg`"))?,
        kid: string_member(&header, "kid")?,
        typ: string_member(&header, "typ")?,
    })
}

/// Reads the claims WITHOUT verifying anything: only to find what to verify
/// with (a request object's `software_statement`, `iss`). Never trust the result.
pub fn peek_claims(token: &str) -> Result<Map<String, Value>, JwtError> {
    let parts = Parts::split(token, MAX_REQUEST_BYTES)?;
    parts.header()?;
    decode_object(parts.payload, "the payload is not a JSON object")
}

/// The three parts of a compact JWS, still encoded.
struct Parts<'a> {
    header: &'a str,
    payload: &'a str,
    signature: &'a str,
    signing_input: &'a str,
}

impl<'a> Parts<'a> {
    fn split(token: &'a str, max_bytes: usize) -> Result<Parts<'a>, JwtError> {
        if token.len() > max_bytes {
            return Err(JwtError::TooLong);
        }
        let dots = token.bytes().filter(|b| *b == b'.').count();
        if dots == 4 {
            return Err(JwtError::Malformed(
                "encrypted JWTs (JWE) are not supported",
            ));
        }
        if dots != 2 {
            return Err(JwtError::Malformed("expected three dot-separated parts"));
        }
        if !token
            .bytes()
            .all(|b| b == b'.' || b == b'-' || b == b'_' || b.is_ascii_alphanumeric())
        {
            return Err(JwtError::Malformed("the parts are not base64url"));
        }
        let (signing_input, signature) = token
            .rsplit_once('.')
            .ok_or(JwtError::Malformed("expected three dot-separated parts"))?;
        let (header, payload) = signing_input
            .split_once('.')
            .ok_or(JwtError::Malformed("expected three dot-separated parts"))?;
        Ok(Parts {
            header,
            payload,
            signature,
            signing_input,
        })
    }

    fn header(&self) -> Result<Map<String, Value>, JwtError> {
        decode_object(self.header, "the header is not a JSON object")
    }
}

fn decode_object(part: &str, what: &'static str) -> Result<Map<String, Value>, JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Malformed("the parts are not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed(what))
}

fn string_member(map: &Map<String, Value>, name: &'static str) -> Result<Option<String>, JwtError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(JwtError::Malformed(match name {
            "alg" => "the header's `alg` is not a string",
            "kid" => "the header's `kid` is not a string",
            _ => "the header's `typ` is not a string",
        })),
    }
}

/// Header rules; returns the (allowed) algorithm.
fn check_header(header: &Map<String, Value>, policy: &Policy) -> Result<Alg, JwtError> {
    if let Some(name) = KEY_HEADERS.iter().find(|k| header.contains_key(**k)) {
        return Err(JwtError::KeyInHeader(name));
    }
    if header.contains_key("enc") {
        return Err(JwtError::Malformed(
            "encrypted JWTs (JWE) are not supported",
        ));
    }
    if let Some(crit) = header.get("crit") {
        let names = crit.as_array().ok_or(JwtError::UnsupportedCritical)?;
        let understood = names
            .iter()
            .all(|n| n.as_str().is_some_and(|n| UNDERSTOOD_CRIT.contains(&n)));
        if names.is_empty() || !understood {
            return Err(JwtError::UnsupportedCritical);
        }
    }
    let name =
        string_member(header, "alg")?.ok_or(JwtError::Malformed("the header lacks `alg`"))?;
    let alg = Alg::parse(&name)
        .filter(|a| policy.algs.contains(a))
        .ok_or(JwtError::AlgorithmNotAllowed)?;
    if let Some(accepted) = &policy.typ {
        let typ = string_member(header, "typ")?.ok_or(JwtError::WrongType)?;
        if !accepted.iter().any(|t| same_media_type(t, &typ)) {
            return Err(JwtError::WrongType);
        }
    }
    Ok(alg)
}

/// RFC 7515 §4.1.9: `typ` compares case-insensitively, `application/` may be omitted.
pub(crate) fn same_media_type(a: &str, b: &str) -> bool {
    fn bare(t: &str) -> String {
        let t = t.to_ascii_lowercase();
        t.strip_prefix("application/")
            .map(str::to_owned)
            .unwrap_or(t)
    }
    bare(a) == bare(b)
}

fn check_signature(
    parts: &Parts<'_>,
    keys: &KeySet,
    alg: Alg,
    kid: Option<&str>,
) -> Result<(), JwtError> {
    match URL_SAFE_NO_PAD.decode(parts.signature) {
        Ok(sig) if !sig.is_empty() => {}
        _ => {
            return Err(JwtError::Malformed(
                "the signature is missing or not base64url",
            ));
        }
    }
    let mut named = keys.named(kid).peekable();
    if kid.is_some() && named.peek().is_none() {
        return Err(JwtError::UnknownKey);
    }
    let mut tried = false;
    for key in named.filter(|k| k.fits(alg)) {
        tried = true;
        let ok = jsonwebtoken::crypto::verify(
            parts.signature,
            parts.signing_input.as_bytes(),
            &key.key,
            alg.jwt(),
        );
        if ok == Ok(true) {
            return Ok(());
        }
    }
    Err(if tried {
        JwtError::BadSignature
    } else {
        JwtError::NoUsableKey
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_compare_loosely() {
        assert!(same_media_type("at+jwt", "application/AT+JWT"));
        assert!(!same_media_type("at+jwt", "JWT"));
    }

    #[test]
    fn split_refuses_bad_shapes() {
        assert_eq!(
            Parts::split("a.b", 100).err(),
            Some(JwtError::Malformed("expected three dot-separated parts"))
        );
        assert_eq!(
            Parts::split("a.b.c.d.e", 100).err(),
            Some(JwtError::Malformed(
                "encrypted JWTs (JWE) are not supported"
            ))
        );
        assert_eq!(
            Parts::split("a.b c.d", 100).err(),
            Some(JwtError::Malformed("the parts are not base64url"))
        );
        assert_eq!(Parts::split("a.b.c", 4).err(), Some(JwtError::TooLong));
    }
}
