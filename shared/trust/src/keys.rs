//! JWK Sets (RFC 7517), parsed once per fetch into keys ready to verify.
//!
//! Parsing is tolerant of what real directories and clients publish: a key
//! this crate cannot use is skipped, not fatal. Skipped: `oct` (symmetric)
//! keys, unknown `kty`, EC curves other than P-256 / P-384, keys with
//! `use: enc` or `key_ops` without `verify`, keys whose `alg` is not an
//! asymmetric signature algorithm or does not fit the key, RSA moduli outside
//! 2048..=8192 bits, and malformed members. Private members (`d`, ...) are
//! ignored: only the public part is kept.
//!
//! Refused ([`KeyError::Invalid`]): a document that is not `{"keys": [...]}`,
//! more than [`MAX_KEYS`] keys, or no usable key left.
//!
//! Keys without `kid` are kept. They are only candidates for a token without
//! `kid` (which tries every compatible key); a token naming a `kid` is only
//! checked against keys with that exact `kid`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use serde_json::{Map, Value};

use crate::KeyError;
use crate::alg::{Alg, KeyKind};

/// Most keys a JWK Set may hold.
pub const MAX_KEYS: usize = 100;
/// Largest JWK Set document [`KeySet::from_json`] reads.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;
/// Longest accepted `kid`.
const MAX_KID_BYTES: usize = 256;

/// One public key, parsed and ready to verify.
#[derive(Debug, Clone)]
pub(crate) struct PublicKey {
    /// The key id, if published.
    pub kid: Option<String>,
    /// The JWK's own `alg`, if published: a token must then use exactly it.
    pub alg: Option<Alg>,
    /// RSA, P-256 or P-384.
    pub kind: KeyKind,
    /// The key in jsonwebtoken's form.
    pub key: DecodingKey,
}

impl PublicKey {
    /// Whether this key may verify a token signed with `alg`.
    pub fn fits(&self, alg: Alg) -> bool {
        self.kind == alg.key_kind() && self.alg.is_none_or(|a| a == alg)
    }
}

/// A parsed public JWK Set, ready to verify signatures.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<PublicKey>,
    skipped: usize,
}

impl KeySet {
    /// Parses a fetched JWK Set document (bytes as received).
    pub fn from_json(document: &[u8]) -> Result<KeySet, KeyError> {
        if document.len() > MAX_DOCUMENT_BYTES {
            return Err(KeyError::Invalid(
                "the JWK Set document is too large".into(),
            ));
        }
        let value: Value = serde_json::from_slice(document)
            .map_err(|_| KeyError::Invalid("the JWK Set document is not JSON".into()))?;
        KeySet::from_value(&value)
    }

    /// Parses a JWK Set already read as JSON (e.g. a statement's inline `jwks`).
    pub fn from_value(document: &Value) -> Result<KeySet, KeyError> {
        let keys = document
            .as_object()
            .and_then(|o| o.get("keys"))
            .and_then(Value::as_array)
            .ok_or_else(|| KeyError::Invalid("not a JWK Set: expected {\"keys\": [...]}".into()))?;
        if keys.len() > MAX_KEYS {
            return Err(KeyError::Invalid(format!(
                "the JWK Set has more than {MAX_KEYS} keys"
            )));
        }
        let parsed: Vec<PublicKey> = keys
            .iter()
            .filter_map(|k| k.as_object().and_then(parse_jwk))
            .collect();
        if parsed.is_empty() {
            return Err(KeyError::Invalid(
                "the JWK Set has no usable signature key (RSA, EC P-256 or P-384)".into(),
            ));
        }
        Ok(KeySet {
            skipped: keys.len() - parsed.len(),
            keys: parsed,
        })
    }

    /// Whether a key with this `kid` is in the set (if not, the caller may refresh once).
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// Number of usable keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set has no usable key (only the `Default` set).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Number of published keys that were skipped as unusable (for logs).
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// The keys with this `kid` (or every key, for a token without `kid`).
    pub(crate) fn named<'a>(
        &'a self,
        kid: Option<&'a str>,
    ) -> impl Iterator<Item = &'a PublicKey> + 'a {
        self.keys
            .iter()
            .filter(move |k| kid.is_none() || k.kid.as_deref() == kid)
    }
}

/// One JWK, or `None` if this crate cannot use it for verification.
fn parse_jwk(jwk: &Map<String, Value>) -> Option<PublicKey> {
    if jwk.get("use").is_some_and(|u| u.as_str() != Some("sig")) {
        return None;
    }
    if let Some(ops) = jwk.get("key_ops") {
        let ops = ops.as_array()?;
        if !ops.iter().any(|o| o.as_str() == Some("verify")) {
            return None;
        }
    }
    let kid = match jwk.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(k)) if !k.is_empty() && k.len() <= MAX_KID_BYTES => Some(k.clone()),
        Some(_) => return None,
    };
    let alg = match jwk.get("alg") {
        None | Some(Value::Null) => None,
        Some(a) => Some(Alg::parse(a.as_str()?)?),
    };
    let (kind, key) = match jwk.get("kty")?.as_str()? {
        "RSA" => (KeyKind::Rsa, rsa_key(jwk)?),
        "EC" => ec_key(jwk)?,
        _ => return None,
    };
    if alg.is_some_and(|a| a.key_kind() != kind) {
        return None;
    }
    Some(PublicKey {
        kid,
        alg,
        kind,
        key,
    })
}

fn rsa_key(jwk: &Map<String, Value>) -> Option<DecodingKey> {
    let n = b64_member(jwk, "n")?;
    let e = b64_member(jwk, "e")?;
    let n_bits = significant_bits(&n);
    let e_bits = significant_bits(&e);
    if !(2048..=8192).contains(&n_bits) || !(2..=64).contains(&e_bits) {
        return None;
    }
    Some(DecodingKey::from_rsa_raw_components(&n, &e))
}

fn ec_key(jwk: &Map<String, Value>) -> Option<(KeyKind, DecodingKey)> {
    let (kind, len) = match jwk.get("crv")?.as_str()? {
        "P-256" => (KeyKind::P256, 32),
        "P-384" => (KeyKind::P384, 48),
        _ => return None,
    };
    let x = b64_member(jwk, "x")?;
    let y = b64_member(jwk, "y")?;
    if x.len() != len || y.len() != len {
        return None;
    }
    let mut point = Vec::with_capacity(1 + 2 * len);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    Some((kind, DecodingKey::from_ec_der(&point)))
}

/// A base64url member, tolerating (stray) padding.
fn b64_member(jwk: &Map<String, Value>, name: &str) -> Option<Vec<u8>> {
    let text = jwk.get(name)?.as_str()?.trim_end_matches('=');
    URL_SAFE_NO_PAD.decode(text).ok().filter(|b| !b.is_empty())
}

/// Bits of a big-endian unsigned integer, leading zeros ignored.
fn significant_bits(bytes: &[u8]) -> usize {
    match bytes.iter().position(|b| *b != 0) {
        None => 0,
        Some(i) => (bytes.len() - i - 1) * 8 + (8 - bytes[i].leading_zeros() as usize),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn significant_bits_counts() {
        assert_eq!(significant_bits(&[0, 0]), 0);
        assert_eq!(significant_bits(&[1]), 1);
        assert_eq!(significant_bits(&[0, 0x80, 0]), 16);
        assert_eq!(significant_bits(&[1, 0, 1]), 17);
    }
}
